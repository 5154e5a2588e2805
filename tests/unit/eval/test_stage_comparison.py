"""Before/after a stage on the same seeds: paired differences with hand-computed values, pairing checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from embodied.eval.report import render_report
from embodied.eval.results import EvalResults, agent_result
from embodied.eval.stage_comparison import StageComparison, compare_stages, paired_difference

from .support import make_results


def test_paired_difference_of_hand_computed_gaps() -> None:
    # gaps after − before = [0, 1, 0, 0]: mean 0.25. A replicate's mean is k/4 for k of the 4 draws hitting the 1;
    # P(k = 0) = (3/4)^4 = 0.316 > 0.025, so the 2.5th percentile is 0; P(k >= 3) = 4·(1/4)^3·(3/4) + (1/4)^4 =
    # 0.051 > 0.025 and P(k = 4) = 0.004 < 0.025, so the 97.5th percentile is 3/4.
    diff, ci = paired_difference([1.0, 0.0, 1.0, 0.0], [1.0, 1.0, 1.0, 0.0], samples=4000, seed=3)
    assert diff == 0.25
    assert ci == (0.0, 0.75)


def test_shared_variation_cancels_out_of_the_paired_interval() -> None:
    # both models fail the same hard half of the seeds: every gap is 0, so the interval is a point
    before = [1.0, 0.0] * 50
    assert paired_difference(before, list(before)) == (0.0, (0.0, 0.0))
    # one improvement on every seed: +1 with no spread
    assert paired_difference([0.0] * 10, [1.0] * 10) == (1.0, (1.0, 1.0))


def test_paired_difference_refuses_unpaired_input() -> None:
    with pytest.raises(ValueError, match="equal lengths"):
        paired_difference([1.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="samples"):
        paired_difference([1.0], [1.0], samples=0)
    assert paired_difference([], []) == (0.0, (0.0, 0.0))


def _with_model(results: EvalResults, successes: list[bool], seeds: list[int] | None = None) -> EvalResults:
    mmllm = agent_result(
        "mmllm",
        results.env_id,
        results.split,
        seeds=seeds or [0, 1, 2, 3],
        successes=successes,
        lengths=[1] * len(successes),
        decision_seconds=[0.001],
        num_envs=2,
    )
    return results.model_copy(update={"agents": [mmllm, *results.agents]})


def test_compare_stages_reports_each_block(tmp_path: Path) -> None:
    base = make_results(tmp_path, videos=0)
    before = _with_model(base, [True, False, False, True])
    after_vqa = base.vqa.model_copy(  # type: ignore[union-attr]
        update={"records": [r.model_copy(update={"correct": True}) for r in base.vqa.records]}  # type: ignore[union-attr]
    )
    after = _with_model(base, [True, True, False, True]).model_copy(update={"vqa": after_vqa})
    comparison = compare_stages(before, after, ("instruct", "rl"), samples=500)
    success = comparison.delta("success")
    assert (success.before, success.after, success.difference, success.n) == (0.5, 0.75, 0.25, 4)
    vqa = comparison.delta("vqa")  # 2 of 4 correct before (support.vqa_records), all after
    assert (vqa.before, vqa.after, vqa.difference) == (0.5, 1.0, 0.5)
    assert comparison.delta("vqa/existence").n == 2 and comparison.delta("vqa/count").difference == 0.0
    plans = comparison.delta("plan validity")
    assert (plans.before, plans.after, plans.difference, plans.ci95) == (0.5, 0.5, 0.0, (0.0, 0.0))
    written = comparison.write(tmp_path / "comparison.json")
    assert StageComparison.model_validate_json(written.read_text()) == comparison
    html = render_report(after, tmp_path, comparison=comparison)
    assert "instruct model vs rl model, same seeds" in html and "+0.250" in html


def test_compare_stages_refuses_other_seeds(tmp_path: Path) -> None:
    base = make_results(tmp_path, videos=0)
    before = _with_model(base, [True] * 4)
    after = _with_model(base, [True] * 4, seeds=[0, 1, 2, 9])
    with pytest.raises(ValueError, match=r"success: item 3 differs \(3 vs 9\)"):
        compare_stages(before, after, ("instruct", "rl"))
    with pytest.raises(KeyError, match="no agent 'mmllm'"):
        compare_stages(base, base, ("instruct", "rl"))
