"""A catalogue of every registered ``embodied/`` env: task, control modes, observation keys, examples.

``describe_envs()`` backs ``embodied envs [--json]``. Descriptions come from ``TASK_SPECS`` (tabletop tasks)
or, for other ids, from the env class's ``metadata`` (``task``, ``description``, ``control_modes``). The
observation keys, cameras, state size, action space per control mode and the example instruction (and
question, for VQA) are read from real instances made with tiny images and reset with seed 0, so the catalogue
cannot drift from what the envs return. Ids added with ``register_adapted`` in this process are listed after
the ``embodied/`` ones, with their ``base`` env (``embodied envs --import mymodule`` imports the module that adds
them).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from embodied.envs.adapted import ADAPTED, adapted_ids
from embodied.envs.registration import TASK_SPECS

NAMESPACE = "embodied/"
CATALOG_IMAGE_SIZE = 8  # pixels; only the keys and shapes matter here, not the pictures


def embodied_ids() -> list[str]:
    """Every registered id in the ``embodied/`` namespace, sorted."""
    return sorted(env_id for env_id in gym.registry if env_id.startswith(NAMESPACE))


def _action_spaces(env_id: str, env: gym.Env[Any, Any]) -> dict[str, str]:
    """Control mode → action space; tabletop ids take the mode as their ``control=`` argument."""
    spec = TASK_SPECS.get(env_id)
    if spec is None:
        modes = env.unwrapped.metadata.get("control_modes", ("default",))
        return {str(mode): str(env.action_space) for mode in modes}
    spaces = {}
    for mode in spec.control_modes:
        other = gym.make(env_id, control=mode, image_size=CATALOG_IMAGE_SIZE)
        spaces[mode] = str(other.action_space)
        other.close()
    return spaces


def describe_env(env_id: str, seed: int = 0) -> dict[str, Any]:
    """One catalogue entry (plain JSON-serialisable values)."""
    env = gym.make(env_id, image_size=CATALOG_IMAGE_SIZE)
    try:
        obs, _ = env.reset(seed=seed)
        metadata = env.unwrapped.metadata
        spec = TASK_SPECS.get(env_id)
        entry: dict[str, Any] = {
            "id": env_id,
            "task": spec.task if spec else metadata.get("task", ""),
            "description": spec.description if spec else metadata.get("description", ""),
            "control_modes": list(spec.control_modes if spec else metadata.get("control_modes", ())),
            "observation_keys": sorted(obs),
            "cameras": sorted(obs.get("images", {})),
            "state_dim": int(obs["state"].shape[0]) if "state" in obs else 0,
            "action_spaces": _action_spaces(env_id, env),
            "instruction_example": str(obs.get("instruction", "")),
            "entry_point": str(gym.spec(env_id).entry_point),
        }
        if "question" in obs:
            entry["question_example"] = str(obs["question"])
        if env_id in ADAPTED:
            entry["base"] = ADAPTED[env_id].base
            entry["description"] = entry["description"] or ADAPTED[env_id].description or f"adapted {entry['base']}"
        return entry
    finally:
        env.close()


def describe_envs() -> list[dict[str, Any]]:
    """Catalogue entries for every registered ``embodied/`` id, then every adapted id, each group sorted."""
    listed = embodied_ids()
    return [describe_env(env_id) for env_id in listed + [k for k in adapted_ids() if k not in listed]]
