"""``register_adapted``, success rules and observation mapping of ``GymAdapter`` on awkward third-party spaces."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from embodied.envs import is_registered, register_adapted, resolve_env_id
from embodied.envs.adapted import ADAPTED, _split, make_adapted
from embodied.envs.wrappers.adapter import GymAdapter
from embodied.envs.wrappers.success import success_rule


class StringSpace(gym.Space[str]):
    """A custom space with string samples and no flattening (as MiniGrid's MissionSpace)."""

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        return "open the door"

    def contains(self, x: Any) -> bool:
        return isinstance(x, str)


class Toy(gym.Env[dict[str, Any], Any]):
    """Pays 0.5 at step 3 (terminating) and reports nothing in info: success only in the reward."""

    metadata = {"render_modes": []}  # noqa: RUF012

    def __init__(self, extra: dict[str, spaces.Space[Any]] | None = None, info: dict[str, Any] | None = None) -> None:
        entries = {"goal": StringSpace(), "pos": spaces.Box(-1, 1, (2,), np.float32), **(extra or {})}
        self.observation_space = spaces.Dict(entries)
        self.action_space = spaces.Discrete(3)
        self.info, self.t = info or {}, 0

    def _obs(self) -> dict[str, Any]:
        return {"goal": "open the door", "pos": np.zeros(2, np.float32)}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action: Any) -> Any:
        self.t += 1
        return self._obs(), 0.5 if self.t == 3 else 0.0, self.t == 3, False, dict(self.info)


def episode(env: gym.Env[Any, Any]) -> dict[str, Any]:
    env.reset(seed=0)
    while True:
        _, _, terminated, truncated, info = env.step(0)
        if terminated or truncated:
            return info


def test_custom_string_space_is_the_instruction() -> None:
    env = GymAdapter(Toy(), image_source="none")
    obs, _ = env.reset(seed=0)
    assert obs["instruction"] == "open the door" and obs["state"].shape == (2,)


@pytest.mark.parametrize(
    ("extra", "kwargs", "message"),
    [
        ({"note": spaces.Text(8)}, {}, "observation key 'goal' is text"),  # two texts: ambiguous
        ({"note": spaces.Text(8)}, {"instruction_key": "goal"}, "instruction_key='note' if it is the instruction"),
        ({"trail": spaces.Sequence(spaces.Discrete(2))}, {}, "ignore_keys=['trail']"),
        ({"pixels": spaces.Box(0, 255, (3, 64, 64), np.uint8)}, {}, "image_key='pixels'"),
        ({}, {"instruction_key": "pos"}, "instruction_key='pos' is Box"),
        ({}, {"ignore_keys": ["nope"]}, "ignore_keys ['nope'] are not observation keys"),
    ],
)
def test_unmappable_entries_are_refused_naming_key_and_option(
    extra: dict[str, spaces.Space[Any]], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(")):
        GymAdapter(Toy(extra), image_source="none", **kwargs)


def test_ignore_keys_drops_an_entry() -> None:
    env = GymAdapter(Toy({"trail": spaces.Sequence(spaces.Discrete(2))}), image_source="none", ignore_keys=["trail"])
    assert env.observation_space["state"].shape == (2,)


@pytest.mark.parametrize(
    ("success", "info", "expected", "rule"),
    [
        ("auto", {}, False, "none (auto: no is_success/success key in the step info)"),
        ("auto", {"is_success": np.array(True)}, True, "info:is_success"),
        ("reward>0", {}, True, "reward>0"),
        ("reward>=0.6", {}, False, "reward>=0.6"),
        (0.5, {}, True, "reward>=0.5"),
        (lambda r, term, info: term and r > 0.4, {}, True, None),
        ("info:done_ok", {"done_ok": 1}, True, "info:done_ok"),
        ("none", {"is_success": True}, False, "none"),
    ],
)
def test_success_rules(success: Any, info: dict[str, Any], expected: bool, rule: str | None) -> None:
    final = episode(GymAdapter(Toy(info=info), image_source="none", success=success))
    assert final["success"] is expected and final["episode_return"] == pytest.approx(0.5)
    assert final["success_rule"] == rule if rule else final["success_rule"].startswith("callable:")


def test_a_missing_info_key_is_an_error_naming_the_keys() -> None:
    with pytest.raises(ValueError, match=r"success='info:win': the final step's info has no 'win' \(keys: \[\]\)"):
        episode(GymAdapter(Toy(), image_source="none", success="info:win"))


@pytest.mark.parametrize("bad", ["rewards>1", "maybe", True, "no.such.module:fn"])
def test_bad_success_specs_name_the_value(bad: Any) -> None:
    with pytest.raises(ValueError, match="success="):
        success_rule(bad)


@pytest.fixture
def toy_id() -> Iterator[str]:
    """``test/Toy-v0``, unregistered afterwards (the catalogue lists every adapted id of the process)."""
    yield "test/Toy-v0"
    gym.registry.pop("test/Toy-v0", None)
    ADAPTED.pop("test/Toy-v0", None)


def test_register_adapted_routes_kwargs_and_refuses_unknown_options(toy_id: str) -> None:
    register_adapted(toy_id, Toy, max_episode_steps=10, image_source="none", success="reward>0")
    env = gym.make(toy_id, instruction="ignored: the goal text wins", cameras=["top"])
    assert env.get_wrapper_attr("camera") == "top" and episode(env)["success"] is True
    with pytest.raises(TypeError, match=r"unknown adapter option\(s\) \['imagesize'\]"):
        register_adapted("test/Bad-v0", Toy, imagesize=3)
    with pytest.raises(ValueError, match=r"one camera \(e.g. cameras=\[front\]\), or one with its previous frames"):
        make_adapted(Toy, adapter_kwargs={"image_source": "none"}, cameras=["a", "b"])
    assert _split({"cameras": ["top", "top-1", "top-2"]})[0] == {"camera": "top", "history": 3}


def test_module_prefixed_ids_import_their_module() -> None:
    assert resolve_env_id("embodied.envs:embodied/Reach-v0") == "embodied/Reach-v0"
    assert is_registered("embodied.envs:embodied/Reach-v0") and not is_registered("embodied/Nope-v0")
    with pytest.raises(ValueError, match="cannot import module 'no_such_module'"):
        resolve_env_id("no_such_module:x/Y-v0")


def _make_in_child(env_id: str) -> float:
    env = gym.make(env_id)
    return float(episode(env)["episode_return"])


def test_module_prefix_registers_in_a_spawned_process() -> None:
    pytest.importorskip("minigrid")
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        assert pool.apply(_make_in_child, ("tests.byo_envs:byo/Grid-v0",)) == 0.0  # action 0 turns left forever
