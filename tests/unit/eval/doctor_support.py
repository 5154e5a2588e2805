"""A tiny trained checkpoint for the doctor tests, and the edits that plant one failure in a copy of it.

The dataset is 2 episodes × 4 frames of random 32×32 images with a zero robot state and ONE task, so the only
thing that tells the frames apart is the image: a model that memorises it (150 full-batch steps, token
accuracy 1.0 on both paths) has to use its vision pathway, and any change to the image pipeline shows.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from embodied.config import ModelSpec
from embodied.data import Episode, make_samples, to_batch, write_dataset
from embodied.models import MMLLM, MMLLMConfig
from embodied.models.integrity import write_model_manifest
from embodied.training.lineage import write_lineage
from tests.factory import ENCODER_SPECS, tiny_spec

TASK = "pick the red cube"
LOW, HIGH = -2.0, 2.0
ACTION_DIM = 7
BINS = 16


def episodes(seed: int = 0) -> list[Episode]:
    rng = np.random.default_rng(seed)
    return [
        Episode(
            images={cam: rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8) for cam in ("front", "wrist")},
            state=np.zeros((4, 9), np.float32),
            actions=rng.uniform(-1.9, 1.9, (4, ACTION_DIM)).astype(np.float32),
            task=TASK,
        )
        for _ in range(2)
    ]


def model_spec() -> dict[str, Any]:
    spec = tiny_spec(
        encoders={"image": ENCODER_SPECS["cnn"], "state": ENCODER_SPECS["proprio"]},
        heads={"action": {"kind": "action-tokens", "bins": BINS}},
    )
    return spec | {"action_low": [LOW] * ACTION_DIM, "action_high": [HIGH] * ACTION_DIM}


def train(model: MMLLM, demos: list[Episode], steps: int = 150) -> float:
    """Full-batch AdamW on every action sample; the final teacher-forced token accuracy."""
    batch = to_batch(model, make_samples(demos, ["action"], normalize=model.processor.normalize_actions))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        out = model(**batch)
        assert out.loss is not None
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
    model.eval()
    return float(model(**batch).metrics["action/accuracy"])


def build_run(root: Path) -> tuple[Path, Path]:
    """``root/data`` (dataset) and ``root/run/instruct`` (stage dir with ``model/`` and ``lineage.json``)."""
    data = write_dataset(episodes(), root / "data", fps=10)
    torch.manual_seed(0)
    model = MMLLM(MMLLMConfig(spec=model_spec()))
    accuracy = train(model, episodes())
    assert accuracy == 1.0, f"the fixture model did not memorise its demos (accuracy {accuracy})"
    stage = root / "run" / "instruct"
    model.save_pretrained(stage / "model")
    spec = ModelSpec.model_validate(model_spec())
    write_lineage(stage, stage="instruct", kind="instruct", parent=None, resumed_from=None, dataset=data, config=spec)
    return data, stage


def copy_model(model_dir: Path, dest: Path) -> Path:
    """A copy of the saved model directory alone (no lineage.json beside it)."""
    shutil.copytree(model_dir, dest)
    return dest


def edit_json(path: Path, edit: Any) -> None:
    """Rewrite the JSON file at ``path`` with ``edit(payload)`` applied in place, then re-seal the saved model's
    manifest: these edits plant mismatches for the doctor to find, not corruption for the integrity check."""
    payload = json.loads(path.read_text(encoding="utf-8"))
    edit(payload)
    path.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    write_model_manifest(path.parent)


def swap_action_tokens(model_dir: Path, a: str, b: str) -> None:
    """Swap two action tokens' entries in ``tokenizer.json`` (each keeps the other's id)."""

    def swap(payload: dict[str, Any]) -> None:
        entries = {t["content"]: t for t in payload["added_tokens"]}
        entries[a]["content"], entries[b]["content"] = b, a

    edit_json(model_dir / "tokenizer.json", swap)


def delete_action_token(model_dir: Path, token: str) -> None:
    """Remove ``token`` from the saved tokenizer files."""
    edit_json(
        model_dir / "tokenizer.json",
        lambda p: p.update(added_tokens=[t for t in p["added_tokens"] if t["content"] != token]),
    )
    edit_json(model_dir / "tokenizer_config.json", lambda p: p["extra_special_tokens"].remove(token))
