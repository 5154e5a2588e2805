"""Saved-model manifests: a bit flip, truncation, missing or unlisted file anywhere is caught on load, by name."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
import torch

from embodied.errors import UserError
from embodied.models import MMLLM, MMLLMConfig
from embodied.models.integrity import MODEL_MANIFEST, ModelIntegrityError, verify_model_dir, write_model_manifest
from tests.factory import ENCODER_SPECS, HEAD_SPECS, tiny_spec

#: every file ``MMLLM.save_pretrained`` writes (checked against a real save below, so a new file joins the list)
SAVED_FILES = [
    "chat_template.jinja",
    "config.json",
    "manifest.json",
    "model.safetensors",
    "processor_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    spec = tiny_spec(encoders={"state": ENCODER_SPECS["proprio"]}, heads={"act": HEAD_SPECS["action-tokens"]})
    directory = tmp_path_factory.mktemp("integrity") / "model"
    MMLLM(MMLLMConfig(spec=spec)).save_pretrained(directory)
    return directory


@pytest.fixture
def copy(saved: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(saved, tmp_path / "model"))


def flip_bit(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_save_pretrained_lists_every_file_in_the_manifest(saved: Path) -> None:
    assert sorted(p.name for p in saved.iterdir()) == SAVED_FILES
    verify_model_dir(saved)  # a fresh save verifies
    assert MMLLM.from_pretrained(saved).placeholder_ids


@pytest.mark.parametrize("name", SAVED_FILES)
def test_a_bit_flip_in_any_file_is_detected_on_load_naming_the_file(copy: Path, name: str) -> None:
    flip_bit(copy / name)
    with pytest.raises(ModelIntegrityError, match=name.replace(".", r"\.")) as caught:
        MMLLM.from_pretrained(copy)
    assert isinstance(caught.value, UserError) and isinstance(caught.value, ValueError)


def test_truncation_missing_and_unlisted_files_are_named(copy: Path) -> None:
    weights = copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ModelIntegrityError, match=r"model\.safetensors: 100 bytes but .* says"):
        verify_model_dir(copy)
    (copy / "tokenizer.json").unlink()
    with pytest.raises(ModelIntegrityError, match=r"tokenizer\.json: listed in .* but missing"):
        verify_model_dir(copy)
    (copy / "notes.txt").write_text("hello")
    with pytest.raises(ModelIntegrityError, match=r"notes\.txt: not listed in"):
        verify_model_dir(copy)
    with pytest.raises(ModelIntegrityError, match="no such saved model directory"):
        verify_model_dir(copy / "nope")


def test_a_file_added_after_saving_is_sealed_by_writing_the_manifest_again(copy: Path) -> None:
    (copy / "value_head.safetensors").write_bytes(b"\x00" * 16)  # e.g. an RL stage's critic
    with pytest.raises(ModelIntegrityError, match=r"value_head\.safetensors: not listed"):
        verify_model_dir(copy)
    write_model_manifest(copy)
    verify_model_dir(copy)
    before = (copy / MODEL_MANIFEST).read_bytes()
    write_model_manifest(copy)  # idempotent: the same directory gives the same bytes
    assert (copy / MODEL_MANIFEST).read_bytes() == before and b"value_head.safetensors" in before
    assert not (copy / (MODEL_MANIFEST + ".tmp")).exists()


def test_nested_files_are_covered(copy: Path) -> None:
    (copy / "extra").mkdir()
    (copy / "extra" / "adapter.safetensors").write_bytes(b"abc")
    write_model_manifest(copy)
    flip_bit(copy / "extra" / "adapter.safetensors")
    with pytest.raises(ModelIntegrityError, match=r"extra/adapter\.safetensors: sha256 does not match"):
        verify_model_dir(copy)


def test_a_model_saved_before_manifests_loads_with_a_warning(copy: Path, caplog: pytest.LogCaptureFixture) -> None:
    (copy / MODEL_MANIFEST).unlink()
    with caplog.at_level(logging.WARNING, logger="embodied"):
        model = MMLLM.from_pretrained(copy)
    assert model.placeholder_ids
    assert any("loading it unverified" in r.message and str(copy) in r.message for r in caplog.records)
