"""Third-party envs registered the way the README's "Bring your own env" section tells a user to do it.

Imported by id prefix (``tests.byo_envs:byo/Grid-v0``) in every command and subprocess of the tests:

- ``byo/Grid-v0``: MiniGrid's Empty-5x5 (``minigrid`` from PyPI) — 7×7 symbolic image, mission text of its own
  ``MissionSpace``, ``Discrete(7)`` actions (as 7 bins of one continuous value), partial observability; success
  only in the reward (``1 - 0.9 * steps / max_steps`` at the goal), hence ``success="reward>0"``. Its base env
  adds a scripted expert (``expert_action``) so the ``scripted`` baseline has something to drive.
- ``byo/GridNoRule-v0``: the same env with no success rule (``auto`` finds no info key): every episode "fails",
  which ``embodied eval`` / ``collect`` must say loudly.
- ``byo/GridHistory-v0``: ``byo/Grid-v0`` with the last 2 frames (cameras ``front`` and ``front-1``).
- ``byo/Reach-v0``: panda-gym's PandaReach-v3 (``panda-gym``, pybullet) — camera from ``render()``, 3-d
  end-effector deltas, success only in ``info["is_success"]`` (auto-detected), reward 0 on success.
"""

from __future__ import annotations

from typing import Any

import minigrid  # noqa: F401  (registers MiniGrid-*)
import numpy as np
import panda_gym  # noqa: F401  (registers Panda*)
from minigrid.envs.empty import EmptyEnv

from embodied.envs import register_adapted

FORWARD, LEFT, RIGHT = 2, 0, 1
_HEADING = {0: (1, 0), 1: (0, 1), 2: (-1, 0), 3: (0, -1)}  # MiniGrid's agent_dir → (dx, dy)


class ExpertEmptyEnv(EmptyEnv):
    """MiniGrid Empty with a scripted expert: turn towards the goal along x, then along y, and walk."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(size=5, agent_start_pos=None, **kwargs)  # random start pose: episodes differ

    def expert_action(self) -> int:
        goal = (self.width - 2, self.height - 2)
        x, y = self.agent_pos
        want = (int(np.sign(goal[0] - x)), 0) if goal[0] != x else (0, int(np.sign(goal[1] - y)))
        if _HEADING[self.agent_dir] == want:
            return FORWARD
        right = _HEADING[(self.agent_dir + 1) % 4]
        return RIGHT if right == want else LEFT


def grid_expert(obs: dict[str, Any], env: Any) -> np.ndarray:
    """The scripted expert as a collection policy (``embodied.data.collect``), in the adapted action space."""
    return np.asarray(env.get_wrapper_attr("expert_action")(), np.float32)


def reach_expert(obs: dict[str, Any], env: Any) -> np.ndarray:
    """PandaReach: move the end effector towards the goal (state = achieved_goal, desired_goal, observation)."""
    state = obs["state"]
    return np.clip(10.0 * (state[3:6] - state[0:3]), -1.0, 1.0).astype(np.float32)


register_adapted(
    "byo/Grid-v0", ExpertEmptyEnv, max_episode_steps=100, success="reward>0", discrete_mode="bins", image_size=32
)
register_adapted("byo/GridNoRule-v0", ExpertEmptyEnv, max_episode_steps=100, discrete_mode="bins", image_size=32)
register_adapted(
    "byo/GridHistory-v0", ExpertEmptyEnv, max_episode_steps=100, success="reward>0", discrete_mode="bins",
    image_size=32, history=2,
)  # fmt: skip
register_adapted(
    "byo/Reach-v0",
    "PandaReach-v3",
    base_kwargs={"render_width": 32, "render_height": 32},
    image_size=32,
    instruction="reach the green target",
)
