"""The console script: ``embodied list`` (table and JSON), ``embodied config``, errors as exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from embodied.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_list_json_names_every_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--json"]) == 0
    catalog = json.loads(capsys.readouterr().out)
    assert set(catalog) >= {"encoders", "projectors", "backbones", "heads", "peft-methods", "algorithms", "hooks"}
    assert {"ppo", "grpo", "rloo"} <= set(catalog["algorithms"])
    assert {"hf-vision", "cnn", "proprio", "pointcloud"} <= set(catalog["encoders"])
    assert {"linear", "mlp", "perceiver", "qformer"} <= set(catalog["projectors"])
    assert {"text", "action-tokens", "continuous", "diffusion"} <= set(catalog["heads"])
    assert {"lora", "prefix", "ln"} <= set(catalog["peft-methods"])
    assert all(desc for entries in catalog.values() for desc in entries.values())


def test_list_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "projectors:" in out and "perceiver" in out


def test_config_prints_resolved_yaml_and_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", str(ROOT / "configs/experiment/tiny.yaml"), "seed=4"]) == 0
    assert "seed: 4" in capsys.readouterr().out
    assert main(["config", str(ROOT / "configs/experiment/tiny.yaml"), "model.projector.kind=mpl"]) == 2
    assert "did you mean 'mlp'" in capsys.readouterr().err


def test_console_script_is_installed() -> None:
    exe = Path(sys.executable).with_name("embodied")
    out = subprocess.run([str(exe), "list", "--json"], capture_output=True, text=True, check=True)
    assert "hf-causal-lm" in json.loads(out.stdout)["backbones"]


def test_envs_json_lists_every_registered_id(capsys: pytest.CaptureFixture[str]) -> None:
    from embodied.envs import ENV_IDS

    assert main(["envs", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    # ids other tests registered with register_adapted (byo/...) are listed too: compare the embodied/ ones
    assert {row["id"] for row in rows if row["id"].startswith("embodied/")} == set(ENV_IDS)
    pick = next(row for row in rows if row["id"] == "embodied/PickPlace-v0")
    assert set(pick["control_modes"]) == {"primitive", "ee_delta"}
    assert "instruction" in pick["observation_keys"] and pick["instruction_example"]
