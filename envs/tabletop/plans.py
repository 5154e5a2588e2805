"""Symbolic plans: steps, a tolerant text parser, and the checker behind ``env.unwrapped.check_plan``.

A plan is a list of steps ``verb(arg, ...)`` over item names: ``touch(red cube)``, ``push(red cube, green zone)``,
``pick(red cube)``, ``place(blue bowl)`` (into a receptacle, or onto an object when stacking). Text forms accepted
by ``parse_plan``: one step per line, or separated by ``;``/``,``/"then", optionally numbered ("1. pick(red
cube)") — anything matching ``verb(args)`` is read, so "First pick(red cube), then place(blue bowl)." parses.

Checking simulates the plan on a symbolic state (``SymbolicState``: where every object is, what is held,
what has been touched) from the task's initial state. A plan is **valid** iff every step is applicable
(``pick`` needs an empty hand and nothing stacked on the object; ``place`` needs something held and a free
target; ``touch``/``push`` need an empty hand), it only moves objects the task involves, ends with an empty
hand, and leaves the task's goal true. **progress** is the largest k such that the state after the first k
steps agrees with the current physical state on everything those k steps changed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

VERBS: dict[str, int] = {"touch": 1, "push": 2, "pick": 1, "place": 1}  # verb → number of arguments
_STEP = re.compile(r"([A-Za-z_]+)\s*\(([^()]*)\)")


@dataclass(frozen=True)
class PlanStep:
    verb: str
    args: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.verb}({', '.join(self.args)})"


@dataclass(frozen=True)
class PlanCheck:
    valid: bool
    reason: str
    progress: int


@dataclass
class SymbolicState:
    """``location``: object name → "table" | receptacle name | object name it rests on | "held"."""

    location: dict[str, str]
    held: str | None = None
    touched: set[str] = field(default_factory=set)

    def copy(self) -> SymbolicState:
        return SymbolicState(dict(self.location), self.held, set(self.touched))


class PlanError(ValueError):
    """A plan text that cannot be read (unknown verb, wrong arity, no steps)."""


def parse_plan(text: str) -> list[PlanStep]:
    """Read every ``verb(args)`` in ``text``; raises ``PlanError`` on unknown verbs, wrong arity or no steps."""
    steps = []
    for verb, raw in _STEP.findall(text):
        verb = verb.lower()
        args = tuple(" ".join(a.lower().split()) for a in raw.split(",") if a.strip())
        if verb not in VERBS:
            raise PlanError(f"unknown verb {verb!r}; expected one of {sorted(VERBS)}")
        if len(args) != VERBS[verb]:
            raise PlanError(f"{verb} takes {VERBS[verb]} argument(s), got {len(args)} in {verb}({raw})")
        steps.append(PlanStep(verb, args))
    if not steps:
        raise PlanError(f"no steps of the form verb(args) in {text!r}")
    return steps


def format_plan(steps: list[PlanStep]) -> str:
    """Numbered lines, e.g. ``1. pick(red cube)\\n2. place(blue bowl)`` (``parse_plan`` reads it back)."""
    return "\n".join(f"{i + 1}. {s}" for i, s in enumerate(steps))


def apply_step(state: SymbolicState, step: PlanStep, receptacles: Mapping[str, str]) -> str | None:
    """Apply ``step`` in place; returns why it is not applicable, or None. ``receptacles``: name → shape."""
    movable = state.location
    if step.verb in ("touch", "push", "pick") and state.held is not None:
        return f"{step} needs an empty hand but {state.held} is held"
    obj = step.args[0]
    if step.verb != "place" and obj not in movable:
        return f"{step}: {obj!r} is not a movable object in the scene"
    if step.verb == "touch":
        state.touched.add(obj)
    elif step.verb == "push":
        if receptacles.get(step.args[1]) != "zone":
            return f"{step}: {step.args[1]!r} is not a zone in the scene"
        state.location[obj] = step.args[1]
    elif step.verb == "pick":
        above = [o for o, loc in movable.items() if loc == obj]
        if above:
            return f"{step}: {above[0]} is stacked on {obj}"
        state.location[obj], state.held = "held", obj
    else:
        if state.held is None:
            return f"{step} but nothing is held"
        if obj not in receptacles and obj not in movable:
            return f"{step}: {obj!r} is not in the scene"
        if obj in movable and (obj == state.held or any(loc == obj for loc in movable.values())):
            return f"{step}: {obj} is not a free surface"
        state.location[state.held], state.held = obj, None
    return None


def check_plan(
    steps: list[PlanStep],
    initial: SymbolicState,
    current: SymbolicState,
    receptacles: Mapping[str, str],
    involved: Collection[str],
    goal: Callable[[SymbolicState], bool],
) -> PlanCheck:
    """Validate ``steps`` from ``initial`` (see the module docstring) and measure progress against ``current``."""
    state, progress = initial.copy(), 0
    changed: set[str] = set()
    for k, step in enumerate(steps):
        moved = state.held if step.verb == "place" else step.args[0]
        bad = apply_step(state, step, receptacles)
        if bad is None and moved is not None and moved not in involved:
            bad = f"{step}: the task does not involve {moved}"
        if bad is not None:
            return PlanCheck(False, f"step {k + 1}: {bad}", progress)
        if moved is not None:
            changed.add(moved)
        if _agrees(state, current, changed):
            progress = k + 1
    if state.held is not None:
        return PlanCheck(False, f"the plan ends holding {state.held}", progress)
    if not goal(state):
        return PlanCheck(False, "the plan does not achieve the goal", progress)
    return PlanCheck(True, "ok", progress)


def _agrees(plan_state: SymbolicState, current: SymbolicState, changed: set[str]) -> bool:
    if plan_state.held != current.held:
        return False
    if not plan_state.touched <= current.touched:
        return False
    return all(plan_state.location[o] == current.location.get(o) for o in changed)
