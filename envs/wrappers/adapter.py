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
* ``instruction`` — ``Text``: an observation string (``instruction_key``, or auto-detected ``mission`` /
  ``instruction`` / ``language`` / ``task`` ``Text`` entry, as in MiniGrid/BabyAI) or the fixed
  ``instruction``. Characters outside the charset are dropped and the text is cut to ``max_length``.

Actions follow ``ActionMapping`` (``Box`` → ``Box(-1, 1)`` affine; ``Discrete`` unchanged or binned).
"""

from __future__ import annotations

from typing import Any, Literal, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from embodied.envs.wrappers.action_mapping import ActionMapping, DiscreteMode
from embodied.envs.wrappers.resize import ResizeMode, resize_image
from embodied.envs.wrappers.text import TEXT_CHARSET, TEXT_MAX_LENGTH, sanitize_text

ImageSource = Literal["auto", "obs", "render", "none"]
_INSTRUCTION_KEYS = ("mission", "instruction", "language", "task")
_ROOT = ""  # marks "the whole observation is the image" (no Dict key)


def _is_image_space(space: spaces.Space[Any]) -> bool:
    return (
        isinstance(space, spaces.Box)
        and space.dtype == np.uint8
        and len(space.shape) == 3
        and space.shape[2] in (1, 3, 4)
    )


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
        )
        gym.Wrapper.__init__(self, env)
        if image_source not in ("auto", "obs", "render", "none"):
            raise ValueError(f"image_source must be 'auto', 'obs', 'render' or 'none', got {image_source!r}")
        self.camera = camera
        self.image_size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        self.resize_mode: ResizeMode = resize
        self.fixed_instruction = sanitize_text(instruction)
        inner = env.observation_space
        self._image_key = self._find_image_key(inner, image_source, image_key)
        self._render_images = self._image_key is None and self._use_render(image_source)
        self._instruction_key = self._find_instruction_key(inner, instruction_key)
        self._state_space = self._build_state_space(inner)
        self.action_mapping = ActionMapping(env.action_space, discrete_mode)
        self.action_space = self.action_mapping.space
        self.observation_space = self._build_observation_space()

    # -- construction helpers -------------------------------------------------------------------------------
    @staticmethod
    def _find_image_key(inner: spaces.Space[Any], source: ImageSource, key: str | None) -> str | None:
        if source in ("render", "none"):
            return None
        if key is not None:
            if not (isinstance(inner, spaces.Dict) and key in inner.spaces and _is_image_space(inner[key])):
                raise ValueError(f"image_key {key!r} is not a [H, W, C] uint8 entry of {inner}")
            return key
        if _is_image_space(inner):
            return _ROOT
        if isinstance(inner, spaces.Dict):
            for name, sub in inner.spaces.items():
                if _is_image_space(sub):
                    return name
        if source == "obs":
            raise ValueError(f"image_source='obs' but the observation space has no image: {inner}")
        return None

    def _use_render(self, source: ImageSource) -> bool:
        renders = self.env.render_mode == "rgb_array"
        if source == "render" and not renders:
            raise ValueError(f"image_source='render' needs render_mode='rgb_array', got {self.env.render_mode!r}")
        return source in ("auto", "render") and renders

    @staticmethod
    def _find_instruction_key(inner: spaces.Space[Any], key: str | None) -> str | None:
        if not isinstance(inner, spaces.Dict):
            if key is not None:
                raise ValueError(f"instruction_key {key!r} given but the observation is not a Dict: {inner}")
            return None
        if key is not None:
            if key not in inner.spaces:
                raise ValueError(f"instruction_key {key!r} is not in the observation keys {list(inner.spaces)}")
            return key
        return next((k for k in _INSTRUCTION_KEYS if isinstance(inner.spaces.get(k), spaces.Text)), None)

    def _build_state_space(self, inner: spaces.Space[Any]) -> spaces.Space[Any] | None:
        """The part of the observation that becomes ``state``, or None when nothing is left.

        Image entries never become state (even when the camera comes from ``render()``): flattening a frame
        would give a state vector of thousands of pixels.
        """
        if _is_image_space(inner):
            return None
        if isinstance(inner, spaces.Dict):
            rest = {
                k: s
                for k, s in inner.spaces.items()
                if k != self._instruction_key and not _is_image_space(s) and s.is_np_flattenable
            }
            return spaces.Dict(rest) if rest else None
        if not inner.is_np_flattenable:
            raise TypeError(f"observation space {inner} cannot be flattened into a state vector")
        return inner

    def _build_observation_space(self) -> spaces.Dict:
        entries: dict[str, spaces.Space[Any]] = {}
        if self.has_images:
            h, w = self.image_size
            entries["images"] = spaces.Dict({self.camera: spaces.Box(0, 255, (h, w, 3), dtype=np.uint8)})
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
            raw = obs if self._image_key == _ROOT else obs[self._image_key]
        elif self._render_images:
            raw = self.env.render()
        else:
            return None
        return resize_image(_to_rgb(np.asarray(raw)), self.image_size, self.resize_mode)

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
            out["images"] = {self.camera: frame}
        out["state"] = self._state(obs)
        out["instruction"] = (
            sanitize_text(str(obs[self._instruction_key])) if self._instruction_key else self.fixed_instruction
        )
        return out

    # -- gymnasium API -------------------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        return self.observation(obs), info

    def step(self, action: Any) -> tuple[dict[str, Any], SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(self.action_mapping.decode(action))
        return self.observation(obs), reward, terminated, truncated, info
