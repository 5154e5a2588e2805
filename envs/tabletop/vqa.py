"""Embodied VQA: questions and short answers generated from simulator ground truth.

Question types (the ``qtype`` label of every ``Question``):

* ``count`` — "how many red objects are there?", "how many cubes are there?", "how many objects are there?".
  *Objects* are the movable items (``kind == "object"``); receptacles are counted only by their own noun
  ("how many bowls are there?"). Answer: digits ("0", "3").
* ``colour`` — "what colour is the cube?" (only when exactly one item has that shape). Answer: a colour.
* ``shape`` — "what shape is the green object?" (only when one object has that colour). Answer: a shape.
* ``spatial`` — yes/no: "is the red cube left of the blue sphere?" with *left of*, *right of*, *behind*,
  *in front of*, *on top of*, *inside*. Yes and no are asked equally often.
* ``existence`` — POPE-style hallucination probe (Li et al., 2023, "Evaluating Object Hallucination in Large
  Vision-Language Models"): "is there a yellow sphere?". A fair coin per question makes half of them ask
  about an absent colour–shape pair; half of the absent pairs are *adversarial* (they share the colour or the
  shape of something on the table), the rest are drawn uniformly from the vocabulary.
* ``progress`` — task progress: "is the red cube in the blue bowl?" for a movable object and a receptacle,
  or for a task's own goal (``Goal``; see ``vqa_env.task_progress_question``). yes/no, balanced when a placed
  pair exists.

Spatial frame (following CLEVR, Johnson et al., 2017): relations are read in the FRONT camera's view,
projected onto the table plane. ``ViewFrame.right`` is the camera's right direction and ``ViewFrame.forward``
its viewing direction, both horizontal unit vectors. With ``d = position(a) - position(b)`` (base positions):
``a right of b`` ⇔ ``d·right > margin``; ``a left of b`` ⇔ ``d·right < -margin``; ``a behind b`` (farther
from the camera) ⇔ ``d·forward > margin``; ``a in front of b`` ⇔ ``d·forward < -margin``. Pairs whose offset
along the asked axis is within ``margin`` are never asked, so every answer is unambiguous.
``a on top of b`` and ``a inside r`` are the task predicates of ``embodied.envs.tabletop.predicates`` (the
ones task success is judged by), handed in as ``SceneFacts.on_top`` / ``SceneFacts.inside``, so a progress
answer always agrees with the task's own success check.

Answers are normalised short forms (lowercase, digits, "yes"/"no", single words); ``normalize_answer`` maps a
free-text reply onto that form so a reply is scored by exact match. Everything is deterministic given the
``np.random.Generator`` passed in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

QTYPES: tuple[str, ...] = ("count", "colour", "shape", "spatial", "existence", "progress")
_OPPOSITE = {"left of": "right of", "right of": "left of", "behind": "in front of", "in front of": "behind"}

_NUMBER_WORDS = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13",
    "fourteen": "14", "fifteen": "15", "sixteen": "16", "seventeen": "17", "eighteen": "18",
    "nineteen": "19", "twenty": "20",
}  # fmt: skip
_SYNONYMS = {
    "y": "yes", "yeah": "yes", "yep": "yes", "true": "yes", "correct": "yes",
    "n": "no", "nope": "no", "false": "no", "none": "0",
    "grey": "gray", "color": "colour", "ball": "sphere",
}  # fmt: skip
_ARTICLES = {"a", "an", "the"}


def normalize_answer(text: str) -> str:
    """Map a free-text answer to the normalised short form used as ground truth.

    Lowercase; punctuation becomes space; articles are dropped; number words become digits; a few synonyms map
    to the canonical word ("yeah" → "yes", "grey" → "gray", "ball" → "sphere"); whitespace collapses. So
    "Yes." → "yes", "Two" → "2", "The RED cube!" → "red cube". Matching is exact on the result.
    """
    words = re.sub(r"[^a-z0-9 ]+", " ", text.lower()).split()
    out = [_SYNONYMS.get(w, _NUMBER_WORDS.get(w, w)) for w in words if w not in _ARTICLES]
    return " ".join(out)


@dataclass(frozen=True)
class ObjectFacts:
    """Ground truth about one item on the table, read from the simulator."""

    name: str
    colour: str
    shape: str
    kind: str  # "object" (movable) or "receptacle"
    position: tuple[float, float, float]  # base position (m)

    @property
    def phrase(self) -> str:
        return f"{self.colour} {self.shape}"


@dataclass(frozen=True)
class SceneFacts:
    """Everything a question may ask about: the items and which placement relations hold between them.

    ``inside`` holds ``(object, receptacle)`` name pairs and ``on_top`` ``(upper, lower)`` name pairs for which
    the task predicates are true (see the module docstring).
    """

    items: tuple[ObjectFacts, ...]
    inside: frozenset[tuple[str, str]] = frozenset()
    on_top: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class ViewFrame:
    """Horizontal right/forward unit vectors of the camera that defines left/right/behind/in front."""

    right: tuple[float, float]
    forward: tuple[float, float]

    @classmethod
    def from_camera(cls, eye: Sequence[float], target: Sequence[float]) -> ViewFrame:
        """Frame of a camera at ``eye`` looking at ``target`` with world up = +z."""
        fx, fy = float(target[0]) - float(eye[0]), float(target[1]) - float(eye[1])
        norm = float(np.hypot(fx, fy))
        if norm < 1e-9:
            raise ValueError("a camera looking straight down has no horizontal forward direction")
        fx, fy = fx / norm, fy / norm
        return cls(right=(fy, -fx), forward=(fx, fy))  # right = forward × up


@dataclass(frozen=True)
class Question:
    """One question with its normalised ground-truth answer, type label and the items it refers to (``objects``:
    the item asked about; for ``count`` every item counted, for a "no" ``existence`` question none) — the
    locations a grounded answer should look at."""

    text: str
    answer: str
    qtype: str
    objects: tuple[str, ...] = ()


def plural(noun: str) -> str:
    return noun + "es" if noun.endswith(("s", "x", "ch", "sh")) else noun + "s"


@dataclass(frozen=True)
class Goal:
    """A task goal a progress question asks about: ``obj`` ``relation`` (``"in"`` or ``"on"``) ``target``."""

    obj: str
    relation: str
    target: str


class QuestionGenerator:
    """Draw questions about a scene described by ``SceneFacts``.

    ``colours``/``shapes`` are the full vocabularies (for absent objects in existence questions and counting
    zeros); ``frame`` fixes the spatial frame; ``margin`` (m) is the dead zone of planar relations.
    """

    def __init__(
        self,
        colours: Sequence[str],
        shapes: Sequence[str],
        frame: ViewFrame,
        *,
        qtypes: Sequence[str] = QTYPES,
        margin: float = 0.04,
    ) -> None:
        unknown = set(qtypes) - set(QTYPES)
        if unknown or not qtypes:
            raise ValueError(f"qtypes must be a non-empty subset of {QTYPES}, got {list(qtypes)}")
        self.colours, self.shapes = tuple(colours), tuple(shapes)
        self.frame, self.qtypes = frame, tuple(qtypes)
        self.margin = margin
        self._builders: dict[str, Callable[[SceneFacts, np.random.Generator, Goal | None], Question | None]]
        self._builders = {
            "count": self._count,
            "colour": self._colour,
            "shape": self._shape,
            "spatial": self._spatial,
            "existence": self._existence,
            "progress": self._progress,
        }

    def generate(
        self,
        facts: SceneFacts,
        rng: np.random.Generator,
        qtype: str | None = None,
        goal: Goal | None = None,
    ) -> Question:
        """One question: of ``qtype`` if given, else a uniformly drawn type that the scene supports."""
        # Draw order must not depend on the order the caller listed the items in.
        facts = SceneFacts(tuple(sorted(facts.items, key=lambda f: f.name)), facts.inside, facts.on_top)
        order = [qtype] if qtype is not None else [self.qtypes[i] for i in rng.permutation(len(self.qtypes))]
        for name in order:
            if name not in self._builders:
                raise ValueError(f"unknown qtype {name!r}; expected one of {QTYPES}")
            question = self._builders[name](facts, rng, goal)
            if question is not None:
                return question
        raise ValueError(f"the scene supports no question of type(s) {order}")

    # -- geometry (the documented definitions) ---------------------------------------------------------------
    def planar(self, a: ObjectFacts, b: ObjectFacts) -> tuple[str | None, str | None]:
        """(left/right relation, behind/in-front relation) of ``a`` to ``b``; None inside the dead zone."""
        dx, dy = a.position[0] - b.position[0], a.position[1] - b.position[1]
        along_right = dx * self.frame.right[0] + dy * self.frame.right[1]
        along_forward = dx * self.frame.forward[0] + dy * self.frame.forward[1]
        lateral = None if abs(along_right) <= self.margin else ("right of" if along_right > 0 else "left of")
        depth = None if abs(along_forward) <= self.margin else ("behind" if along_forward > 0 else "in front of")
        return lateral, depth

    # -- builders: each returns None when the scene cannot support its type ---------------------------------
    def _count(self, facts: SceneFacts, rng: np.random.Generator, goal: Goal | None) -> Question:
        items = facts.items
        objects = [f for f in items if f.kind == "object"]
        form = int(rng.integers(3))
        if form == 0:  # colour: present colours three times as often as absent ones, so answers are not all 0
            present = sorted({f.colour for f in objects})
            pool = present if present and rng.random() < 0.75 else list(self.colours)
            colour = pool[int(rng.integers(len(pool)))]
            counted = [f.name for f in objects if f.colour == colour]
            return Question(f"how many {colour} objects are there?", str(len(counted)), "count", tuple(counted))
        if form == 1:
            present = sorted({f.shape for f in items})
            pool = present if present and rng.random() < 0.75 else sorted(set(self.shapes) | set(present))
            shape = pool[int(rng.integers(len(pool)))]
            counted = [f.name for f in items if f.shape == shape]
            return Question(f"how many {plural(shape)} are there?", str(len(counted)), "count", tuple(counted))
        return Question("how many objects are there?", str(len(objects)), "count", tuple(f.name for f in objects))

    def _colour(self, facts: SceneFacts, rng: np.random.Generator, goal: Goal | None) -> Question | None:
        items = facts.items
        unique = [f for f in items if sum(g.shape == f.shape for g in items) == 1]
        if not unique:
            return None
        f = unique[int(rng.integers(len(unique)))]
        return Question(f"what colour is the {f.shape}?", f.colour, "colour", (f.name,))

    def _shape(self, facts: SceneFacts, rng: np.random.Generator, goal: Goal | None) -> Question | None:
        objects = [f for f in facts.items if f.kind == "object"]
        unique = [f for f in objects if sum(g.colour == f.colour for g in objects) == 1]
        if not unique:
            return None
        f = unique[int(rng.integers(len(unique)))]
        return Question(f"what shape is the {f.colour} object?", f.shape, "shape", (f.name,))

    def _existence(self, facts: SceneFacts, rng: np.random.Generator, goal: Goal | None) -> Question | None:
        items = facts.items
        present = {(f.colour, f.shape) for f in items}
        absent = [(c, s) for c in self.colours for s in self.shapes if (c, s) not in present]
        if items and (rng.random() < 0.5 or not absent):
            f = items[int(rng.integers(len(items)))]
            return Question(f"is there a {f.phrase}?", "yes", "existence", (f.name,))
        adversarial = [p for p in absent if any(p[0] == c or p[1] == s for c, s in present)]
        pool = adversarial if adversarial and rng.random() < 0.5 else absent
        colour, shape = pool[int(rng.integers(len(pool)))]
        return Question(f"is there a {colour} {shape}?", "no", "existence")

    @staticmethod
    def _referable(items: Sequence[ObjectFacts]) -> list[ObjectFacts]:
        """Items that "the <colour> <shape>" names unambiguously."""
        return [f for f in items if sum(g.colour == f.colour and g.shape == f.shape for g in items) == 1]

    def _pick_pair(
        self,
        yes_pairs: list[tuple[ObjectFacts, ObjectFacts]],
        all_pairs: list[tuple[ObjectFacts, ObjectFacts]],
        rng: np.random.Generator,
    ) -> tuple[ObjectFacts, ObjectFacts, bool]:
        """A fair coin picks a pair for which the relation holds or one for which it does not."""
        no_pairs = [p for p in all_pairs if p not in yes_pairs]
        want_yes = bool(rng.random() < 0.5)
        pool = yes_pairs if (want_yes and yes_pairs) or not no_pairs else no_pairs
        a, b = pool[int(rng.integers(len(pool)))]
        return a, b, pool is yes_pairs

    def _spatial(self, facts: SceneFacts, rng: np.random.Generator, goal: Goal | None) -> Question | None:
        ref = self._referable(facts.items)
        pairs = [(a, b) for a in ref for b in ref if a is not b]
        planar = {axis: [(a, b) for a, b in pairs if self.planar(a, b)[axis] is not None] for axis in (0, 1)}
        objects_on = [(a, b) for a, b in pairs if a.kind == b.kind == "object"]
        objects_in = [(a, r) for a, r in pairs if a.kind == "object" and r.kind == "receptacle"]
        # "on top of"/"inside" only when the relation holds somewhere, so the coin can balance yes and no.
        on_yes = [(a, b) for a, b in objects_on if (a.name, b.name) in facts.on_top]
        in_yes = [(a, r) for a, r in objects_in if (a.name, r.name) in facts.inside]
        families = [f for f, ok in (("lateral", planar[0]), ("depth", planar[1]), ("on", on_yes), ("in", in_yes)) if ok]
        if not families:
            return None
        family = families[int(rng.integers(len(families)))]
        if family in ("lateral", "depth"):
            axis = 0 if family == "lateral" else 1
            a, b = planar[axis][int(rng.integers(len(planar[axis])))]
            truth = self.planar(a, b)[axis]
            assert truth is not None
            holds = bool(rng.random() < 0.5)
            relation = truth if holds else _OPPOSITE[truth]
        elif family == "on":
            a, b, holds = self._pick_pair(on_yes, objects_on, rng)
            relation = "on top of"
        else:
            a, b, holds = self._pick_pair(in_yes, objects_in, rng)
            relation = "inside"
        text = f"is the {a.phrase} {relation} the {b.phrase}?"
        return Question(text, "yes" if holds else "no", "spatial", (a.name, b.name))

    def _progress(self, facts: SceneFacts, rng: np.random.Generator, goal: Goal | None) -> Question | None:
        by_name = {f.name: f for f in facts.items}
        if goal is not None:
            a, b = by_name[goal.obj], by_name[goal.target]
            holds = (a.name, b.name) in (facts.inside if goal.relation == "in" else facts.on_top)
            text = f"is the {a.phrase} {goal.relation} the {b.phrase}?"
            return Question(text, "yes" if holds else "no", "progress", (a.name, b.name))
        ref = self._referable(facts.items)
        objects_in = [(a, r) for a in ref for r in ref if a.kind == "object" and r.kind == "receptacle"]
        if not objects_in:
            return None
        in_yes = [(a, r) for a, r in objects_in if (a.name, r.name) in facts.inside]
        a, r, holds = self._pick_pair(in_yes, objects_in, rng)
        return Question(f"is the {a.phrase} in the {r.phrase}?", "yes" if holds else "no", "progress", (a.name, r.name))
