"""``proprio`` encoder: state → tokens, a clear error without a state size, settings, and it learns."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from pydantic import ValidationError

from embodied.models.context import BuildContext
from embodied.models.encoders.proprio import ProprioEncoder, ProprioSettings

CTX = BuildContext(embed_dim=32, image_size=32, state_dim=9, action_dim=7)


def make(ctx: BuildContext = CTX, **settings: Any) -> ProprioEncoder:
    torch.manual_seed(0)
    return ProprioEncoder(ProprioSettings(**settings), ctx)


def test_zero_state_dim_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"state_dim is 0; set model\.state_dim"):
        make(BuildContext(embed_dim=32, state_dim=0))


def test_tokens_shape_and_batch_independence() -> None:
    encoder = make(num_tokens=3, dim=16)
    assert (encoder.num_tokens, encoder.embed_dim) == (3, 16)
    states = torch.randn(4, 9)
    tokens = encoder(states)
    assert tokens.shape == (4, 3, 16)
    torch.testing.assert_close(encoder(states[2:3]), tokens[2:3])
    assert (tokens[0] - tokens[1]).abs().max() > 1e-4  # different states, different tokens


def test_wrong_state_size_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"expects state \[B, 9\], got shape \(2, 7\)"):
        make()(torch.randn(2, 7))


def test_learns_a_state_to_token_map() -> None:
    encoder = make(num_tokens=2, dim=8, hidden_dim=32)
    generator = torch.Generator().manual_seed(0)
    states = torch.randn(64, 9, generator=generator)
    target = (states @ torch.randn(9, 16, generator=generator)).reshape(64, 2, 8)
    optimizer = torch.optim.Adam(encoder.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        loss = (encoder(states) - target).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]


@pytest.mark.parametrize("bad", [{"num_tokens": 0}, {"hidden_dim": 0}, {"dim": -1}, {"layers": 2}])
def test_settings_reject_bad_values(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ProprioSettings(**bad)
