"""Projector contract, run over every registered name with default settings."""

from __future__ import annotations

import pytest
import torch

from embodied.models.catalog import PROJECTORS
from embodied.models.projectors.base import Projector

NAMES = PROJECTORS.names()
SIZES = [(16, 32, 5), (7, 48, 1)]  # (in_dim, out_dim, N)


def build(name: str, in_dim: int, out_dim: int, num_in_tokens: int, seed: int = 0) -> Projector:
    torch.manual_seed(seed)
    entry, settings = PROJECTORS.resolve({"kind": name})
    return entry.target.from_config(settings, in_dim, out_dim, num_in_tokens)


def test_every_family_is_registered() -> None:
    assert {"linear", "mlp", "perceiver", "qformer"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("in_dim", "out_dim", "n"), SIZES)
@pytest.mark.parametrize("batch", [1, 3])
def test_output_shape_matches_num_tokens(name: str, in_dim: int, out_dim: int, n: int, batch: int) -> None:
    proj = build(name, in_dim, out_dim, n)
    out = proj(torch.randn(batch, n, in_dim))
    assert out.shape == (batch, proj.num_tokens, out_dim)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", NAMES)
def test_gradients_reach_inputs_and_every_parameter(name: str) -> None:
    proj = build(name, 16, 32, 5)
    tokens = torch.randn(2, 5, 16, requires_grad=True)
    (proj(tokens) ** 2).mean().backward()
    assert tokens.grad is not None and tokens.grad.abs().sum() > 0
    for pname, param in proj.named_parameters():
        assert param.grad is not None, f"{name}: no gradient for {pname}"
        assert param.grad.abs().sum() > 0, f"{name}: zero gradient for {pname}"


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_under_fixed_seed(name: str) -> None:
    tokens = torch.randn(2, 5, 16)
    a, b = build(name, 16, 32, 5, seed=3), build(name, 16, 32, 5, seed=3)
    torch.testing.assert_close(a(tokens), b(tokens), rtol=0, atol=0)
    c = build(name, 16, 32, 5, seed=4)
    assert not torch.equal(a(tokens), c(tokens))


@pytest.mark.parametrize("name", NAMES)
def test_wrong_width_or_token_count_raises(name: str) -> None:
    proj = build(name, 16, 32, 5)
    with pytest.raises(ValueError, match=r"\[B, 5, 16\].*\[2, 5, 17\]"):
        proj(torch.randn(2, 5, 17))
    with pytest.raises(ValueError, match=r"\[B, 5, 16\].*\[2, 6, 16\]"):
        proj(torch.randn(2, 6, 16))
    with pytest.raises(ValueError, match=r"\[B, 5, 16\].*\[5, 16\]"):
        proj(torch.randn(5, 16))


@pytest.mark.parametrize("name", NAMES)
def test_non_positive_sizes_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="num_in_tokens >= 1, got 0"):
        build(name, 16, 32, 0)
