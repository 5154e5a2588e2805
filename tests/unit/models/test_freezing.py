"""Freezing policies per component group and the component table logged at build time."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError
from torch import nn

from embodied.models.backbones.base import BACKBONES, Backbone
from embodied.models.backbones.tiny import TINY_BACKBONE_CONFIGS
from embodied.models.context import BuildContext
from embodied.models.freezing import apply_policy, trainable_table


def tiny_backbone() -> Backbone:
    entry, settings = BACKBONES.resolve(
        {"kind": "hf-causal-lm", "config": TINY_BACKBONE_CONFIGS["qwen2"], "tokenizer": {"vocab_size": 300}}
    )
    torch.manual_seed(0)
    return entry.target.from_config(settings, BuildContext(embed_dim=0))


def groups(backbone: Backbone) -> dict[str, list[nn.Module]]:
    torch.manual_seed(0)
    return {
        "encoders": [nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8)), nn.Sequential(nn.Linear(3, 8))],
        "projector": [nn.Linear(8, 32)],
        "backbone": [backbone],
        "heads": [nn.Linear(32, 5)],
    }


def trainable(module: nn.Module) -> set[str]:
    return {n for n, p in module.named_parameters() if p.requires_grad}


def test_frozen_full_and_peft_per_group() -> None:
    backbone = tiny_backbone()
    model = groups(backbone)
    apply_policy(
        model,
        {"encoders": {"method": "lora", "r": 2}, "projector": "full", "backbone": "ln", "heads": "frozen"},
        backbone,
    )
    for encoder in model["encoders"]:
        assert trainable(encoder) and all("lora_" in n for n in trainable(encoder))
    assert trainable(model["projector"][0]) == {"weight", "bias"}
    assert trainable(model["heads"][0]) == set()
    assert trainable(backbone) and all("ln_tuning_layers" in n for n in trainable(backbone))


def test_reapplying_policies_between_stages() -> None:
    backbone = tiny_backbone()
    model = groups(backbone)
    policy = {"backbone": {"method": "lora", "r": 2}}
    apply_policy(model, policy, backbone)
    adapters = trainable(backbone)
    apply_policy(model, {"backbone": "frozen"}, backbone)  # e.g. an alignment stage
    assert trainable(backbone) == set()
    apply_policy(model, policy, backbone)  # the next stage trains the same adapter again, no second wrap
    assert trainable(backbone) == adapters
    assert sum("lora_A" in n for n, _ in backbone.named_parameters()) == len([n for n in adapters if "lora_A" in n])
    with pytest.raises(ValueError, match="already carries a lora adapter"):
        apply_policy(model, {"backbone": "ln"}, backbone)
    # groups without a policy train fully
    assert trainable(model["heads"][0]) == {"weight", "bias"}


def test_policy_errors_name_the_group() -> None:
    backbone = tiny_backbone()
    model = groups(backbone)
    with pytest.raises(ValueError, match=r"unknown group.*decoder"):
        apply_policy(model, {"decoder": "frozen"}, backbone)
    with pytest.raises(ValueError, match=r"policy of projector is 'froze'.*lora, prefix"):
        apply_policy(model, {"projector": "froze"}, backbone)
    with pytest.raises(ValueError, match="only to the LLM backbone"):
        apply_policy(model, {"heads": "prefix"}, backbone)
    with pytest.raises(ValueError, match=r"bare nn\.Linear"):
        apply_policy(model, {"heads": "lora"}, backbone)
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        apply_policy(model, {"heads": {"method": "lora", "r": 0}}, backbone)


def test_trainable_table_counts() -> None:
    tied = nn.Linear(4, 4, bias=False)
    head = nn.Linear(4, 4, bias=False)
    head.weight = tied.weight  # shared: counted once in the total
    frozen = nn.Linear(10, 10)  # 110 params
    frozen.requires_grad_(False)
    table = trainable_table(
        {"encoders": [tied, frozen], "heads": head}, {"encoders": "full", "heads": {"method": "lora", "r": 4}}
    )
    lines = table.splitlines()
    assert lines[0].split() == ["group", "module", "params", "trainable", "%", "policy"]
    assert lines[2].split() == ["encoders", "Linear", "16", "16", "100.00", "full"]
    assert lines[3].split() == ["encoders", "Linear", "110", "0", "0.00", "full"]
    assert lines[4].split() == ["heads", "Linear", "16", "16", "100.00", "lora(r=4)"]
    assert lines[5].split() == ["total", "126", "16", "12.70"]


def test_backbone_table_after_lora() -> None:
    backbone = tiny_backbone()
    apply_policy({"backbone": backbone}, {"backbone": {"method": "lora", "r": 2}}, backbone)
    total = sum(p.numel() for p in backbone.parameters())
    lora = sum(p.numel() for n, p in backbone.named_parameters() if "lora_" in n)
    row = trainable_table({"backbone": backbone}, {"backbone": {"method": "lora", "r": 2}}).splitlines()[2].split()
    assert row[:4] == ["backbone", "HFCausalLM", f"{total:,}", f"{lora:,}"]
    assert float(row[4]) == pytest.approx(100 * lora / total, abs=0.01)
