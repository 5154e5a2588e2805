"""Wrap any gymnasium env into the ``embodied`` observation format and a normalised action space.

Observation (a ``Dict``, as every ``embodied/`` env):

* ``images`` — ``Dict`` with one camera (default ``"front"``) → ``[H, W, 3]`` uint8, resized with numpy
  (``resize="area"`` or ``"nearest"``). The frame comes from an image entry of the wrapped observation
  (``image_source="obs"``: a 3-d uint8 ``Box``, the whole observation or a ``Dict`` key) or from
  ``env.render()`` when the env was made with ``render_mode="rgb_array"`` (``"render"``). ``"auto"`` prefers
  the observation, then rendering (pass ``render_mode="rgb_array"`` only where the renderer's dependencies
  are installed: gymnasium raises ``DependencyNotInstalled`` from the first ``reset`` otherwise). With
  neither (e.g. classic-control envs without pygame, which all their renderers need) the ``images`` key is
  left out — gymnasium rejects empty ``Dict`` spaces, and a blank frame would feed the model meaningless
  tokens — so consumers must treat ``images`` as optional for state-only suites.
* ``state`` — float32 vector: the rest of the observation flattened with ``gymnasium.spaces.flatten``
  (``Discrete`` becomes one-hot, ``Tuple``/``Dict`` are concatenated); empty when the observation is an image.
* ``instruction`` — ``Text``: an observation string (``instruction_key``, or an auto-detected ``mission`` /
  ``instruction`` / ``language`` / ``task`` text entry, as in MiniGrid/BabyAI — ``spaces.Text`` or a custom
  space whose samples are strings, like MiniGrid's ``MissionSpace``) or the fixed ``instruction``. Characters
  outside the charset are dropped and the text is cut to ``max_length``.

Entries that fit none of these are refused with a message naming the key and the option to set
(``instruction_key=``, ``image_key=``, ``ignore_keys=``): see ``embodied.envs.wrappers.obs_spaces``.

Success: every step's info gains ``success`` (bool, under the ``success=`` rule of
``embodied.envs.wrappers.success``: an info key, a reward threshold or a callable; auto-detects ``is_success`` /
``success``), ``success_rule`` (the rule's name, recorded in ``results.json``) and ``episode_return`` (the sum of
rewards so far), so evaluation and collection read success the same way for every suite.

Actions follow ``ActionMapping`` (``Box`` → ``Box(-1, 1)`` affine; ``Discrete`` unchanged or binned).

Observation history (``history=K``, for partially observable envs): ``images`` also carries the ``K − 1`` previous
frames as cameras ``<camera>-1`` (one step earlier) … ``<camera>-<K−1>``; after a reset they repeat the first
frame. A model sees them by listing the cameras (``model.cameras: [front, front-1, front-2]``): every camera is its
own token stream with its own camera embedding, so the LLM attends over time like over views.
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from embodied.envs.wrappers.action_mapping import ActionMapping, DiscreteMode
from embodied.envs.wrappers.obs_spaces import ROOT, ImageSource, plan_observation
from embodied.envs.wrappers.resize import ResizeMode, resize_image
from embodied.envs.wrappers.success import SuccessSpec, success_rule
from embodied.envs.wrappers.text import TEXT_CHARSET, TEXT_MAX_LENGTH, sanitize_text


def _to_rgb(frame: np.ndarray) -> np.ndarray:
    frame = np.asarray(frame, dtype=np.uint8)
    if frame.ndim == 3 and frame.shape[2] == 1:
        return np.repeat(frame, 3, axis=2)
    return frame[:, :, :3] if frame.ndim == 3 else frame


class GymAdapter(gym.Wrapper[dict[str, Any], Any, Any, Any], gym.utils.RecordConstructorArgs):
    """Adapter from a third-party gymnasium env to the ``embodied`` observation/action format.

    Records its constructor arguments (``RecordConstructorArgs``) so ``env.spec.make()`` and the env checker
    can rebuild the wrapped stack.
    """

    def __init__(
        self,
        env: gym.Env[Any, Any],
        *,
        camera: str = "front",
        image_size: int | tuple[int, int] = 64,
        resize: ResizeMode = "area",
        image_source: ImageSource = "auto",
        image_key: str | None = None,
        instruction_key: str | None = None,
        instruction: str = "",
        discrete_mode: DiscreteMode = "discrete",
        success: SuccessSpec = "auto",
        ignore_keys: tuple[str, ...] | list[str] = (),
        history: int = 1,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self,
            camera=camera,
            image_size=image_size,
            resize=resize,
            image_source=image_source,
            image_key=image_key,
            instruction_key=instruction_key,
            instruction=instruction,
            discrete_mode=discrete_mode,
            success=success,
            ignore_keys=tuple(ignore_keys),
            history=history,
        )
        gym.Wrapper.__init__(self, env)
        if not isinstance(history, int) or history < 1:
            raise ValueError(f"history must be an int >= 1 (frames per observation), got {history!r}")
        if image_source not in ("auto", "obs", "render", "none"):
            raise ValueError(f"image_source must be 'auto', 'obs', 'render' or 'none', got {image_source!r}")
        self.camera = camera
        self.history = history
        self._past: list[np.ndarray] = []  # the previous frames, most recent first
        self.image_size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        self.resize_mode: ResizeMode = resize
        self.fixed_instruction = sanitize_text(instruction)
        plan = plan_observation(env.observation_space, image_source, image_key, instruction_key, tuple(ignore_keys))
        self._image_key = plan.image_key
        self._render_images = self._image_key is None and self._use_render(image_source)
        self._instruction_key = plan.instruction_key
        self._state_space = plan.state_space
        self.success_rule = success_rule(success)
        self._return = 0.0
        self.action_mapping = ActionMapping(env.action_space, discrete_mode)
        self.action_space = self.action_mapping.space
        self.observation_space = self._build_observation_space()
        if history > 1 and not self.has_images:
            raise ValueError(
                f"history={history} stacks camera frames, but this env gives no image (set image_key=... or make "
                "it with render_mode='rgb_array')"
            )

    @property
    def cameras(self) -> list[str]:
        """The camera names of ``images``: the current frame's, then ``<camera>-1`` … (``history``)."""
        return [self.camera] + [f"{self.camera}-{k}" for k in range(1, self.history)]

    def _use_render(self, source: ImageSource) -> bool:
        renders = self.env.render_mode == "rgb_array"
        if source == "render" and not renders:
            raise ValueError(f"image_source='render' needs render_mode='rgb_array', got {self.env.render_mode!r}")
        return source in ("auto", "render") and renders

    def _build_observation_space(self) -> spaces.Dict:
        entries: dict[str, spaces.Space[Any]] = {}
        if self.has_images:
            h, w = self.image_size
            box = spaces.Box(0, 255, (h, w, 3), dtype=np.uint8)
            entries["images"] = spaces.Dict({name: box for name in self.cameras})
        if self._state_space is not None:
            flat = spaces.flatten_space(self._state_space)
            assert isinstance(flat, spaces.Box)  # flattenable spaces (checked above) flatten to a Box
            low, high = np.asarray(flat.low, np.float32), np.asarray(flat.high, np.float32)
        else:
            low = high = np.zeros(0, dtype=np.float32)
        entries["state"] = spaces.Box(low, high, dtype=np.float32)
        entries["instruction"] = spaces.Text(TEXT_MAX_LENGTH, min_length=0, charset=TEXT_CHARSET)
        return spaces.Dict(entries)

    @property
    def has_images(self) -> bool:
        """Whether observations carry the ``images`` entry (False for state-only suites)."""
        return self._image_key is not None or self._render_images

    # -- observation ---------------------------------------------------------------------------------------
    def _frame(self, obs: Any) -> np.ndarray | None:
        if self._image_key is not None:
            raw = obs if self._image_key == ROOT else obs[self._image_key]
        elif self._render_images:
            raw = self.env.render()
        else:
            return None
        return resize_image(_to_rgb(np.asarray(raw)), self.image_size, self.resize_mode)

    def _history(self, frame: np.ndarray) -> dict[str, np.ndarray]:
        """The previous ``history − 1`` frames by camera name (the first frame repeated after a reset), then
        ``frame`` becomes the most recent past one."""
        if self.history == 1:
            return {}
        past = self._past or [frame.copy() for _ in range(self.history - 1)]
        out = {f"{self.camera}-{k + 1}": past[k] for k in range(self.history - 1)}
        self._past = [frame.copy(), *(p.copy() for p in past[: self.history - 2])]  # no array shared across steps
        return out

    def _state(self, obs: Any) -> np.ndarray:
        if self._state_space is None:
            return np.zeros(0, dtype=np.float32)
        part = {k: obs[k] for k in self._state_space.spaces} if isinstance(self._state_space, spaces.Dict) else obs
        return np.asarray(spaces.flatten(self._state_space, part), dtype=np.float32)

    def observation(self, obs: Any) -> dict[str, Any]:
        """Convert one wrapped observation into the ``embodied`` format."""
        out: dict[str, Any] = {}
        frame = self._frame(obs)
        if frame is not None:
            out["images"] = {self.camera: frame, **self._history(frame)}
        out["state"] = self._state(obs)
        key = self._instruction_key
        if key is None:
            out["instruction"] = self.fixed_instruction
        else:
            out["instruction"] = sanitize_text(str(obs if key == ROOT else obs[key]))
        return out

    def expert_action(self) -> Any:
        """The wrapped env's scripted expert (``env.unwrapped.expert_action()``, in the env's own action space),
        encoded into the adapted space, so the ``scripted`` baseline and expert collection work through the adapter.
        """
        expert = getattr(self.env.unwrapped, "expert_action", None)
        if not callable(expert):
            raise AttributeError(f"{type(self.env.unwrapped).__name__} has no scripted expert (expert_action)")
        return self.action_mapping.encode(expert())

    # -- gymnasium API -------------------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        self.env_observation = obs  # the wrapped env's own observation, for user policies (embodied collect --policy)
        self.success_rule.reset()
        self._return = 0.0
        self._past = []
        return self.observation(obs), info

    def step(self, action: Any) -> tuple[dict[str, Any], SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(self.action_mapping.decode(action))
        self.env_observation = obs
        self._return += float(reward)
        info = dict(info)
        info["success"] = self.success_rule.step(reward, bool(terminated), bool(truncated), info)
        info["success_rule"] = self.success_rule.name
        info["episode_return"] = self._return
        return self.observation(obs), reward, terminated, truncated, info
