"""MMLLM assembly: prompts and placeholders, label masking, save/load round trips, AutoModel, PEFT reload."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoConfig, AutoModel

from embodied.config import ConfigError
from embodied.models import MMLLM, MMLLMConfig, MMLLMProcessor
from tests.factory import ENCODER_SPECS, HEAD_SPECS, batch_for, observation, tiny_spec

ALL_HEADS = {name: HEAD_SPECS[name] for name in ("text", "action-tokens", "continuous")}
TWO_STREAMS = {"image": ENCODER_SPECS["cnn"], "state": ENCODER_SPECS["proprio"]}


@pytest.fixture(scope="module")
def model() -> MMLLM:
    torch.manual_seed(0)
    return MMLLM(MMLLMConfig(spec=tiny_spec(encoders=TWO_STREAMS, heads=ALL_HEADS))).eval()


def test_prompt_holds_each_stream_placeholder_num_tokens_times(model: MMLLM) -> None:
    batch = batch_for(model)
    for name, stream in model.streams.items():
        counts = (batch["input_ids"] == model.placeholder_ids[name]).sum(dim=1)
        assert counts.tolist() == [stream.num_tokens] * 2
    # two cameras share the image encoder: twice the per-camera tokens
    assert model.streams["image"].num_tokens == 2 * model.streams["image"].projector.num_tokens


def test_labels_cover_only_target_tokens(model: MMLLM) -> None:
    proc = model.processor
    batch = proc([observation(0)], ["pick the cube"], ["red"])
    target = model.tokenizer("red", add_special_tokens=False)["input_ids"] + [model.tokenizer.eos_token_id]
    trained = batch["labels"][0][batch["labels"][0] != -100].tolist()
    assert trained == target
    assert batch["input_ids"][0, -len(target) :].tolist() == target


def test_placeholder_count_mismatch_is_an_error(model: MMLLM) -> None:
    batch = batch_for(model)
    ids = batch["input_ids"].clone()
    first = int((ids[0] == model.placeholder_ids["image"]).nonzero()[0])
    ids[0, first] = model.tokenizer.pad_token_id
    with pytest.raises(ValueError, match="image features and image tokens do not match"):
        model(**{**batch, "input_ids": ids})


def test_image_changes_the_output(model: MMLLM) -> None:
    batch = batch_for(model)
    other = {**batch, "images": {k: torch.flip(v, dims=[0]) for k, v in batch["images"].items()}}
    with torch.no_grad():
        a, b = model(**batch).hidden, model(**other).hidden
    assert not torch.allclose(a, b)


def test_save_load_round_trip_and_automodel(model: MMLLM, tmp_path: Path) -> None:
    batch = batch_for(model)
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file() and (tmp_path / "config.json").is_file()
    assert not list(tmp_path.glob("*.bin")) and not list(tmp_path.glob("*.pt"))
    again = MMLLM.from_pretrained(tmp_path).eval()
    auto = AutoModel.from_pretrained(tmp_path).eval()
    assert isinstance(auto, MMLLM)
    assert isinstance(AutoConfig.from_pretrained(tmp_path), MMLLMConfig)
    with torch.no_grad():
        ref = model(**batch)
        for loaded in (again, auto):
            out = loaded(**batch)
            assert torch.equal(ref.hidden, out.hidden)
            assert ref.metrics == out.metrics
        assert torch.equal(model.predict(batch, "continuous"), again.predict(batch, "continuous"))
        assert torch.equal(model.predict(batch, "action-tokens"), again.predict(batch, "action-tokens"))
    processor = MMLLMProcessor.from_pretrained(tmp_path)
    redo = processor([observation(0)], ["pick"], ["red"])
    assert torch.equal(redo["input_ids"], model.processor([observation(0)], ["pick"], ["red"])["input_ids"])


def test_from_pretrained_refuses_remote_code(model: MMLLM, tmp_path: Path) -> None:
    model.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="remote code"):
        MMLLM.from_pretrained(tmp_path, trust_remote_code=True)


@pytest.mark.parametrize("method", ["lora", "prefix", "ln"])
def test_peft_backbone_only_adapters_train_and_reload(method: str, tmp_path: Path) -> None:
    from peft import PeftModel

    policy = {"encoders": "frozen", "projector": "full", "backbone": method, "heads": "frozen"}
    torch.manual_seed(0)
    model = MMLLM(MMLLMConfig(spec=tiny_spec(trainable=policy)))
    batch = batch_for(model)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model(**batch).loss.backward()
    for name, param in model.named_parameters():
        if ".encoder." in name or name.startswith("heads."):
            assert not param.requires_grad and param.grad is None, name
        if name.startswith("backbone."):
            is_adapter = any(t in name for t in ("lora_", "prompt_encoder", "ln_tuning_layers"))
            assert param.requires_grad == is_adapter, name
            assert (param.grad is not None) == is_adapter, name
    optimizer.step()
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed and all(
        "projector" in k or "camera_embedding" in k or "lora_" in k or "prompt_encoder" in k or "ln_tuning_layers" in k
        for k in changed
    ), changed
    # the backbone adapter saves and reloads with stock peft into an identically seeded plain model
    model.backbone.model.save_pretrained(tmp_path / "adapter")
    torch.manual_seed(0)
    plain = MMLLM(MMLLMConfig(spec=tiny_spec(trainable={**policy, "backbone": "frozen"})))
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("backbone.")}, strict=False)
    plain.backbone.model = PeftModel.from_pretrained(plain.backbone.model, tmp_path / "adapter")
    with torch.no_grad():
        assert torch.equal(model.eval()(**batch).hidden, plain.eval()(**batch).hidden)


def test_bad_spec_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"model\.projector\.kind"):
        MMLLMConfig(spec=tiny_spec(projector="mpl"))


def test_generation_uses_only_action_tokens(model: MMLLM) -> None:
    batch = batch_for(model)
    head = model.heads["action-tokens"]
    actions = model.predict(batch, "action-tokens", do_sample=True, generator=torch.Generator().manual_seed(0))
    assert actions.shape == (2, head.chunk_length, 7)
    assert np.all(np.abs(actions.numpy()) <= 1.0)
