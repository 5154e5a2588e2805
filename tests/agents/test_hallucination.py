"""Hallucination figures on hand-made predictions: answers naming an absent colour or shape, plans naming absent
objects, and their rates in the results."""

from __future__ import annotations

import pytest

from embodied.agents.evaluate import names_absent, plan_absent_items
from embodied.eval.results import PlanRecord, plan_result, vqa_result
from embodied.eval.vqa_scores import VQARecord

ITEMS = ["red cube", "blue bowl", "green sphere"]


@pytest.mark.parametrize(
    ("answer", "absent"),
    [("red", False), ("yellow", True), ("cube", False), ("cylinder", True), ("bowl", False), ("zone", True),
     ("3", False), ("yes", False), ("no", False), ("blue", False)],
)  # fmt: skip
def test_answers_naming_what_is_not_on_the_table(answer: str, absent: bool) -> None:
    assert names_absent(answer, ITEMS) is absent


def test_plans_naming_absent_objects() -> None:
    items = set(ITEMS)
    assert plan_absent_items("1. pick(red cube)\n2. place(blue bowl)", items) == []
    assert plan_absent_items("1. pick(red cylinder)\n2. place(blue bowl)", items) == ["red cylinder"]
    assert plan_absent_items("1. pick(yellow cube)\n2. place(purple zone)", items) == ["purple zone", "yellow cube"]
    assert plan_absent_items("no plan here", items) == []  # unparseable: names nothing
    assert plan_absent_items(None, items) == []


def test_rates_in_the_results() -> None:
    records = [
        VQARecord(qtype="colour", question="q", answer="red", prediction="red", correct=True, absent=False),
        VQARecord(qtype="colour", question="q", answer="red", prediction="yellow", correct=False, absent=True),
        VQARecord(qtype="shape", question="q", answer="cube", prediction="cube", correct=True),
        VQARecord(qtype="count", question="q", answer="2", prediction="3", correct=False),
    ]
    assert vqa_result("m", "env", "heldout", records, [0.1] * 4).absent_rate == 0.25
    plans = [
        PlanRecord(seed=0, plan="p", valid=True, reason="", success=True, replans=0),
        PlanRecord(seed=1, plan="p", valid=False, reason="", success=False, replans=1, absent=["red cylinder"]),
        PlanRecord(seed=2, plan="p", valid=True, reason="", success=True, replans=0),
        PlanRecord(seed=3, plan="p", valid=False, reason="", success=False, replans=0, absent=["a", "b"]),
    ]
    assert plan_result("planner", "env", "heldout", plans).absent_rate == 0.5
