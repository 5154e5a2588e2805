"""The tabletop plan grammar, for constrained plan decoding (``embodied.models.text_constraint``).

A sentence is what ``format_plan`` writes: numbered lines ``1. pick(red cube)``, ``2. place(blue bowl)``, one step
per line, each ``verb(item[, item])`` with the verb's arity (``VERBS``) and every item a ``<colour> <shape>`` of
the env's vocabulary (colours × movable shapes and receptacles). The grammar knows the vocabulary, not the scene:
which objects a plan names stays the model's choice, so a plan can still name an absent object (the
hallucination figure counts those), but it can no longer be unparseable or name a non-word.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import product

from embodied.envs.tabletop.objects import COLOURS, RECEPTACLES, SHAPES
from embodied.envs.tabletop.plans import VERBS

__all__ = ["PlanGrammar", "tabletop_items"]


def tabletop_items() -> list[str]:
    """Every ``<colour> <shape>`` the tabletop envs can build (movable shapes and receptacles)."""
    return [f"{c} {s}" for c, s in product(COLOURS, (*SHAPES, *RECEPTACLES))]


class PlanGrammar:
    """``format_plan``'s language over ``items``: 1 to ``max_steps`` numbered ``verb(args)`` lines."""

    def __init__(self, items: Iterable[str], verbs: Mapping[str, int] = VERBS, max_steps: int = 8) -> None:
        names = sorted(set(items))
        if not names:
            raise ValueError("a plan grammar needs at least one item name")
        self.max_steps = max_steps
        self.steps = {
            f"{verb}({', '.join(args)})" for verb, arity in verbs.items() for args in product(names, repeat=arity)
        }
        self.step_prefixes = {step[:i] for step in self.steps for i in range(len(step) + 1)}

    def _lines(self, text: str) -> tuple[Sequence[str], str]:
        *done, last = text.split("\n")
        return done, last

    def _complete_line(self, index: int, line: str) -> bool:
        head = f"{index}. "
        return line.startswith(head) and line[len(head) :] in self.steps

    def valid_prefix(self, text: str) -> bool:
        done, last = self._lines(text)
        if len(done) + 1 > self.max_steps or not all(self._complete_line(i + 1, ln) for i, ln in enumerate(done)):
            return False
        head = f"{len(done) + 1}. "
        if len(last) <= len(head):
            return head.startswith(last)
        return last.startswith(head) and last[len(head) :] in self.step_prefixes

    def complete(self, text: str) -> bool:
        done, last = self._lines(text)
        lines = [*done, last]
        return len(lines) <= self.max_steps and all(self._complete_line(i + 1, ln) for i, ln in enumerate(lines))
