"""``embodied doctor``: a healthy tiny checkpoint passes all five checks; each planted failure is caught and named."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from gymnasium import spaces

from embodied.cli import main
from embodied.data import write_dataset
from embodied.eval.doctor import CheckResult, DoctorInputError, DoctorReport, exit_code, format_report, run_doctor
from embodied.eval.doctor_replay import check_demo_replay
from embodied.eval.doctor_sensitivity import check_image_sensitivity, probe_observations
from embodied.eval.doctor_tokens import check_action_tokens
from embodied.models import MMLLM, MMLLMConfig, MMLLMProcessor
from embodied.models.integrity import write_model_manifest
from tests.factory import HEAD_SPECS
from tests.unit.eval import doctor_support as support

CHECKS = ["image-sensitivity", "demo-replay", "action-normalisation", "action-tokens", "preprocessing-parity"]
BOX = spaces.Box(support.LOW, support.HIGH, (support.ACTION_DIM,), np.float32)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(dataset, stage dir) of a checkpoint trained to token accuracy 1.0 on its demos."""
    return support.build_run(tmp_path_factory.mktemp("doctor"))


@pytest.fixture
def copy(run: tuple[Path, Path], tmp_path: Path) -> Path:
    return support.copy_model(run[1] / "model", tmp_path / "model")


def results(report: DoctorReport) -> dict[str, CheckResult]:
    return {r.name: r for r in report.results}


def failed(report: DoctorReport) -> list[str]:
    return [r.name for r in report.results if r.status == "FAIL"]


def test_healthy_checkpoint_passes_all_five_with_the_lineage_dataset(run: tuple[Path, Path]) -> None:
    data, stage = run
    report = run_doctor(stage, action_space=BOX)  # the stage dir: model/ inside, dataset from lineage.json
    by_name = results(report)
    assert list(by_name) == CHECKS
    assert all(r.status == "pass" for r in report.results), format_report(report)
    assert str(data.resolve()) in report.dataset_note and "lineage.json" in report.dataset_note
    assert "8 distinct action chunk(s)" in by_name["image-sensitivity"].evidence
    replay = by_name["demo-replay"].evidence
    assert "accuracy 1.000, inference path accuracy 1.000" in replay and "agree on 1.000" in replay
    assert "ids 402..417, in bin order" in by_name["action-tokens"].evidence
    assert exit_code(report) == 0


def test_without_a_dataset_the_data_checks_are_skipped_not_passed(copy: Path) -> None:
    report = run_doctor(copy)
    by_name = results(report)
    assert by_name["demo-replay"].status == "skip" and "no dataset" in by_name["demo-replay"].evidence
    assert by_name["action-normalisation"].status == "skip"
    assert "random images, no dataset" in by_name["image-sensitivity"].evidence
    assert report.dataset_note.startswith("none")
    assert exit_code(report) == 0 and exit_code(report, strict=True) == 1
    assert "3 passed, 0 failed, 2 skipped" in format_report(report)


def test_dead_image_pathway_fails_image_sensitivity_only(copy: Path, run: tuple[Path, Path]) -> None:
    model = MMLLM.from_pretrained(copy)
    with torch.no_grad():
        for param in model.stream_map["image"].projector.parameters():
            param.zero_()  # image tokens are now all zeros: the action cannot depend on the image
    model.save_pretrained(copy)
    report = run_doctor(copy, data=run[0], action_space=BOX)
    assert failed(report) == ["image-sensitivity"]
    evidence = results(report)["image-sensitivity"].evidence
    assert "1 distinct action chunk(s)" in evidence and "largest identical group 8/8" in evidence


def test_inference_only_mismatch_fails_demo_replay(run: tuple[Path, Path]) -> None:
    model = MMLLM.from_pretrained(run[1] / "model").eval()
    demos = support.episodes()
    assert check_demo_replay(model, demos).passed
    spec = model.config.model_spec.model_copy(update={"image_mean": [0.485, 0.456, 0.406], "image_std": [0.229] * 3})
    other = MMLLMProcessor(model.tokenizer, spec, model.processor.streams)  # ImageNet statistics at inference only
    for result in (check_demo_replay(model, demos, processor=other), check_demo_replay(model, demos, prompt=str)):
        assert not result.passed
        assert "training path (teacher-forced) accuracy 1.000" in result.evidence
        inference = float(result.evidence.split("inference path accuracy ")[1].split(";")[0])
        agreement = float(result.evidence.split("agree on ")[1].split(" ")[0])
        assert inference < 0.8 and agreement < 0.9


def test_env_bounds_and_shape_mismatch_fail_normalisation(run: tuple[Path, Path]) -> None:
    report = run_doctor(run[1], action_space=spaces.Box(-1.0, 1.0, (7,), np.float32))
    assert failed(report) == ["action-normalisation"]
    assert "dim 0: env [-1, 1] vs [-2, 2]" in results(report)["action-normalisation"].evidence
    report = run_doctor(run[1], action_space=spaces.Box(-2.0, 2.0, (4,), np.float32))
    assert "env action shape (4,) but the model's action_dim is 7" in results(report)["action-normalisation"].evidence


def test_edited_bounds_fail_normalisation(copy: Path, run: tuple[Path, Path]) -> None:
    support.edit_json(copy / "processor_config.json", lambda p: p["spec"].update(action_high=[3.0] * 7))
    evidence = results(run_doctor(copy, data=run[0], action_space=BOX))["action-normalisation"].evidence
    assert "saved processor_config.json bounds" in evidence and "3.0" in evidence
    # narrower bounds in the model config: the demos (|a| up to 1.9) were clipped during training
    support.edit_json(copy / "config.json", lambda p: p["spec"].update(action_low=[-1.0] * 7, action_high=[1.0] * 7))
    report = run_doctor(copy, data=run[0])
    assert "action-normalisation" in failed(report)
    assert "dataset actions leave the normalisation range in" in results(report)["action-normalisation"].evidence


@pytest.mark.parametrize("plant", ["permute", "delete"])
def test_edited_tokenizer_fails_action_tokens(plant: str, copy: Path, run: tuple[Path, Path]) -> None:
    if plant == "permute":
        support.swap_action_tokens(copy, "<act_3>", "<act_4>")
    else:
        support.delete_action_token(copy, "<act_5>")
    report = run_doctor(copy, data=run[0], action_space=BOX)
    assert "action-tokens" in failed(report)
    evidence = results(report)["action-tokens"].evidence
    if plant == "permute":
        assert "<act_3> is 406 (expected 405), <act_4> is 405 (expected 406)" in evidence
    else:
        assert "the tokenizer lacks <act_5>" in evidence and "11 misplaced" in evidence


def test_changed_image_mean_fails_preprocessing_parity(copy: Path, run: tuple[Path, Path]) -> None:
    support.edit_json(copy / "processor_config.json", lambda p: p["spec"].update(image_mean=[0.4, 0.5, 0.5]))
    report = run_doctor(copy, data=run[0], action_space=BOX)
    assert failed(report) == ["preprocessing-parity"]
    evidence = results(report)["preprocessing-parity"].evidence
    assert "image_mean: saved [0.4, 0.5, 0.5] vs model config [0.5, 0.5, 0.5]" in evidence
    assert "dataset frame: images/front values differ" in evidence and "images/wrist" in evidence
    assert "state" not in evidence.split("model config")[1]  # only the pixels differ


def test_missing_processor_config_fails_preprocessing_parity(copy: Path) -> None:
    (copy / "processor_config.json").unlink()
    write_model_manifest(copy)  # a model saved without a processor, not a damaged one
    evidence = results(run_doctor(copy))["preprocessing-parity"].evidence
    assert "no usable processor_config.json" in evidence and "not found" in evidence


@pytest.mark.parametrize("kind", ["continuous", "diffusion"])
def test_parallel_action_heads_are_replayed_by_value(kind: str) -> None:
    torch.manual_seed(0)
    model = MMLLM(MMLLMConfig(spec=support.model_spec() | {"heads": {"act": HEAD_SPECS[kind]}})).eval()
    demos = support.episodes()
    replay = check_demo_replay(model, demos)
    assert replay.passed and "agree on 1.000 of 224 action values" in replay.evidence  # 8 samples × 4 steps × 7
    broken = check_demo_replay(model, demos, prompt=str)
    assert not broken.passed
    observations, prompt, source = probe_observations(model, demos, 8)
    assert "head 'act': 8 observations" in check_image_sensitivity(model, observations, prompt, source=source).evidence
    assert check_action_tokens(model, model.tokenizer).status == "skip"


def test_pointing_heads_are_checked_for_image_sensitivity() -> None:
    """A pointer head's pixels must move with the image; zeroed key maps (a constant argmax) are caught."""
    torch.manual_seed(0)
    model = MMLLM(MMLLMConfig(spec=support.model_spec() | {"heads": {"point": HEAD_SPECS["pointer"]}})).eval()
    observations, prompt, source = probe_observations(model, support.episodes(), 8)
    healthy = check_image_sensitivity(model, observations, prompt, source=source)
    assert healthy.passed and "head 'point': 8 observations" in healthy.evidence
    with torch.no_grad():
        for conv in model.head_map["point"].key_proj.values():
            conv.weight.zero_()
            conv.bias.zero_()
    dead = check_image_sensitivity(model, observations, prompt, source=source)
    assert not dead.passed and "ignores the image" in dead.evidence


def test_a_check_that_raises_is_a_failure_with_the_error(copy: Path, tmp_path: Path) -> None:
    demos = support.episodes()
    for demo in demos:
        demo.state = np.zeros((len(demo), 15), np.float32)  # the model reads a 9-dim state
    data = write_dataset(demos, tmp_path / "data15", fps=10)
    report = run_doctor(copy, data=data, action_space=BOX)
    replay = results(report)["demo-replay"]
    assert replay.status == "FAIL" and replay.evidence.startswith("the check raised")
    assert results(report)["action-tokens"].passed  # the other checks still ran


def test_bad_input_is_an_input_error_naming_the_path(tmp_path: Path, copy: Path) -> None:
    with pytest.raises(DoctorInputError, match="missing: no such checkpoint"):
        run_doctor(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DoctorInputError, match="empty: not a saved model"):
        run_doctor(empty)
    with pytest.raises(DoctorInputError, match=r"--data .*empty.*not a LeRobot dataset"):
        run_doctor(copy, data=empty)


def test_cli_table_json_and_exit_codes(
    run: tuple[Path, Path], copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, stage = run
    assert main(["doctor", str(stage)]) == 0
    out = capsys.readouterr().out
    assert all(f"{name}" in out for name in CHECKS) and "5 passed, 0 failed, 0 skipped" in out
    support.swap_action_tokens(copy, "<act_3>", "<act_4>")
    assert main(["doctor", str(copy), "--data", str(data), "--json"]) == 1
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["results"]}
    assert rows["action-tokens"]["status"] == "FAIL" and not rows["action-tokens"]["passed"]
    assert main(["doctor", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope: no such checkpoint directory" in err and "Traceback" not in err
    assert main(["doctor", str(stage), "--env", "embodied/PickPlace-v0", "--env-kwargs", "{control"]) == 2
    assert "--env-kwargs is not valid JSON" in capsys.readouterr().err
    assert main(["doctor", str(stage), "--env", "embodied/NoSuchEnv-v0"]) == 2
    assert "--env embodied/NoSuchEnv-v0: cannot make the env" in capsys.readouterr().err


def test_cli_env_action_space_comes_from_gymnasium(run: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    args = ["doctor", str(run[1]), "--env", "embodied/PickPlace-v0", "--env-kwargs", '{"control": "ee_delta"}']
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "env action shape (4,) but the model's action_dim is 7" in out
