"""``continuous`` head: L1 with the action mask, the Laplace ``log_prob`` against ``torch.distributions`` and the
closed form, seeded sampling, and chunks that reach their targets after overfitting.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from embodied.models.context import BuildContext
from embodied.models.heads.continuous import ContinuousHead, ContinuousSettings

D, A, H = 32, 7, 4


def head_and_hidden(seed: int = 0, **settings: Any) -> tuple[ContinuousHead, torch.Tensor]:
    torch.manual_seed(seed)
    head = ContinuousHead(
        ContinuousSettings(chunk=H, hidden_dim=64, **settings), BuildContext(embed_dim=D, action_dim=A)
    )
    return head, torch.randn(3, H, D)


def actions(batch: int = 3, chunk: int = H, seed: int = 1) -> torch.Tensor:
    return torch.rand(batch, chunk, A, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_log_prob_is_the_sum_of_laplace_log_densities() -> None:
    head, hidden = head_and_hidden()
    with torch.no_grad():
        head.log_scale.copy_(torch.linspace(-2.0, 0.5, A))  # a different scale per dimension
    target = actions()
    log_prob = head.log_prob(target, hidden)
    mean, scale = head.predict(hidden, clip=False), head.log_scale.exp()
    reference = torch.distributions.Laplace(mean, scale).log_prob(target).sum(dim=(1, 2))
    closed_form = (-torch.log(2 * scale) - (target - mean).abs() / scale).sum(dim=(1, 2))
    assert log_prob.shape == (3,)
    torch.testing.assert_close(log_prob, reference)
    torch.testing.assert_close(log_prob, closed_form)
    log_prob.sum().backward()  # RL learns the scale through log_prob
    assert head.log_scale.grad is not None and bool(head.log_scale.grad.abs().sum() > 0)


def test_l1_loss_respects_the_action_mask() -> None:
    head, hidden = head_and_hidden()
    target = actions()
    mask = torch.ones(3, H)
    mask[0, 2:] = 0
    mask[2, 1:] = 0
    loss, metrics = head.loss(hidden, {"actions": target, "action_mask": mask})
    mean = head.predict(hidden, clip=False)
    expected = (mean - target).abs()[mask.bool()].mean()
    torch.testing.assert_close(loss, expected)
    changed = target.clone()
    changed[~mask.bool()] = 5.0  # padding steps may hold anything
    again, _ = head.loss(hidden, {"actions": changed, "action_mask": mask})
    torch.testing.assert_close(again, loss)
    nothing, _ = head.loss(hidden, {"actions": target, "action_mask": torch.zeros(3, H)})
    assert float(nothing.detach()) == 0.0
    assert metrics["scale"] == pytest.approx(0.1)


def test_longer_batch_chunks_train_their_first_steps() -> None:
    head, hidden = head_and_hidden()
    target = actions(chunk=H + 3)
    long, _ = head.loss(hidden, {"actions": target})
    short, _ = head.loss(hidden, {"actions": target[:, :H]})
    torch.testing.assert_close(long, short)
    with pytest.raises(ValueError, match=r"batch\['actions'\]"):
        head.loss(hidden, {"actions": target[:, : H - 1]})
    with pytest.raises(ValueError, match="query tokens"):
        head.predict(hidden[:, :2])


@torch.no_grad()
def test_sampling_is_seeded_and_laplace_distributed() -> None:
    head, hidden = head_and_hidden(init_scale=0.05)
    hidden = hidden[:1].expand(4000, -1, -1)
    first = head.predict(hidden, sample=True, generator=torch.Generator().manual_seed(0), clip=False)
    again = head.predict(hidden, sample=True, generator=torch.Generator().manual_seed(0), clip=False)
    other = head.predict(hidden, sample=True, generator=torch.Generator().manual_seed(1), clip=False)
    assert torch.equal(first, again) and not torch.equal(first, other)
    mean = head.predict(hidden[:1], clip=False)
    # Laplace(μ, b): median μ, mean absolute deviation b
    torch.testing.assert_close(first.median(dim=0).values, mean[0], atol=0.01, rtol=0)
    assert float((first - mean).abs().mean()) == pytest.approx(0.05, rel=0.05)
    wide, _ = head_and_hidden(init_scale=5.0)
    assert bool((wide.predict(hidden[:10], sample=True).abs() <= 1.0).all())


def test_overfitted_chunks_reach_their_targets() -> None:
    head, hidden = head_and_hidden()
    target = actions()
    optimizer = torch.optim.Adam(head.parameters(), lr=3e-3)
    for _ in range(150):
        loss, _ = head.loss(hidden, {"actions": target})
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert float((head.predict(hidden) - target).abs().mean().detach()) < 0.05


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        ContinuousSettings(chunk=0)
    with pytest.raises(ValueError):
        ContinuousSettings(init_scale=0.0)
    assert math.isclose(ContinuousSettings().init_scale, 0.1)
