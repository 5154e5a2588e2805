"""Projector families: token counts, learning a random mapping, settings validation."""

from __future__ import annotations

import pydantic
import pytest
import torch

from embodied.models.catalog import PROJECTORS
from embodied.models.projectors.base import Projector
from embodied.models.projectors.layers import sinusoidal_positions
from embodied.models.projectors.perceiver import PerceiverProjector, PerceiverSettings
from embodied.models.projectors.qformer import QFormerProjector, QFormerSettings


def build(spec: dict, in_dim: int, out_dim: int, num_in_tokens: int) -> Projector:
    torch.manual_seed(0)
    entry, settings = PROJECTORS.resolve(spec)
    return entry.target.from_config(settings, in_dim, out_dim, num_in_tokens)


@pytest.mark.parametrize(("kind", "m"), [("perceiver", 6), ("qformer", 4)])
@pytest.mark.parametrize("n", [1, 3, 17])
def test_resamplers_output_m_tokens_whatever_n(kind: str, m: int, n: int) -> None:
    key = "num_latents" if kind == "perceiver" else "num_queries"
    proj = build({"kind": kind, key: m, "depth": 1, "num_heads": 2, "head_dim": 8}, 12, 24, n)
    assert proj.num_tokens == m
    assert proj(torch.randn(2, n, 12)).shape == (2, m, 24)


@pytest.mark.parametrize("kind", ["linear", "mlp"])
@pytest.mark.parametrize("n", [1, 9])
def test_token_wise_projectors_keep_n(kind: str, n: int) -> None:
    proj = build({"kind": kind}, 12, 24, n)
    tokens = torch.randn(2, n, 12)
    out = proj(tokens)
    assert proj.num_tokens == n and out.shape == (2, n, 24)
    # token-wise: each output token depends only on its own input token
    torch.testing.assert_close(proj(tokens[:, :1].expand(-1, n, -1))[:, 0], out[:, 0])


def test_mlp_is_llava_mlp2x_gelu_by_default() -> None:
    proj = build({"kind": "mlp"}, 12, 24, 3)
    layers = list(proj.net)
    assert [type(m).__name__ for m in layers] == ["Linear", "GELU", "Linear"]
    assert (layers[0].in_features, layers[0].out_features, layers[2].out_features) == (12, 24, 24)


def test_mlp_depth_and_hidden_mult() -> None:
    proj = build({"kind": "mlp", "depth": 3, "hidden_mult": 2.0}, 12, 24, 3)
    linears = [m for m in proj.net if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(12, 48), (48, 48), (48, 24)]


def test_perceiver_positions_make_it_order_aware() -> None:
    for positions in ("learned", "sinusoidal"):
        proj = build({"kind": "perceiver", "positions": positions, "num_latents": 4}, 8, 16, 5)
        tokens = torch.randn(1, 5, 8)
        assert not torch.allclose(proj(tokens), proj(tokens.flip(1)))
    sinusoidal = build({"kind": "perceiver", "positions": "sinusoidal"}, 8, 16, 5)
    assert "position" not in sinusoidal.state_dict()  # fixed table, rebuilt rather than saved


def test_sinusoidal_table_values() -> None:
    table = sinusoidal_positions(4, 5)
    assert table.shape == (4, 5)
    torch.testing.assert_close(table[0], torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0]))
    torch.testing.assert_close(table[1, 0], torch.sin(torch.tensor(1.0)))


def test_width_setting_changes_working_width() -> None:
    perceiver = build({"kind": "perceiver", "width": 20, "num_latents": 3}, 12, 24, 4)
    assert isinstance(perceiver, PerceiverProjector) and perceiver.latents.shape == (3, 20)
    qformer = build({"kind": "qformer", "width": 20, "num_queries": 3}, 12, 24, 4)
    assert isinstance(qformer, QFormerProjector) and qformer.queries.shape == (3, 20)
    assert qformer(torch.randn(2, 4, 12)).shape == (2, 3, 24)


@pytest.mark.parametrize("kind", ["linear", "mlp", "perceiver", "qformer"])
def test_learns_a_random_mapping(kind: str) -> None:
    """MSE to random targets falls by at least half within 50 Adam steps (default settings but M = 4:
    memorising B × M unrelated random targets through one shared output layer needs few output tokens)."""
    spec: dict = {"kind": kind}
    if kind in ("perceiver", "qformer"):
        spec["num_latents" if kind == "perceiver" else "num_queries"] = 4
    proj = build(spec, 32, 16, 4)
    torch.manual_seed(1)
    inputs, targets = torch.randn(4, 4, 32), torch.randn(4, proj.num_tokens, 16)
    opt = torch.optim.Adam(proj.parameters(), lr=1e-2)
    first = last = 0.0
    for step in range(50):
        loss = torch.nn.functional.mse_loss(proj(inputs), targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = loss.item() if step == 0 else first
        last = loss.item()
    assert last <= 0.5 * first, f"{kind}: MSE {first:.3f} → {last:.3f}"


@pytest.mark.parametrize(
    ("kind", "bad"),
    [
        ("linear", {"bias": "sometimes"}),
        ("mlp", {"depth": 0}),
        ("mlp", {"hidden_mult": 0.0}),
        ("perceiver", {"num_latents": 0}),
        ("perceiver", {"num_heads": 0}),
        ("perceiver", {"positions": "rotary"}),
        ("perceiver", {"width": 0}),
        ("qformer", {"num_queries": -1}),
        ("qformer", {"depth": 100}),
        ("qformer", {"latents": 8}),  # unknown key
    ],
)
def test_settings_reject_bad_values(kind: str, bad: dict) -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        PROJECTORS.resolve({"kind": kind, **bad})
    assert next(iter(bad)) in str(info.value)


def test_settings_defaults() -> None:
    assert PerceiverSettings().num_latents == 64 and PerceiverSettings().positions == "learned"
    assert QFormerSettings().num_queries == 32
    for entry in PROJECTORS:
        for field in entry.settings.model_fields.values():
            assert field.description, f"{entry.name}: every setting is documented"
