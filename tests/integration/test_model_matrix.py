"""The component matrix: encoders × projectors × backbone families × heads build, run forward and backward.

The fast lane covers every value of every axis (each encoder, projector, family and head appears with the
others rotated); the slow lane runs the full cartesian product. Each head also overfits a fixed batch.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from embodied.models import MMLLM, MMLLMConfig
from tests.factory import ENCODER_SPECS, HEAD_SPECS, batch_for, tiny_spec

FAMILIES = ["llama", "qwen2", "gpt2", "phi3", "gemma"]
PROJECTORS = ["linear", "mlp", "perceiver", "qformer"]


def build(encoder: str, projector: str, family: str, head: str) -> MMLLM:
    encoders = {"image": ENCODER_SPECS[encoder]} if encoder != "proprio" else {"state": ENCODER_SPECS[encoder]}
    spec = tiny_spec(encoders=encoders, projector=projector, family=family, heads={head: HEAD_SPECS[head]})
    return MMLLM(MMLLMConfig(spec=spec))


def forward_backward(model: MMLLM) -> None:
    batch = batch_for(model)
    out = model(**batch)
    assert out.loss is not None and torch.isfinite(out.loss)
    out.loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert any(g is not None and bool(g.abs().sum() > 0) for g in grads)
    for stream in model.streams.values():  # the modality path is trained, not bypassed
        assert any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in stream.projector.parameters())


def covering_rows() -> list[tuple[str, str, str, str]]:
    """Rotate the axes so each value of each axis appears at least once (len = longest axis)."""
    encoders, heads = list(ENCODER_SPECS), list(HEAD_SPECS)
    n = max(len(encoders), len(PROJECTORS), len(FAMILIES), len(heads))
    return [
        (
            encoders[i % len(encoders)],
            PROJECTORS[i % len(PROJECTORS)],
            FAMILIES[i % len(FAMILIES)],
            heads[(i + i // len(heads)) % len(heads)],
        )
        for i in range(n * 2)
        if supported(encoders[i % len(encoders)], heads[(i + i // len(heads)) % len(heads)])
    ]


def supported(encoder: str, head: str) -> bool:
    """A pointing head needs an encoder with a dense map; ``proprio`` has none (tested in test_heads_pointer)."""
    return not (head == "pointer" and encoder == "proprio")


@pytest.mark.parametrize(("encoder", "projector", "family", "head"), covering_rows())
def test_matrix_covering(encoder: str, projector: str, family: str, head: str) -> None:
    torch.manual_seed(0)
    forward_backward(build(encoder, projector, family, head))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("encoder", "projector", "family", "head"),
    [row for row in itertools.product(ENCODER_SPECS, PROJECTORS, FAMILIES, HEAD_SPECS) if supported(row[0], row[3])],
)
def test_matrix_full_product(encoder: str, projector: str, family: str, head: str) -> None:
    torch.manual_seed(0)
    forward_backward(build(encoder, projector, family, head))


@pytest.mark.parametrize("head", list(HEAD_SPECS))
@pytest.mark.parametrize("family", ["qwen2", "gpt2"])
def test_each_head_overfits_a_fixed_batch(head: str, family: str) -> None:
    torch.manual_seed(0)
    model = build("cnn", "mlp", family, head)
    batch = batch_for(model, n=2)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    losses = []
    for _ in range(40):
        if head == "diffusion":  # the diffusion loss is stochastic (noise, timestep): fix its draw per step
            torch.manual_seed(len(losses) % 4)
        loss = model(**batch).loss
        assert loss is not None
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    first, last = sum(losses[:4]) / 4, sum(losses[-4:]) / 4
    assert last <= 0.5 * first, f"{head}/{family}: loss {first:.3f} -> {last:.3f}"
