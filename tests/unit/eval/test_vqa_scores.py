"""VQA scoring on hand-made records: POPE figures, accuracy per type, chance and majority baselines."""

from __future__ import annotations

import pytest

from embodied.eval.vqa_scores import VQARecord, accuracy_by_type, pope_scores


def record(qtype: str, answer: str, prediction: str) -> VQARecord:
    return VQARecord(qtype=qtype, question="q?", answer=answer, prediction=prediction, correct=answer == prediction)


def test_pope_on_a_hand_made_confusion_matrix() -> None:
    # 5 present objects ("yes"): 4 called yes, 1 called no; 5 absent ("no"): 2 called yes (hallucinated), 2 no,
    # 1 unparseable answer (counts as "no", as in POPE).
    rows = [record("existence", "yes", "yes")] * 4 + [record("existence", "yes", "no")]
    rows += [record("existence", "no", "yes")] * 2 + [record("existence", "no", "no")] * 2
    rows += [record("existence", "no", "red cube"), record("count", "2", "yes")]  # other types are ignored
    pope = pope_scores(rows)
    assert pope is not None and pope.n == 10
    # tp=4, fp=2, fn=1, tn=3
    assert pope.accuracy == pytest.approx(0.7)
    assert pope.precision == pytest.approx(4 / 6)
    assert pope.recall == pytest.approx(0.8)
    assert pope.f1 == pytest.approx(2 * (4 / 6) * 0.8 / (4 / 6 + 0.8))
    assert pope.yes_ratio == pytest.approx(0.6)
    assert pope.answer_yes_ratio == pytest.approx(0.5)


def test_pope_degenerate_cases() -> None:
    assert pope_scores([record("count", "1", "1")]) is None
    never_yes = pope_scores([record("existence", "yes", "no"), record("existence", "no", "no")])
    assert never_yes is not None
    assert (never_yes.precision, never_yes.recall, never_yes.f1, never_yes.accuracy) == (0.0, 0.0, 0.0, 0.5)


def test_accuracy_per_type_with_baselines() -> None:
    rows = [record("count", "2", "2"), record("count", "2", "3"), record("count", "3", "3"), record("count", "2", "1")]
    rows += [record("spatial", "yes", "yes"), record("spatial", "yes", "yes"), record("spatial", "yes", "no")]
    scores = accuracy_by_type(rows)
    assert list(scores) == ["count", "spatial"]
    count, spatial = scores["count"], scores["spatial"]
    assert (count.n, count.correct, count.accuracy) == (4, 2, 0.5)
    assert (count.majority_answer, count.majority) == ("2", 0.75)
    assert count.chance == pytest.approx(1 / 2)  # two distinct answers seen
    assert count.ci95[0] < 0.5 < count.ci95[1]
    assert spatial.accuracy == pytest.approx(2 / 3) and spatial.chance == 0.5  # yes/no even if only yes was asked
    assert spatial.majority == 1.0
    with_space = accuracy_by_type(rows, {"count": [str(k) for k in range(7)]})
    assert with_space["count"].chance == pytest.approx(1 / 7)
    assert with_space["spatial"].chance == 0.5
