"""The console script's error contract, fuzzed: every subcommand against a list of bad inputs.

For each case: exit code 2, no "Traceback" anywhere in the output, and exactly one ``embodied: ...`` line on
stderr that names the argument, file or key (``Case.names``). Add a command's bad inputs by appending ``Case``
rows to ``CASES``; argument strings may use the placeholders of ``Paths`` (``{model}``, ``{file}``, ...), which
the module fixture creates once (one tiny saved model, a few damaged copies, a fake dataset, broken files).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from embodied.cli import main
from embodied.models import MMLLM, MMLLMConfig
from tests.factory import ENCODER_SPECS, HEAD_SPECS, tiny_spec

ROOT = Path(__file__).resolve().parents[2]
TINY = str(ROOT / "configs/experiment/tiny.yaml")
ENV = "embodied/PickPlace-v0"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Case:
    """One bad command line: ``argv`` (with ``Paths`` placeholders) and a text the message must contain."""

    id: str
    argv: tuple[str, ...]
    names: str
    #: a read-only directory cannot stop root from writing: such cases are skipped when running as root
    needs_non_root: bool = False


def eval_(*extra: str, model: str = "{model}", out: str = "{tmp}/out") -> tuple[str, ...]:
    return ("eval", model, "--env", ENV, "--out", out, *extra)


def doctor(*extra: str, model: str = "{model}") -> tuple[str, ...]:
    return ("doctor", model, *extra)


def train(*extra: str, run: str = "{tmp}/run") -> tuple[str, ...]:
    return ("train", TINY, "--run-dir", run, *extra)


def policy_(policy: str) -> tuple[str, ...]:
    """``embodied collect --policy POLICY`` on the discrete MiniGrid env of ``tests.byo_policies``."""
    grid = ("data.env_ids=[tests.byo_policies:byo/GridDiscrete-v0]", "data.env_kwargs={}", "data.annotations=[]")
    return ("collect", TINY, "--out", "{tmp}/o", "--quiet", "--policy", policy, *grid, "data.episodes=1")


CARTPOLE = str(ROOT / "configs/experiment/cartpole-ppo.yaml")
CONTINUAL = str(ROOT / "configs/experiment/continual-tiny.yaml")


def train_rl(*extra: str) -> tuple[str, ...]:
    """An rl-only experiment (no dataset): a few tiny iterations on CartPole."""
    return (
        "train",
        CARTPOLE,
        "--run-dir",
        "{tmp}/rl-run",
        "stages.0.max_steps=1",
        "stages.0.rl.rollout_steps=2",
        *extra,
    )


CASES: list[Case] = [
    # ---- the seven rows of issue 16
    Case("eval-truncated-weights", eval_(model="{truncated}"), "model.safetensors"),
    Case("eval-device-not-there", eval_("--device", "cuda:99"), "--device cuda:99"),
    Case("train-data-nonexistent", train("--data", "{tmp}/nonexistent"), "--data"),
    Case("train-resume-nonexistent", train("--data", "{dataset}", "--resume", "{tmp}/nonexistent/ckpt"), "--resume"),
    Case("collect-out-unwritable", ("collect", TINY, "--out", "{file}/out"), "--out"),
    Case("eval-episodes-0", eval_("--episodes", "0"), "--episodes must be >= 1"),
    Case("config-hidden-size", ("config", TINY, "model.backbone.config.hidden_size=-5"), "backbone.config.hidden_size"),
    # ---- config: overrides, the backbone's HF config, broken files
    Case("config-heads-zero", ("config", TINY, "model.backbone.config.num_attention_heads=0"), "num_attention_heads"),
    Case("config-hidden-not-divisible", ("config", TINY, "model.backbone.config.hidden_size=30"), "multiple of"),
    Case("config-model-type", ("config", TINY, "model.backbone.config.model_type=qwen9"), "config.model_type"),
    Case("config-layers-text", ("config", TINY, "model.backbone.config.num_hidden_layers=x"), "num_hidden_layers"),
    Case("config-unknown-key", ("config", TINY, "model.projector.kindd=mlp"), "model.projector.kindd"),
    Case("config-unknown-name", ("config", TINY, "model.projector.kind=mpl"), "did you mean 'mlp'"),
    Case("config-bad-override", ("config", TINY, "seed"), "KEY=VALUE overrides"),
    Case("config-out-of-range", ("config", TINY, "data.episodes=0"), "data.episodes"),
    Case("config-nonexistent", ("config", "{tmp}/nonexistent.yaml"), "nonexistent.yaml"),
    Case("config-directory", ("config", "{tmp}"), "an existing YAML file"),
    Case("config-truncated-yaml", ("config", "{broken_yaml}"), "broken.yaml"),
    Case("config-binary", ("config", "{binary}"), "binary.yaml"),
    Case("config-missing-argument", ("config",), "config"),
    # ---- list / envs
    Case("list-unknown-option", ("list", "--yaml"), "--yaml"),
    Case("envs-unknown-option", ("envs", "--yaml"), "--yaml"),
    Case("unknown-command", ("trian",), "trian"),
    # ---- collect
    Case("collect-config-nonexistent", ("collect", "{tmp}/nope.yaml", "--out", "{tmp}/out"), "nope.yaml"),
    Case("collect-out-exists", ("collect", TINY, "--out", "{tmp}"), "already exists"),
    Case("collect-out-read-only", ("collect", TINY, "--out", "{read_only}/o"), "not writable", needs_non_root=True),
    Case("collect-unknown-env-id", ("collect", TINY, "--out", "{tmp}/o", "data.env_ids=[embodied/No-v0]"), "env_ids.0"),
    Case(
        "collect-bad-env-kwarg", ("collect", TINY, "--out", "{tmp}/o", "data.env_kwargs.colour=red"), "data.env_kwargs"
    ),
    Case("collect-bad-override", ("collect", TINY, "--out", "{tmp}/o", "data.episodess=3"), "data.episodess"),
    # ---- train
    Case("train-config-nonexistent", ("train", "{tmp}/nonexistent.yaml", "--run-dir", "{tmp}/run"), "nonexistent.yaml"),
    Case("train-run-dir-unwritable", train("--data", "{dataset}", run="{file}/run"), "--run-dir"),
    Case("train-run-dir-read-only", train(run="{read_only}/run"), "not writable", needs_non_root=True),
    Case("train-data-is-a-file", train("--data", "{file}"), "--data"),
    Case("train-data-not-a-dataset", train("--data", "{tmp}"), "not a LeRobot v3 dataset"),
    Case("train-data-truncated-info", train("--data", "{broken_dataset}"), "info.json"),
    Case("train-resume-is-a-file", train("--data", "{dataset}", "--resume", "{file}"), "--resume"),
    Case("train-started-without-resume", train("--data", "{dataset}", run="{started_run}"), "--resume auto"),
    Case("train-bad-override", train("--data", "{dataset}", "stages.0.max_steps=-1"), "stages.0.max_steps"),
    Case("train-hidden-size", train("--data", "{dataset}", "model.backbone.config.hidden_size=-5"), "hidden_size"),
    # ---- rl stages (issue 10): head without log-prob, unknown env, action space, reward key, algorithm
    Case("rl-head-without-log-prob", train_rl("model.heads={action: {kind: diffusion, chunk: 2}}"), "stages.0.rl.head"),
    Case("rl-unknown-env", train_rl("stages.0.rl.env=NoSuchEnv-v9"), "rl.env 'NoSuchEnv-v9'"),
    Case("rl-action-space", train_rl("stages.0.rl.adapter=null"), "Discrete(2)"),
    Case("rl-reward-key", train_rl("stages.0.rl.reward=success", "stages.0.rl.success_key=is_success"), "is_success"),
    Case("rl-unknown-algorithm", train_rl("stages.0.rl.algorithm.kind=ppx"), "did you mean 'ppo'"),
    Case("rl-bad-algorithm-value", train_rl("stages.0.rl.algorithm.clip_coef=-1"), "stages.0.rl.algorithm.clip_coef"),
    Case("rl-self-imitation-key", train_rl("stages.0.rl.self_imitation.stepz=4"), "did you mean 'steps'"),
    Case("rl-lr-schedule", train_rl("stages.0.lr_schedule=linear"), "stages.0.lr_schedule"),
    # ---- quickstart
    Case("quickstart-config-nonexistent", ("quickstart", "{tmp}/nonexistent.yaml"), "nonexistent.yaml"),
    Case("quickstart-run-dir-unwritable", ("quickstart", TINY, "--run-dir", "{file}/run"), "--run-dir"),
    Case("quickstart-run-dir-not-empty", ("quickstart", TINY, "--run-dir", "{started_run}"), "already holds files"),
    Case("quickstart-bad-override", ("quickstart", TINY, "seed=minus"), "seed"),
    # ---- eval: paths, damaged models, devices, numbers, names
    Case("eval-task-adapter-unknown", eval_("--task-adapter", "task-9"), "--task-adapter task-9"),
    Case("continual-no-tasks", ("continual", TINY, "--run-dir", "{tmp}/cl"), "has no 'tasks:' section"),
    Case("continual-run-dir-unwritable", ("continual", CONTINUAL, "--run-dir", "{file}/cl"), "--run-dir"),
    Case("continual-resume-not-auto", ("continual", CONTINUAL, "--run-dir", "{tmp}/cl", "--resume", "x"), "--resume x"),
    Case(
        "continual-hook-cannot-serve",
        (
            "continual",
            CONTINUAL,
            "continual.methods={a: [{kind: adapters}]}",
            "stages.0.kind=align",
            "stages.0.mixture={caption: 1.0}",
            "--run-dir",
            "{tmp}/cl",
        ),
        "continual.methods.a.0.kind",
    ),
    Case("train-hook-unknown", train("--data", "{dataset}", "stages.0.hooks=[{kind: ewk}]"), "stages.0.hooks.0.kind"),
    Case(
        "train-hook-bad-setting",
        train("--data", "{dataset}", "stages.1.hooks=[{kind: replay, ratio: -1}]"),
        "stages.1.hooks.0.ratio",
    ),
    Case("eval-checkpoint-nonexistent", eval_(model="{tmp}/nonexistent"), "nonexistent does not exist"),
    Case("eval-checkpoint-is-a-file", eval_(model="{file}"), "is not a directory"),
    Case("eval-checkpoint-not-a-model", eval_(model="{tmp}"), "neither a saved model"),
    Case("eval-flipped-weights", eval_(model="{flipped_weights}"), "model.safetensors: sha256 does not match"),
    Case("eval-flipped-config", eval_(model="{flipped_config}"), "config.json: sha256 does not match"),
    Case("eval-flipped-tokenizer", eval_(model="{flipped_tokenizer}"), "tokenizer.json"),
    Case("eval-unlisted-file", eval_(model="{unlisted}"), "stray.bin: not listed"),
    Case("eval-out-unwritable", eval_(out="{file}/out"), "--out"),
    Case("eval-out-is-a-file", eval_(out="{file}"), "--out"),
    Case("eval-out-read-only", eval_(out="{read_only}/out"), "not writable", needs_non_root=True),
    Case("eval-device-cuda-unavailable", eval_("--device", "cuda"), "--device cuda")
    if not torch.cuda.is_available()
    else Case("eval-device-cuda-index", eval_("--device", "cuda:4096"), "--device cuda:4096"),
    Case("eval-device-nonsense", eval_("--device", "toaster"), "--device 'toaster'"),
    Case("eval-episodes-negative", eval_("--episodes", "-1"), "--episodes"),
    Case("eval-episodes-text", eval_("--episodes", "many"), "--episodes"),
    Case("eval-num-envs-0", eval_("--num-envs", "0"), "--num-envs"),
    Case("eval-max-steps-0", eval_("--max-steps", "0"), "--max-steps"),
    Case("eval-videos-negative", eval_("--videos", "-1"), "--videos"),
    Case("eval-vqa-episodes-negative", eval_("--vqa-episodes", "-2"), "--vqa-episodes"),
    Case("eval-plan-episodes-negative", eval_("--plan-episodes", "-2"), "--plan-episodes"),
    Case("eval-seed-negative", eval_("--seed", "-1"), "--seed"),
    Case("eval-split-unknown", eval_("--split", "test"), "--split"),
    Case("eval-unknown-env-id", ("eval", "{model}", "--env", "embodied/Nope-v0", "--out", "{tmp}/o"), "Nope-v0"),
    Case(
        "eval-env-module-not-importable",
        ("eval", "{model}", "--env", "no_such_module:my/Env-v0", "--out", "{tmp}/out"),
        "cannot import module 'no_such_module'",
    ),
    Case(
        "eval-env-unknown-names-module-form",
        ("eval", "{model}", "--env", "my/Env-v0", "--out", "{tmp}/out"),
        "--env mymodule:my/Env-v0",
    ),
    Case("envs-import-not-importable", ("envs", "--import", "no_such_module"), "--import no_such_module"),
    Case(
        "collect-env-module-not-importable",
        ("collect", TINY, "--out", "{tmp}/data", "data.env_ids=[no_such_module:my/Env-v0]"),
        "data.env_ids.0",
    ),
    Case("eval-env-kwarg-no-value", eval_("--env-kwarg", "image_size"), "--env-kwarg 'image_size'"),
    Case("eval-env-kwarg-unknown", eval_("--env-kwarg", "colour=red"), "colour"),
    Case("eval-env-kwarg-bad-value", eval_("--env-kwarg", "control=joystick"), "control"),
    Case("eval-unknown-baseline", eval_("--baselines", "oracle"), "oracle"),
    Case("eval-unknown-head", eval_("--head", "nope"), "--head 'nope'"),
    Case("eval-missing-env", ("eval", "{model}", "--out", "{tmp}/o"), "--env"),
    # ---- doctor
    Case("doctor-checkpoint-nonexistent", doctor(model="{tmp}/nonexistent"), "nonexistent: no such checkpoint"),
    Case("doctor-checkpoint-not-a-model", doctor(model="{tmp}"), "not a saved model"),
    Case("doctor-truncated-weights", doctor(model="{truncated}"), "model.safetensors"),
    Case("doctor-flipped-config", doctor(model="{flipped_config}"), "config.json"),
    Case("doctor-unlisted-file", doctor(model="{unlisted}"), "stray.bin"),
    Case("doctor-data-nonexistent", doctor("--data", "{tmp}/nonexistent"), "--data"),
    Case("doctor-data-not-a-dataset", doctor("--data", "{tmp}"), "--data"),
    Case("doctor-data-truncated-info", doctor("--data", "{broken_dataset}"), "info.json"),
    Case("doctor-unknown-env-id", doctor("--env", "embodied/Nope-v0"), "--env embodied/Nope-v0"),
    Case("doctor-env-kwargs-json", doctor("--env", ENV, "--env-kwargs", "{control"), "--env-kwargs"),
    Case("doctor-env-kwargs-list", doctor("--env", ENV, "--env-kwargs", "[1]"), "--env-kwargs"),
    Case("doctor-env-kwargs-unknown", doctor("--env", ENV, "--env-kwargs", '{"colour": 1}'), "--env"),
    Case("doctor-observations-0", doctor("--observations", "0"), "--observations"),
    Case("doctor-samples-0", doctor("--samples", "0"), "--samples"),
    Case("doctor-episodes-0", doctor("--episodes", "0"), "--episodes"),
    Case("doctor-seed-negative", doctor("--seed", "-3"), "--seed"),
    # ---- dataset info | validate (issue 15)
    Case("dataset-info-nonexistent", ("dataset", "info", "{tmp}/nonexistent"), "dataset info"),
    Case("dataset-validate-is-a-file", ("dataset", "validate", "{file}"), "is a file"),
    Case("dataset-info-not-a-dataset", ("dataset", "info", "{tmp}"), "meta/info.json not found"),
    Case("dataset-validate-not-a-dataset", ("dataset", "validate", "{tmp}"), "meta/info.json not found"),
    Case("dataset-info-truncated-info", ("dataset", "info", "{broken_dataset}"), "info.json"),
    Case("dataset-validate-empty-info", ("dataset", "validate", "{dataset}"), "codebase_version"),
    Case("dataset-unknown-action", ("dataset", "check", "{tmp}"), "'check'"),
    Case("dataset-missing-dir", ("dataset", "info"), "DIR"),
    # issue 14 part B: user policies for collect, sampling temperature for eval
    Case("collect-policy-unknown-module", policy_("no_such_module:Bot"), "--policy no_such_module:Bot: cannot import"),
    Case("collect-policy-unknown-name", policy_("tests.byo_policies:Nope"), "has no attribute 'Nope'"),
    Case("collect-policy-not-callable", policy_("tests.byo_policies:NOT_CALLABLE"), "NOT_CALLABLE' is a int"),
    Case("collect-policy-not-module-callable", policy_("GridBot"), "expected module:callable"),
    Case("collect-policy-no-act", policy_("tests.byo_policies:NoAct"), "without act"),
    Case("collect-policy-wrong-action-space", policy_("tests.byo_policies:WrongBot"), "action 9 is not in the env's"),
    Case("eval-temperature-zero", eval_("--temperature", "0"), "--temperature must be a finite number > 0"),
    Case("eval-temperature-negative", eval_("--temperature=-1"), "--temperature"),
    Case("eval-temperature-not-a-number", eval_("--temperature", "hot"), "--temperature"),
]

#: run as a real process too: the console output as a user sees it
SUBPROCESS_CASES = ["eval-truncated-weights", "config-hidden-size"]


def damaged_copy(model: Path, dest: Path, name: str, how: str) -> Path:
    """A copy of ``model`` with file ``name`` truncated, bit-flipped or added (``how``)."""
    shutil.copytree(model, dest)
    path = dest / name
    if how == "truncate":
        path.write_bytes(path.read_bytes()[:100])
    elif how == "flip":
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
    else:
        path.write_bytes(b"stray")
    return dest


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The placeholders' paths: one tiny saved model, damaged copies of it, fake datasets and broken files."""
    root = tmp_path_factory.mktemp("cli-errors")
    spec = tiny_spec(encoders={"image": ENCODER_SPECS["cnn"], "state": ENCODER_SPECS["proprio"]},
                     heads={"act": {**HEAD_SPECS["action-tokens"], "chunk": 4}})  # fmt: skip
    spec.update(cameras=["front"], state_dim=15)
    torch.manual_seed(0)
    model = root / "model"
    MMLLM(MMLLMConfig(spec=spec)).save_pretrained(model)
    (root / "file.txt").write_text("not a directory")
    (root / "broken.yaml").write_text("name: tiny\nmodel: {extends: [unclosed\n")
    (root / "binary.yaml").write_bytes(b"\xff\xfe\x00\x81" * 8)
    for name, info in (("dataset", "{}"), ("broken_dataset", '{"codebase_version": "v3.')):
        (root / name / "meta").mkdir(parents=True)
        (root / name / "meta" / "info.json").write_text(info)
    (root / "started_run" / "align").mkdir(parents=True)
    read_only = root / "read_only"
    read_only.mkdir(mode=0o555)
    return {
        "model": str(model),
        "file": str(root / "file.txt"),
        "broken_yaml": str(root / "broken.yaml"),
        "binary": str(root / "binary.yaml"),
        "dataset": str(root / "dataset"),
        "broken_dataset": str(root / "broken_dataset"),
        "started_run": str(root / "started_run"),
        "read_only": str(read_only),
        "truncated": str(damaged_copy(model, root / "truncated", "model.safetensors", "truncate")),
        "flipped_weights": str(damaged_copy(model, root / "flipped_weights", "model.safetensors", "flip")),
        "flipped_config": str(damaged_copy(model, root / "flipped_config", "config.json", "flip")),
        "flipped_tokenizer": str(damaged_copy(model, root / "flipped_tokenizer", "tokenizer.json", "flip")),
        "unlisted": str(damaged_copy(model, root / "unlisted", "stray.bin", "add")),
    }


def resolve(case: Case, paths: dict[str, str], tmp: Path) -> list[str]:
    if case.needs_non_root and IS_ROOT:
        pytest.skip("root writes into read-only directories")
    values = {**paths, "tmp": str(tmp)}
    return [PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), arg) for arg in case.argv]


def check_output(case: Case, code: int, out: str, err: str) -> None:
    assert code == 2, f"{case.id}: exit code {code}\n{out}\n{err}"
    assert "Traceback" not in out + err, f"{case.id}:\n{err}"
    lines = [line for line in err.splitlines() if line.startswith("embodied:")]
    assert len(lines) == 1, f"{case.id}: expected one 'embodied: ...' line on stderr, got:\n{err}"
    assert case.names in lines[0], f"{case.id}: {case.names!r} not in {lines[0]!r}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_and_exit_code_2(
    case: Case, paths: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = resolve(case, paths, tmp_path)
    code = main(argv)
    captured = capsys.readouterr()
    check_output(case, code, captured.out, captured.err)


@pytest.mark.parametrize("case_id", SUBPROCESS_CASES)
def test_the_console_script_prints_exactly_one_line(case_id: str, paths: dict[str, str], tmp_path: Path) -> None:
    case = next(c for c in CASES if c.id == case_id)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "embodied.cli", *resolve(case, paths, tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    check_output(case, result.returncode, result.stdout, result.stderr)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_bug_prints_the_traceback_and_where_to_report_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import embodied.cli

    def broken(args: object) -> int:
        raise ZeroDivisionError("planted bug")

    monkeypatch.setattr(embodied.cli, "_cmd_list", broken)
    assert main(["list"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError: planted bug" in err
    assert err.strip().splitlines()[-1].startswith("embodied: this is a bug in embodied")


def test_help_still_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--help"]) == 0
    assert "--episodes" in capsys.readouterr().out


def test_overrides_may_follow_the_options(paths: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", TINY, "seed=5"]) == 0
    assert "seed: 5" in capsys.readouterr().out
    assert main(["collect", TINY, "--out", paths["file"] + "/x", "seed=5"]) == 2  # still the --out check
    assert "--out" in capsys.readouterr().err


def test_fixture_damage_is_real(paths: dict[str, str]) -> None:
    """The damaged copies differ from the model only where planted (so each case tests what its id says)."""
    manifest = json.loads((Path(paths["model"]) / "manifest.json").read_text())
    assert (Path(paths["truncated"]) / "model.safetensors").stat().st_size == 100
    assert manifest["files"]["model.safetensors"]["size"] > 100
    assert "stray.bin" not in manifest["files"]
