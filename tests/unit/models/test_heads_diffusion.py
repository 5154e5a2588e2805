"""``diffusion`` head: seeded sampling is deterministic (DDIM and DDPM), the ε-MSE respects the action mask,
settings are cross-checked, and after overfitting sampled chunks land near their targets.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from pydantic import ValidationError

from embodied.models.context import BuildContext
from embodied.models.heads.diffusion import DiffusionHead, DiffusionSettings, timestep_embedding

D, A, H = 32, 7, 4


def head_and_hidden(seed: int = 0, batch: int = 3, **settings: Any) -> tuple[DiffusionHead, torch.Tensor]:
    torch.manual_seed(seed)
    defaults: dict[str, Any] = {"chunk": H, "num_queries": 2, "cond_dim": 64, "hidden_dim": 128, "num_blocks": 2}
    head = DiffusionHead(DiffusionSettings(**{**defaults, **settings}), BuildContext(embed_dim=D, action_dim=A))
    return head, torch.randn(batch, 2, D)


def actions(batch: int = 3, seed: int = 1) -> torch.Tensor:
    return torch.rand(batch, H, A, generator=torch.Generator().manual_seed(seed)) * 1.6 - 0.8


@torch.no_grad()
@pytest.mark.parametrize("sampler", ["ddim", "ddpm"])
def test_sampling_is_deterministic_given_the_generator_seed(sampler: str) -> None:
    head, hidden = head_and_hidden(sampler=sampler)
    first = head.predict(hidden, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(123)  # the global RNG plays no part
    again = head.predict(hidden, generator=torch.Generator().manual_seed(0))
    other = head.predict(hidden, generator=torch.Generator().manual_seed(1))
    assert first.shape == (3, H, A) and bool((first.abs() <= 1.0).all())
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_loss_is_epsilon_mse_over_real_steps() -> None:
    head, hidden = head_and_hidden()
    target = actions()
    mask = torch.ones(3, H)
    mask[1, 2:] = 0
    torch.manual_seed(5)
    loss, metrics = head.loss(hidden, {"actions": target, "action_mask": mask})
    # the same draws by hand: noise, then timesteps, then q(x_t | x_0) and the ε error on unmasked steps
    torch.manual_seed(5)
    noise = torch.randn_like(target)
    steps = torch.randint(0, head.settings.num_train_timesteps, (3,))
    noisy = head.train_scheduler().add_noise(target, noise, steps)
    error = (head.denoiser(noisy, steps, head.condition(hidden)) - noise) ** 2  # [B, H, A]
    torch.testing.assert_close(loss, error[mask.bool()].mean())
    assert metrics["loss"] == pytest.approx(float(loss.detach()))
    # a batch made for a longer chunk trains the head on its first H steps
    longer = {"actions": torch.cat([target, torch.zeros(3, 2, A)], dim=1), "action_mask": torch.ones(3, H + 2)}
    longer["action_mask"][:, :H] = mask
    torch.manual_seed(5)
    torch.testing.assert_close(head.loss(hidden, longer)[0], loss)


def test_settings_are_cross_checked() -> None:
    with pytest.raises(ValidationError, match="cannot exceed"):
        DiffusionSettings(num_train_timesteps=10, num_inference_steps=20)
    with pytest.raises(ValidationError, match="even"):
        DiffusionSettings(timestep_dim=33)
    with pytest.raises(ValidationError):
        DiffusionSettings(sampler="euler")  # type: ignore[arg-type]
    head, hidden = head_and_hidden()
    with pytest.raises(ValueError, match="sampler"):
        head.predict(hidden, sampler="euler")
    with pytest.raises(ValueError, match="query tokens"):
        head.predict(hidden[:, :1])


def test_timestep_embedding_tells_steps_apart() -> None:
    emb = timestep_embedding(torch.tensor([0, 1, 50, 99]), 16)
    assert emb.shape == (4, 16)
    assert float(torch.cdist(emb, emb).triu(1)[torch.triu(torch.ones(4, 4), 1).bool()].min()) > 0.1


def test_overfitted_samples_approach_their_targets() -> None:
    head, hidden = head_and_hidden(batch=2)
    target = actions(batch=2)
    with torch.no_grad():
        before = float((head.predict(hidden, generator=torch.Generator().manual_seed(0)) - target).abs().mean())
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-3)
    losses = []
    for _ in range(600):
        # 16 noise draws per target and step: the ε-regression sees many noise levels at once
        loss, _ = head.loss(hidden.repeat(16, 1, 1), {"actions": target.repeat(16, 1, 1)})
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    with torch.no_grad():
        ddim = head.predict(hidden, generator=torch.Generator().manual_seed(0))
        ddpm = head.predict(hidden, generator=torch.Generator().manual_seed(0), sampler="ddpm")
    assert sum(losses[-20:]) <= 0.5 * sum(losses[:20])
    for sample in (ddim, ddpm):
        after = float((sample - target).abs().mean())
        assert after < 0.25 * before and after < 0.1, (before, after)
