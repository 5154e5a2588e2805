"""Success rules of adapted envs: how ``GymAdapter`` decides that an episode succeeded (``info["success"]``).

Third-party envs report success in many ways — ``info["is_success"]`` (panda-gym, gymnasium-robotics), a
positive reward at the goal (MiniGrid: ``1 - 0.9 * steps / max_steps``), or only implicitly. A rule is given as:

* ``"auto"`` (default): the first of ``AUTO_INFO_KEYS`` that appears in a step's info; when none ever appears
  the rule stays ``"none"`` and every episode counts as failed — ``embodied eval`` / ``collect`` then warn when
  the returns are positive (``embodied.eval.success_check``);
* ``"info:KEY"``: ``bool(info[KEY])`` at the current step (a missing key at the end of an episode is an error
  naming the keys the info has);
* ``"reward>=X"`` / ``"reward>X"`` (or a bare number ``X``, read as ``reward>=X``): the episode succeeds once a
  step's reward passes the threshold (sticky: a reward is an event, an info flag a state);
* a callable ``fn(reward, terminated, info) -> bool``, or its import path ``"module:function"`` (so a YAML
  ``adapter:`` block can name one): evaluated at the current step;
* ``"none"``: never a success (the env has no notion of it).

``SuccessRule.name`` is the canonical string recorded in ``info["success_rule"]`` and in ``results.json``.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any, SupportsFloat

__all__ = ["AUTO_INFO_KEYS", "AUTO_NONE", "SuccessFn", "SuccessRule", "SuccessSpec", "success_rule"]

AUTO_INFO_KEYS = ("is_success", "success")
#: the name of an ``auto`` rule that has not (yet) seen any of ``AUTO_INFO_KEYS``
AUTO_NONE = "none (auto: no is_success/success key in the step info)"
SuccessFn = Callable[[float, bool, dict[str, Any]], bool]
SuccessSpec = str | float | int | SuccessFn | None
_THRESHOLD = re.compile(r"^reward\s*(>=|>)\s*([-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)$")
_HELP = "expected 'auto', 'none', 'info:KEY', 'reward>=X', 'reward>X', a number, 'module:function' or a callable"


class SuccessRule:
    """One episode's success under a rule; ``reset()`` at every episode start, ``step(...)`` after every step."""

    def __init__(self, kind: str, name: str, *, key: str = "", threshold: float = 0.0, strict: bool = False,
                 fn: SuccessFn | None = None) -> None:  # fmt: skip
        self.kind, self.name, self.key = kind, name, key
        self.threshold, self.strict, self.fn = threshold, strict, fn
        self._reached = False

    def reset(self) -> None:
        self._reached = False

    def step(self, reward: SupportsFloat, terminated: bool, truncated: bool, info: dict[str, Any]) -> bool:
        """Whether the episode counts as a success after this step (resolves ``auto`` on the first key seen)."""
        if self.kind == "auto":
            found = next((k for k in AUTO_INFO_KEYS if k in info), None)
            if found is None:
                return False
            self.kind, self.key, self.name = "info", found, f"info:{found}"
        if self.kind == "info":
            if self.key not in info:
                if terminated or truncated:
                    raise ValueError(
                        f"success='info:{self.key}': the final step's info has no {self.key!r} (keys: "
                        f"{sorted(info)}); set success= to one of them, 'reward>=X' or a callable"
                    )
                return False
            return bool(_scalar(info[self.key]))
        if self.kind == "reward":
            value = float(reward)
            self._reached |= value > self.threshold if self.strict else value >= self.threshold
            return self._reached
        if self.kind == "callable":
            assert self.fn is not None
            return bool(self.fn(float(reward), bool(terminated), info))
        return False


def _scalar(value: Any) -> Any:
    """``np.array(True)`` (panda-gym's ``is_success``) → ``True``; other values unchanged."""
    item = getattr(value, "item", None)
    return item() if callable(item) and getattr(value, "size", 2) == 1 else value


def _import_callable(path: str) -> SuccessFn:
    module_name, _, attr = path.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"success={path!r}: cannot import it ({err}); {_HELP}") from None
    if not callable(target):
        raise ValueError(f"success={path!r} is not callable; {_HELP}")
    fn: SuccessFn = target
    return fn


def success_rule(spec: SuccessSpec) -> SuccessRule:
    """The rule ``spec`` names (see the module docstring); ``ValueError`` naming the value otherwise."""
    if spec is None or spec == "none":
        return SuccessRule("none", "none")
    if isinstance(spec, bool):
        raise ValueError(f"success={spec!r}: {_HELP}")
    if isinstance(spec, int | float):
        return SuccessRule("reward", f"reward>={float(spec):g}", threshold=float(spec))
    if callable(spec):
        label = f"{getattr(spec, '__module__', '?')}:{getattr(spec, '__qualname__', type(spec).__name__)}"
        return SuccessRule("callable", f"callable:{label}", fn=spec)
    if not isinstance(spec, str):
        raise ValueError(f"success={spec!r}: {_HELP}")
    text = spec.strip()
    if text == "auto":
        return SuccessRule("auto", AUTO_NONE)
    if text.startswith("info:") and len(text) > len("info:"):
        key = text.removeprefix("info:")
        return SuccessRule("info", f"info:{key}", key=key)
    if match := _THRESHOLD.match(text):
        strict, value = match.group(1) == ">", float(match.group(2))
        return SuccessRule("reward", f"reward{match.group(1)}{value:g}", threshold=value, strict=strict)
    if ":" in text:
        return SuccessRule("callable", f"callable:{text}", fn=_import_callable(text))
    raise ValueError(f"success={spec!r}: {_HELP}")
