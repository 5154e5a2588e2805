"""Direct Preference Optimisation of the MMLLM on pairs of targets for the same observation and prompt.

Rafailov et al., "Direct Preference Optimization: Your Language Model is Secretly a Reward Model", NeurIPS 2023,
eq. 7::

    L_DPO = -log σ( β [ (log π(y_c|x) - log π_ref(y_c|x)) - (log π(y_r|x) - log π_ref(y_r|x)) ] )

``y_c`` (chosen) and ``y_r`` (rejected) are two targets for the SAME prompt ``x`` (observations + instruction):
the actions of a successful and a failed rollout from the same seed, or a correct and a wrong VQA answer. The
implicit reward of a target is ``β (log π - log π_ref)``. ``label_smoothing`` ε gives conservative DPO
(Mitchell, "A note on DPO with noisy preferences", 2023): the preference label is flipped with probability ε,
``L = -(1 - ε) log σ(β h) - ε log σ(-β h)``.

``PreferenceModel`` wraps the policy and a frozen reference copy and returns ``.loss`` / ``.metrics``, so the
project's one ``Trainer`` trains it unchanged.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from embodied.models.heads.vocabulary import IGNORE_INDEX, next_token_pairs
from embodied.models.mmllm import MMLLM

__all__ = ["DPOSettings", "PreferenceModel", "PreferenceOutput", "dpo_loss", "preference_batch", "sequence_logps"]

Batch = dict[str, Any]


class DPOSettings(BaseModel):
    """Hyper-parameters of DPO; the field descriptions are the help text."""

    model_config = ConfigDict(extra="forbid")

    beta: float = Field(0.1, gt=0, description="β, strength of the KL constraint to the reference (paper: 0.1-0.5)")
    label_smoothing: float = Field(
        0.0, ge=0, lt=0.5, description="ε, assumed probability that a preference label is flipped (conservative DPO)"
    )


def sequence_logps(model: MMLLM, batch: Mapping[str, Any]) -> torch.Tensor:
    """Summed log-probability ``[B]`` of each row's labelled tokens under the LM head, one forward pass.

    ``batch`` as the processor makes it (``input_ids``, ``attention_mask``, ``labels [B, T]`` with -100 on the
    prompt and padding). The log-probability is over the FULL vocabulary, for text and action tokens alike
    (action bins are ordinary vocabulary ids); it differs from the action-tokens head's ``log_prob``, which
    renormalises over the bins, by the log-mass the LM puts outside the bins.
    """
    embeds, mask, positions = model.embed(dict(batch))
    hidden = model.backbone(inputs_embeds=embeds, attention_mask=mask, position_ids=positions).hidden  # [B, T, D]
    states, targets = next_token_pairs(hidden, batch["labels"])  # [B, T-1, D], [B, T-1]: state t predicts label t+1
    keep = targets != IGNORE_INDEX
    # LM-head logits only where a label is scored: [N, V] instead of [B, T-1, V]
    log_probs = torch.log_softmax(model.backbone.logits(states[keep]).float(), dim=-1)  # [N, V]
    token_logps = log_probs.gather(-1, targets[keep].unsqueeze(-1)).squeeze(-1)  # [N]
    rows = torch.arange(targets.shape[0], device=targets.device).unsqueeze(1).expand_as(targets)[keep]  # [N]
    return token_logps.new_zeros(targets.shape[0]).index_add(0, rows, token_logps)


def dpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    reference_chosen_logps: torch.Tensor,
    reference_rejected_logps: torch.Tensor,
    beta: float,
    label_smoothing: float = 0.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The DPO loss (mean over pairs) from sequence log-probabilities ``[B]``, and reward statistics.

    Stats: ``rewards/chosen`` and ``rewards/rejected`` (mean implicit rewards β (log π - log π_ref)),
    ``rewards/margin`` (their mean difference) and ``rewards/accuracy`` (fraction of pairs where the chosen
    target earns the higher reward).
    """
    pi_logratios = policy_chosen_logps - policy_rejected_logps
    ref_logratios = reference_chosen_logps - reference_rejected_logps
    logits = beta * (pi_logratios - ref_logratios)  # [B], β h in the paper's notation
    losses = -(1.0 - label_smoothing) * F.logsigmoid(logits) - label_smoothing * F.logsigmoid(-logits)
    loss = losses.mean()
    chosen_rewards = (beta * (policy_chosen_logps - reference_chosen_logps)).detach()
    rejected_rewards = (beta * (policy_rejected_logps - reference_rejected_logps)).detach()
    stats = {
        "rewards/chosen": float(chosen_rewards.mean()),
        "rewards/rejected": float(rejected_rewards.mean()),
        "rewards/margin": float((chosen_rewards - rejected_rewards).mean()),
        "rewards/accuracy": float((chosen_rewards > rejected_rewards).float().mean()),
    }
    return loss, stats


@dataclass
class PreferenceOutput:
    """``loss``: the DPO loss; ``metrics``: ``loss``, ``rewards/*`` and ``logps/*`` floats (the Trainer's contract)."""

    loss: torch.Tensor
    metrics: dict[str, float] = field(default_factory=dict)


class PreferenceModel(nn.Module):
    """A policy MMLLM trained with DPO against a frozen reference: a deep copy of the SFT model at construction.

    Only the policy is a registered submodule: ``state_dict()``, ``parameters()`` and checkpoints hold the
    policy's weights once (keys ``policy.*``), never the reference's. The reference is rebuilt, not loaded: to
    resume a DPO run, construct the ``PreferenceModel`` from the same SFT model again, then resume. It follows the
    wrapper's device and dtype moves (``_apply``) and stays in eval mode with ``requires_grad=False``.
    """

    reference: MMLLM

    def __init__(self, policy: MMLLM, settings: DPOSettings | None = None) -> None:
        super().__init__()
        self.policy = policy
        self.settings = settings or DPOSettings()
        reference = copy.deepcopy(policy).requires_grad_(False).eval()
        # object.__setattr__ skips nn.Module registration: the reference must not be saved, trained or counted
        object.__setattr__(self, "reference", reference)

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True) -> PreferenceModel:
        """``.to()``, ``.cuda()``, ``.half()`` ... reach the unregistered reference too."""
        self.reference._apply(fn, recurse)
        super()._apply(fn, recurse)
        return self

    def forward(self, chosen: Batch, rejected: Batch) -> PreferenceOutput:  # type: ignore[override]
        """DPO on ``chosen`` / ``rejected`` sub-batches built from the same observations and prompts."""
        policy_chosen_logps = sequence_logps(self.policy, chosen)
        policy_rejected_logps = sequence_logps(self.policy, rejected)
        with torch.no_grad():
            reference_chosen_logps = sequence_logps(self.reference, chosen)
            reference_rejected_logps = sequence_logps(self.reference, rejected)
        loss, stats = dpo_loss(
            policy_chosen_logps,
            policy_rejected_logps,
            reference_chosen_logps,
            reference_rejected_logps,
            beta=self.settings.beta,
            label_smoothing=self.settings.label_smoothing,
        )
        metrics = {
            "loss": float(loss.detach()),
            **stats,
            "logps/chosen": float(policy_chosen_logps.detach().mean()),
            "logps/rejected": float(policy_rejected_logps.detach().mean()),
        }
        return PreferenceOutput(loss=loss, metrics=metrics)


def preference_batch(
    model: MMLLM,
    observations: Sequence[Mapping[str, Any]],
    prompts: Sequence[str],
    chosen_targets: Sequence[Any],
    rejected_targets: Sequence[Any],
    kind: str | None = None,
) -> dict[str, Batch]:
    """``{"chosen": batch, "rejected": batch}``: the model's processor run on the same observations and prompts
    with the two target lists (text, or token ids such as ``head.encode(actions)`` rows), ready for
    ``PreferenceModel(**batch)`` or the Trainer; ``kind``: the prompts' sample kind (a grounding model's look)."""
    if not len(chosen_targets) == len(rejected_targets) == len(prompts):
        raise ValueError(
            f"a preference pair needs one chosen and one rejected target per prompt: got {len(prompts)} prompts, "
            f"{len(chosen_targets)} chosen and {len(rejected_targets)} rejected targets"
        )
    processor = model.processor
    return {
        "chosen": processor(observations, prompts, chosen_targets, kinds=kind),
        "rejected": processor(observations, prompts, rejected_targets, kinds=kind),
    }
