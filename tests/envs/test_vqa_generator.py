"""VQA question generator on hand-built scenes: definitions, balance, determinism, answer normalisation."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest

from embodied.envs.tabletop.vqa import (
    QTYPES,
    Goal,
    ObjectFacts,
    QuestionGenerator,
    SceneFacts,
    ViewFrame,
    normalize_answer,
)

COLOURS = ("red", "green", "blue", "yellow")
SHAPES = ("cube", "sphere", "cylinder", "block", "bowl")
# Camera at -x looking along +x: right is -y, forward (away from the camera) is +x.
FRAME = ViewFrame.from_camera(eye=(-1.0, 0.0, 1.0), target=(0.0, 0.0, 0.0))
SPATIAL = re.compile(r"is the (\w+ \w+) (left of|right of|behind|in front of|on top of|inside) the (\w+ \w+)\?")


def item(name: str, colour: str, shape: str, x: float, y: float, kind: str = "object") -> ObjectFacts:
    return ObjectFacts(name, colour, shape, kind, (x, y, 0.62))


ITEMS = (
    item("a", "red", "cube", 0.0, 0.0),
    item("b", "blue", "sphere", 0.0, -0.2),  # right of a (the camera's right is -y)
    item("c", "green", "cube", 0.2, 0.0),  # behind a (farther along +x)
    item("d", "red", "cylinder", 0.02, 0.1),
    item("e", "red", "block", 0.0, 0.0),  # stacked on a
    item("bowl", "blue", "bowl", -0.2, 0.2, kind="receptacle"),
    item("f", "green", "sphere", -0.2, 0.2),  # inside the bowl
)


def scene(items: tuple[ObjectFacts, ...] = ITEMS) -> SceneFacts:
    return SceneFacts(items, inside=frozenset({("f", "bowl")}), on_top=frozenset({("e", "a")}))


def gen(**kw) -> QuestionGenerator:
    return QuestionGenerator(COLOURS, SHAPES, FRAME, **kw)


def test_view_frame_from_camera() -> None:
    assert FRAME.forward == pytest.approx((1.0, 0.0)) and FRAME.right == pytest.approx((0.0, -1.0))
    with pytest.raises(ValueError, match="straight down"):
        ViewFrame.from_camera((0, 0, 1), (0, 0, 0))


def test_planar_relation_definitions() -> None:
    g = gen()
    a, b, c, d, *_ = ITEMS
    assert g.planar(b, a) == ("right of", None) and g.planar(a, b) == ("left of", None)
    assert g.planar(c, a) == (None, "behind") and g.planar(a, c) == (None, "in front of")
    assert g.planar(d, a) == ("left of", None)  # 2 cm along forward is inside the 4 cm dead zone


def test_spatial_answers_follow_positions_and_placement_facts() -> None:
    g = gen()
    rng = np.random.default_rng(11)
    by_phrase = {f.phrase: f for f in ITEMS}
    facts = scene()
    relations = Counter()
    for _ in range(300):
        q = g.generate(facts, rng, qtype="spatial")
        m = SPATIAL.fullmatch(q.text)
        assert m is not None, q.text
        a, relation, b = by_phrase[m[1]], m[2], by_phrase[m[3]]
        if relation == "on top of":
            holds = (a.name, b.name) in facts.on_top
        elif relation == "inside":
            holds = (a.name, b.name) in facts.inside
        else:
            holds = relation in g.planar(a, b)
        assert q.answer == ("yes" if holds else "no"), q
        relations[relation] += 1
    assert set(relations) == {"left of", "right of", "behind", "in front of", "on top of", "inside"}


def test_normalize_answer() -> None:
    assert normalize_answer("Yes.") == "yes"
    assert normalize_answer("  NOPE!") == "no"
    assert normalize_answer("Two") == "2" and normalize_answer("3 ") == "3"
    assert normalize_answer("The Grey one") == "gray 1"  # number words → digits, as in VQAv2
    assert normalize_answer("a ball") == "sphere"
    assert normalize_answer("red") == "red" and normalize_answer("") == ""


def test_every_qtype_on_a_rich_scene_and_answers_are_normalised() -> None:
    g = gen()
    rng = np.random.default_rng(0)
    seen = Counter()
    for _ in range(300):
        q = g.generate(scene(), rng)
        seen[q.qtype] += 1
        assert normalize_answer(q.answer) == q.answer and " " not in q.answer
        assert q.text.endswith("?") and q.text == q.text.lower()
    assert set(seen) == set(QTYPES) and min(seen.values()) > 25


def test_counting_answers() -> None:
    g = gen()
    rng = np.random.default_rng(1)
    for _ in range(100):
        q = g.generate(scene(), rng, qtype="count")
        words = q.text.split()
        if q.text == "how many objects are there?":
            expected = 6  # the bowl is a receptacle, not an object
        elif words[3] == "objects":
            expected = sum(f.colour == words[2] and f.kind == "object" for f in ITEMS)
        else:
            expected = sum(f.shape + "s" == words[2] for f in ITEMS)
        assert q.answer == str(expected), q
        assert len(q.objects) == expected and len(set(q.objects)) == expected  # every item counted is a referent


def test_attribute_questions_refer_to_unique_items() -> None:
    g = gen()
    rng = np.random.default_rng(2)
    for _ in range(50):
        q = g.generate(scene(), rng, qtype="colour")  # the cylinder, the block and the bowl have unique shapes
        assert (q.text, q.answer) in {
            ("what colour is the cylinder?", "red"),
            ("what colour is the block?", "red"),
            ("what colour is the bowl?", "blue"),
        }
    # Object colours: red ×3, green ×2, blue ×1 (the blue bowl is a receptacle, not an object).
    q = g.generate(scene(), rng, qtype="shape")
    assert (q.text, q.answer) == ("what shape is the blue object?", "sphere")
    with pytest.raises(ValueError, match="supports no question"):
        g.generate(scene(tuple(f for f in ITEMS if f.name != "b")), rng, qtype="shape")


def test_existence_is_balanced_and_correct() -> None:
    g = gen()
    rng = np.random.default_rng(3)
    present = {(f.colour, f.shape) for f in ITEMS}
    answers = []
    for _ in range(2000):
        q = g.generate(scene(), rng, qtype="existence")
        colour, shape = q.text.removeprefix("is there a ").removesuffix("?").split()
        assert q.answer == ("yes" if (colour, shape) in present else "no")
        answers.append(q.answer == "yes")
    assert 0.45 <= np.mean(answers) <= 0.55


def test_spatial_and_progress_are_balanced() -> None:
    g = gen()
    rng = np.random.default_rng(4)
    for qtype in ("spatial", "progress"):
        answers = [g.generate(scene(), rng, qtype=qtype).answer for _ in range(1000)]
        assert 0.4 <= answers.count("yes") / len(answers) <= 0.6


def test_progress_with_goal() -> None:
    g = gen()
    rng = np.random.default_rng(5)
    assert g.generate(scene(), rng, "progress", Goal("f", "in", "bowl")).answer == "yes"
    q = g.generate(scene(), rng, "progress", Goal("b", "on", "c"))
    assert (q.text, q.answer) == ("is the blue sphere on the green cube?", "no")
    assert g.generate(scene(), rng, "progress", Goal("e", "on", "a")).answer == "yes"


def test_determinism_and_order_independence() -> None:
    g = gen()

    def sequence(seed: int, facts: SceneFacts) -> list:
        rng = np.random.default_rng(seed)
        return [g.generate(facts, rng) for _ in range(30)]

    assert sequence(8, scene()) == sequence(8, scene(tuple(reversed(ITEMS))))  # the caller's order is irrelevant
    assert sequence(8, scene()) != sequence(9, scene())


def test_bad_qtypes_are_rejected() -> None:
    with pytest.raises(ValueError, match="qtypes"):
        gen(qtypes=("count", "riddle"))
    with pytest.raises(ValueError, match="unknown qtype"):
        gen().generate(scene(), np.random.default_rng(0), qtype="riddle")
