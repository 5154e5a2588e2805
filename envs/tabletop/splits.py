"""Generalisation splits: held-out colour–shape pairs and held-out instruction templates.

Attribute split: each colour has exactly one held-out shape (``HELDOUT_PAIRS``, a fixed Latin-square-like
choice, so every colour and every shape still appears in training). With ``attribute_split="train"`` no
object in any scene uses a held-out pair; with ``"heldout"`` the task's *primary* object (the one the
instruction names first: the target, the top of a stack, the first object to sort) uses a held-out pair and
every other object a training pair — so a held-out episode tests composition of seen colours and shapes.

Instruction split: every task lists ``train`` and ``heldout`` templates; ``instruction_split`` picks the list
the instruction is drawn from.
"""

from __future__ import annotations

from collections.abc import Sequence

from embodied.envs.tabletop.objects import COLOURS, SHAPES

SPLITS: tuple[str, ...] = ("train", "heldout")
HELDOUT_PAIRS: frozenset[tuple[str, str]] = frozenset(
    (colour, SHAPES[(i + 1) % len(SHAPES)]) for i, colour in enumerate(COLOURS)
)  # red sphere, green cylinder, blue block, yellow cube, purple sphere, orange cylinder


def check_split(name: str, value: str) -> str:
    if value not in SPLITS:
        raise ValueError(f"{name} must be one of {SPLITS}, got {value!r}")
    return value


def pairs(
    split: str, colours: Sequence[str] | None = None, shapes: Sequence[str] | None = None
) -> list[tuple[str, str]]:
    """Colour–shape pairs of ``split`` ("train" or "heldout"), optionally restricted, in a fixed order."""
    check_split("attribute_split", split)
    cs = list(COLOURS) if colours is None else list(colours)
    ss = list(SHAPES) if shapes is None else list(shapes)
    want_heldout = split == "heldout"
    return [(c, s) for c in cs for s in ss if ((c, s) in HELDOUT_PAIRS) == want_heldout]
