"""The ``decode`` benchmark's quick mode: every number present, positive and consistent (speed is not asserted)."""

from __future__ import annotations

from embodied.bench import decode
from embodied.bench.__main__ import BENCHMARKS

#: headline numbers (the target row and the bound model) and their inputs: all positive
NUMBERS = {
    "actions_per_second_ratio",
    "agent_actions_per_second",
    "naive_actions_per_second",
    "latency_ratio",
    "agent_latency_mean_s",
    "naive_latency_mean_s",
    "decoding_call_latency_ratio",
    "agent_decoding_call_s",
    "naive_decoding_call_s",
    "decode_bound_fraction",
    "decode_step_s",
    "decode_bound_s",
    "decode_bytes_per_token",
    "decode_flops_per_token",
    "memory_bandwidth_gb_s",
    "read_bandwidth_gb_s",
    "copy_bandwidth_gb_s",
    "gemv_bandwidth_gb_s",
    "decode_gemv_fraction",
    "prefill_bound_fraction",
    "prefill_s",
    "prefill_bound_s",
    "prefill_tokens",
    "prefill_flops",
    "matmul_gflop_s",
    "embed_s",
}
ROW_NUMBERS = {"actions_per_second", "latency_mean_s", "latency_median_s", "decoding_call_s", "calls"}
RATIOS = {"actions_per_second_ratio", "latency_ratio", "decoding_call_latency_ratio"}


def _close(value: float, expected: float) -> bool:
    return abs(value - expected) <= 0.01 * expected + 0.01


def test_quick_run_reports_every_number() -> None:
    assert BENCHMARKS["decode"] == "embodied.bench.decode"
    out = decode.run(quick=True)
    assert out["quick"] is True and out["threads"] == 1
    assert "quick" in out["bound_model"]  # the quick bound model fits in cache: marked as such
    for key in NUMBERS:
        assert out[key] > 0, key
    assert set(out["rows"]) == {decode.NAIVE, *decode.MODES}
    for row, stats in out["rows"].items():
        assert all(stats[k] > 0 for k in ROW_NUMBERS), row
        if row != decode.NAIVE:
            assert all(stats[k] > 0 for k in RATIOS), row
            ratio = stats["actions_per_second"] / out["rows"][decode.NAIVE]["actions_per_second"]
            assert _close(stats["actions_per_second_ratio"], ratio), row
    # the headline numbers are the target row's, vs the naive baseline
    assert out["target_row"] == decode.TARGET_ROW == "continuous+queue"
    target = out["rows"][decode.TARGET_ROW]
    assert out["actions_per_second_ratio"] == target["actions_per_second_ratio"]
    assert out["latency_ratio"] == target["latency_ratio"]
    assert out["first_action_match"] is True  # same weights, same greedy decoding: the same first action
    assert out["chunk"] == 8 and out["prefill_tokens"] > 16  # 16 image tokens + state + the prompt text
    # quick mode's bound model is the quickstart one: a 4-layer, hidden-128 LM reads about 0.9 M weights per token
    assert 3e6 < out["decode_bytes_per_token"] < 5e6
    assert set(out["targets"]) == set(decode.TARGETS)
    for key, entry in out["targets"].items():
        assert entry["value"] == out[key] and entry["target"] == decode.TARGETS[key]
        assert entry["pass"] is (entry["value"] >= entry["target"])
        assert entry["source"]
