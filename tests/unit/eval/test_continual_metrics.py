"""LIBERO's FWT / NBT / AUC on a hand-computed 3×3 sequence, the seeded bootstrap, retention, and bad records."""

from __future__ import annotations

import numpy as np
import pytest

from embodied.eval.continual_metrics import (
    ContinualRecord,
    continual_metrics,
    language_retention,
    transfer_scores,
)
from embodied.eval.stats import wilson_interval


def episodes(successes: int, n: int = 10) -> list[bool]:
    return [True] * successes + [False] * (n - successes)


def hand_record(**overrides: object) -> ContinualRecord:
    """Three tasks, 10 episodes per cell; rates c[i][j] (after task i, on task j):

              a     b     c
    after a  0.8   0.1   0.0
    after b  0.5   0.9   0.2
    after c  0.3   0.6   1.0

    curves while training: a: 0.0 → 0.6 → 0.8 (steps 0, 50, 100); b: 0.1 → 0.9 (steps 0, 100); c: 1.0 (end only).
    """
    fields: dict[str, object] = {
        "tasks": ["a", "b", "c"],
        "outcomes": [
            [episodes(8), episodes(1), episodes(0)],
            [episodes(5), episodes(9), episodes(2)],
            [episodes(3), episodes(6), episodes(10)],
        ],
        "curves": [
            [(0, episodes(0)), (50, episodes(6)), (100, episodes(8))],
            [(0, episodes(1)), (100, episodes(9))],
            [(100, episodes(10))],
        ],
        "language": [{"vqa_accuracy": 0.8, "plan_validity": 0.5}, {"vqa_accuracy": 0.6}, {"vqa_accuracy": 0.4}],
        "language_before": {"vqa_accuracy": 0.8, "plan_validity": 0.5},
    }
    fields.update(overrides)
    return ContinualRecord(**fields)  # type: ignore[arg-type]


def test_hand_computed_3x3() -> None:
    m = continual_metrics(hand_record(), bootstrap_samples=200)
    # FWT_k = mean of task k's curve:  FWT_a = (0.0 + 0.6 + 0.8)/3 = 0.46667,  FWT_b = (0.1 + 0.9)/2 = 0.5,
    # FWT_c = 1.0;  FWT = (0.46667 + 0.5 + 1.0)/3 = 0.65556
    assert m.fwt_per_task == pytest.approx([1.4 / 3, 0.5, 1.0])
    assert m.fwt.value == pytest.approx((1.4 / 3 + 0.5 + 1.0) / 3)
    # NBT_k = mean over later τ of c[k][k] − c[τ][k]:  NBT_a = ((0.8 − 0.5) + (0.8 − 0.3))/2 = 0.4,
    # NBT_b = (0.9 − 0.6)/1 = 0.3,  NBT_c: no later task (0 in LIBERO's sum);  NBT = (0.4 + 0.3 + 0)/3 = 0.23333
    assert m.nbt_per_task[:2] == pytest.approx([0.4, 0.3]) and m.nbt_per_task[2] is None
    assert m.nbt is not None and m.nbt.value == pytest.approx(0.7 / 3)
    # AUC_k = (FWT_k + Σ_{τ>k} c[τ][k]) / (K − k + 1):  AUC_a = (0.46667 + 0.5 + 0.3)/3 = 0.42222,
    # AUC_b = (0.5 + 0.6)/2 = 0.55,  AUC_c = 1.0/1 = 1.0;  AUC = (0.42222 + 0.55 + 1.0)/3 = 0.65741
    assert m.auc_per_task == pytest.approx([(1.4 / 3 + 0.8) / 3, 0.55, 1.0])
    assert m.auc.value == pytest.approx(((1.4 / 3 + 0.8) / 3 + 0.55 + 1.0) / 3)
    # the K−1 reading of NBT: (0.4 + 0.3)/2 = 0.35
    other = continual_metrics(hand_record(), nbt_over="K-1", bootstrap_samples=200)
    assert other.nbt is not None and other.nbt.value == pytest.approx(0.35) and other.nbt_over == "K-1"
    # the matrix: rates, k/n and Wilson intervals per cell
    cell = m.matrix[1][0]
    assert (cell.successes, cell.episodes, cell.rate) == (5, 10, 0.5)
    assert cell.ci95 == pytest.approx(wilson_interval(5, 10))
    assert [p.step for p in m.curves[0]] == [0, 50, 100] and m.curves[0][1].rate == pytest.approx(0.6)


def test_best_checkpoint_holds_the_curve_at_its_earliest_peak() -> None:
    curves = [
        [(0, episodes(0)), (50, episodes(8)), (100, episodes(6)), (150, episodes(8))],
        [(100, episodes(9))],
        [(100, episodes(10))],
    ]
    final = continual_metrics(hand_record(curves=curves), bootstrap_samples=50)
    best = continual_metrics(hand_record(curves=curves, carried_forward="best"), bootstrap_samples=50)
    # final: (0 + 0.8 + 0.6 + 0.8)/4 = 0.55;  best: the peak 0.8 at step 50 holds → (0 + 0.8 + 0.8 + 0.8)/4 = 0.6
    assert final.fwt_per_task[0] == pytest.approx(0.55)
    assert best.fwt_per_task[0] == pytest.approx(0.6) and best.carried_forward == "best"
    # NBT uses the diagonal c[k][k] (the carried checkpoint's evaluation) in both modes
    assert best.nbt_per_task == final.nbt_per_task


def test_transfer_scores_is_batched() -> None:
    c = np.array([[[1.0, 0.0], [0.5, 1.0]], [[1.0, 0.0], [1.0, 1.0]]])  # two replicates: forgetting 0.5, then none
    scores = transfer_scores(c, [np.array([[1.0], [1.0]]), np.array([[1.0], [1.0]])])
    assert scores.nbt is not None and scores.nbt.tolist() == pytest.approx([0.25, 0.0])
    assert scores.auc.tolist() == pytest.approx([(0.75 + 1.0) / 2, 1.0])


def test_bootstrap_contains_the_estimate_and_is_deterministic() -> None:
    first = continual_metrics(hand_record(), bootstrap_samples=500, seed=7)
    again = continual_metrics(hand_record(), bootstrap_samples=500, seed=7)
    other = continual_metrics(hand_record(), bootstrap_samples=500, seed=8)
    assert first.model_dump() == again.model_dump()
    assert first.fwt.ci95 != other.fwt.ci95
    for est in (first.fwt, first.nbt, first.auc):
        assert est is not None
        low, high = est.ci95
        assert low <= est.value <= high and high - low > 0.01
    assert first.bootstrap.samples == 500 and first.bootstrap.seed == 7


def test_perfect_cells_have_no_spread() -> None:
    all_done = [[episodes(10)] * 2, [episodes(10)] * 2]
    m = continual_metrics(
        ContinualRecord(tasks=["a", "b"], outcomes=all_done, curves=[[(5, episodes(10))]] * 2), bootstrap_samples=100
    )
    assert m.nbt is not None and m.nbt.value == 0.0 and m.nbt.ci95 == (0.0, 0.0)
    assert m.fwt.value == 1.0 and m.auc.ci95 == (1.0, 1.0)


def test_paired_bootstrap_keeps_an_unchanged_model_at_zero_forgetting() -> None:
    # the same episodes (seeds) of each task after every task, outcomes unchanged: NBT is 0 in every replicate
    a, b = [True, False, True, True, False, False, True, False], [False, True, True, False, False, True, False, True]
    record = ContinualRecord(tasks=["a", "b"], outcomes=[[a, b], [a, b]], curves=[[(1, a)], [(1, b)]])
    m = continual_metrics(record, bootstrap_samples=300)
    assert m.bootstrap.method.startswith("percentile, paired")
    assert m.nbt is not None and m.nbt.value == 0.0 and m.nbt.ci95 == (0.0, 0.0)
    assert m.fwt.ci95[1] - m.fwt.ci95[0] > 0.1  # the rates themselves still vary
    # unequal episode counts cannot be paired: each cell is resampled on its own, the interval has width
    unpaired = ContinualRecord(tasks=["a", "b"], outcomes=[[a, b], [a[:6], b]], curves=[[(1, a)], [(1, b)]])
    u = continual_metrics(unpaired, bootstrap_samples=300)
    assert u.bootstrap.method == "percentile, episodes resampled per cell"
    assert u.nbt is not None and u.nbt.ci95[1] - u.nbt.ci95[0] > 0.05


def test_language_retention() -> None:
    kept = continual_metrics(hand_record(), bootstrap_samples=10).retention
    # vs the probe before training: vqa 0.4/0.8 = 0.5; plan_validity is missing after the last task → skipped
    assert kept.score == pytest.approx(0.5) and kept.reference == "before"
    assert kept.per_key == pytest.approx({"vqa_accuracy": 0.5}) and kept.skipped == ["plan_validity"]
    no_before = language_retention([{"vqa": 0.5, "plan": 0.0}, {"vqa": 0.25, "plan": 0.2}])
    assert no_before.score == pytest.approx(0.5) and no_before.reference == "after-first-task"
    assert no_before.skipped == ["plan"]  # reference 0: the ratio is undefined
    assert language_retention([]).score is None and language_retention([{"vqa": 0.5}]).score is None
    assert language_retention([{"vqa": 0.5}], {"vqa": 0.5}).score == 1.0


def test_single_task_has_no_nbt() -> None:
    m = continual_metrics(ContinualRecord(tasks=["a"], outcomes=[[episodes(7)]], curves=[[(10, episodes(7))]]))
    assert m.nbt is None and m.nbt_note is not None and "K=1" in m.nbt_note
    assert m.fwt.value == pytest.approx(0.7) and m.auc.value == pytest.approx(0.7)
    assert m.nbt_per_task == [None]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"tasks": [], "outcomes": [], "curves": []}, "tasks is empty"),
        ({"tasks": ["a", "a", "c"]}, "repeat"),
        ({"outcomes": [[episodes(1)] * 3] * 2}, "not square: 2 rows for 3 tasks"),
        ({"outcomes": [[episodes(1)] * 3, [episodes(1)] * 2, [episodes(1)] * 3]}, "not square: row 1 has 2 cells"),
        ({"outcomes": [[episodes(1)] * 3, [[], episodes(1), []], [episodes(1)] * 3]}, r"outcomes\[1\]\[0\]"),
        ({"curves": [[(0, episodes(1))]] * 2}, "curves has 2 entries"),
        ({"curves": [[(0, episodes(1))], [], [(0, episodes(1))]]}, r"curves\[1\] \(task 'b'\) is empty"),
        ({"curves": [[(5, episodes(1)), (5, episodes(1))]] * 3}, "steps must increase"),
        ({"curves": [[(5, [])]] * 3}, "at step 5 has no episodes"),
        ({"language": [{"vqa": 1.0}]}, "language has 1 rows for 3 tasks"),
        ({"language_before": {"vqa": float("nan")}}, "not finite"),
        ({"carried_forward": "last"}, "carried_forward"),
    ],
)
def test_bad_records_name_the_problem(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        hand_record(**overrides)


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="nbt_over"):
        continual_metrics(hand_record(), nbt_over="K+1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bootstrap_samples"):
        continual_metrics(hand_record(), bootstrap_samples=0)
