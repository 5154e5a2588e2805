"""The silent-zero check (every episode failed, returns positive) and the results fields it fills."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from embodied.data import Episode, write_dataset
from embodied.eval.results import DEFAULT_SUCCESS_RULE, AgentResult, agent_result
from embodied.eval.success_check import dataset_success_warning, silent_failure_warning


def test_warns_only_when_all_fail_with_positive_returns() -> None:
    warning = silent_failure_warning([False, False], [0.9, 0.0], "none", "agent mmllm")
    assert warning is not None and "every one of the 2 episodes" in warning and "1 had a positive return" in warning
    assert "success='reward>0'" in warning
    assert silent_failure_warning([False, True], [0.9, 0.9], "none", "x") is None  # one success: the rule works
    assert silent_failure_warning([False, False], [0.0, -1.0], "none", "x") is None  # nothing was paid
    assert silent_failure_warning([], [], "none", "x") is None


def _episode(reward: float, success: bool) -> Episode:
    n = 3
    return Episode(
        images={"front": np.zeros((n, 8, 8, 3), np.uint8)},
        state=np.zeros((n, 2), np.float32),
        actions=np.zeros((n, 1), np.float32),
        task="go",
        rewards=np.array([0.0, 0.0, reward], np.float32),
        dones=np.array([False, False, True]),
        success=success,
    )


def test_dataset_warning_reads_rewards_and_success(tmp_path: Path) -> None:
    silent = write_dataset([_episode(0.8, False), _episode(0.0, False)], tmp_path / "silent", fps=10)
    warning = dataset_success_warning(silent)
    assert warning is not None and "mean return 0.4" in warning
    fine = write_dataset([_episode(0.8, True), _episode(0.0, False)], tmp_path / "fine", fps=10)
    assert dataset_success_warning(fine) is None


def test_results_written_before_the_success_fields_still_read() -> None:
    new = agent_result("a", "e", "train", seeds=[0], successes=[True], lengths=[3], decision_seconds=[0.1], num_envs=1)
    old = new.model_dump(mode="json")
    del old["success_rule"], old["episode_returns"]
    restored = AgentResult.model_validate(old)
    assert restored.success_rule == DEFAULT_SUCCESS_RULE and restored.episode_returns is None
