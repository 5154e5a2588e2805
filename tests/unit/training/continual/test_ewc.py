"""EWC (Kirkpatrick et al. 2017) and online EWC (Schwarz et al. 2018) on a toy model with a closed-form Fisher.

Toy: loss = mean_b (w·x_b + b − y_b)² + v² with b frozen, so dL/dw = 2x(wx + b − y) and dL/dv = 2v when every
sample is the same (x, y); every Fisher batch then has the same gradient, and F = (∂L/∂θ)² exactly.
"""

from __future__ import annotations

import json

import pytest
import safetensors.torch
import torch
from torch import nn

from embodied.training.continual import HOOKS
from embodied.training.continual.ewc import EWC, EWCSettings
from tests.unit.training.continual.toys import Item, Toy, context

# task 0 at w=3, v=1 on x=1, y=0: dL/dw = 2·1·(3·1 − 0) = 6 → F_w = 36; dL/dv = 2·1 = 2 → F_v = 4; θ* = (3, 1)
TASK0 = [Item(x=1.0, y=0.0)] * 5
# task 1 at w=1, v=2 on x=2, y=0: dL/dw = 2·2·(1·2 − 0) = 8 → F_w = 64; dL/dv = 2·2 = 4 → F_v = 16; θ* = (1, 2)
TASK1 = [Item(x=2.0, y=0.0)] * 5


def ewc(**settings: object) -> EWC:
    entry, parsed = HOOKS.resolve({"kind": "ewc", **settings})
    hook = entry.target(parsed, "0-ewc")
    assert isinstance(hook, EWC)
    return hook


def run_task(hook: EWC, model: nn.Module, current: list[Item], task: int, last: bool = False) -> None:
    ctx = context(model, current=current, task=task, is_last_task=last)
    hook.on_task_start(ctx)
    hook.on_task_end(ctx)


def penalty(hook: EWC, model: nn.Module) -> float:
    loss, stats = hook.extra_loss(model, None, None)  # type: ignore[arg-type]
    assert loss is not None
    assert stats["penalty"] == pytest.approx(2 * float(loss.detach()) / hook.settings.lambda_)
    return stats["penalty"]


def test_no_loss_before_a_fisher_exists_and_none_on_the_last_task() -> None:
    model, hook = Toy(), ewc()
    assert hook.extra_loss(model, None, None) == (None, {})  # type: ignore[arg-type]
    run_task(hook, model, TASK0, task=0, last=True)  # nothing follows the last task: no Fisher
    assert hook.consolidated == []
    assert hook.extra_loss(model, None, None) == (None, {})  # type: ignore[arg-type]


def test_penalty_is_exactly_zero_at_the_anchor() -> None:
    model, hook = Toy(), ewc(**{"lambda": 7.0})
    run_task(hook, model, TASK0, task=0)
    loss, stats = hook.extra_loss(model, None, None)  # type: ignore[arg-type]
    assert loss is not None and float(loss.detach()) == 0.0 and stats == {"penalty": 0.0}


def test_penalty_equals_hand_computed_fisher_times_squared_distance() -> None:
    model, hook = Toy(w=3.0, v=1.0), ewc(lambda_=2.0)
    run_task(hook, model, TASK0, task=0)
    (entry,) = hook.consolidated
    assert float(entry.fisher["w"]) == pytest.approx(36.0) and float(entry.fisher["v"]) == pytest.approx(4.0)
    assert float(entry.anchor["w"]) == 3.0 and float(entry.anchor["v"]) == 1.0
    model.set(w=5.0, v=0.0)
    # Σ F·(θ − θ*)² = 36·(5 − 3)² + 4·(0 − 1)² = 144 + 4 = 148; loss = λ/2 · 148 = 148 with λ = 2
    loss, stats = hook.extra_loss(model, None, None)  # type: ignore[arg-type]
    assert loss is not None
    assert stats["penalty"] == pytest.approx(148.0) and float(loss.detach()) == pytest.approx(148.0)
    loss.backward()
    # ∂loss/∂w = λ/2 · 2·F_w·(w − w*) = 1 · 2·36·(5 − 3) = 144
    assert float(model.w.grad) == pytest.approx(144.0)  # type: ignore[arg-type]


def test_only_trainable_parameters_enter_the_fisher() -> None:
    model, hook = Toy(), ewc()
    model.v.requires_grad_(False)  # e.g. frozen by the stage's policy: only w is trainable now
    run_task(hook, model, TASK0, task=0)
    assert set(hook.consolidated[0].fisher) == {"w"}  # b (frozen) and v (frozen now) are absent
    model.v.requires_grad_(True)
    model.set(v=9.0, b=4.0)  # moving untracked parameters costs nothing
    assert penalty(hook, model) == 0.0


def test_estimation_runs_in_eval_mode_restores_train_mode_and_leaves_no_grads() -> None:
    model, hook = Toy(), ewc(fisher_batches=3)
    model.train()
    run_task(hook, model, TASK0, task=0)
    assert model.modes == [False, False, False] and model.training
    assert all(p.grad is None for p in model.parameters())
    model.eval()
    run_task(hook, model, TASK0, task=1)
    assert not model.training


def test_online_equals_separate_after_one_task() -> None:
    torch.manual_seed(0)
    items = [Item(x=float(x), y=float(y)) for x, y in torch.randn(12, 2).tolist()]
    separate, online = ewc(mode="separate"), ewc(mode="online", gamma=0.3)
    model = Toy(w=0.7, v=-0.2)
    run_task(separate, model, items, task=0)
    run_task(online, model, items, task=0)
    model.set(w=-1.3, v=0.4)
    assert penalty(online, model) == penalty(separate, model) > 0


def test_online_decay_after_two_tasks() -> None:
    online, separate = ewc(mode="online", gamma=0.5), ewc(mode="separate")
    for hook in (online, separate):
        model = Toy(w=3.0, v=1.0)
        run_task(hook, model, TASK0, task=0)
        model.set(w=1.0, v=2.0)
        run_task(hook, model, TASK1, task=1)
    (running,) = online.consolidated
    # F = γF_1 + F_2: w: 0.5·36 + 64 = 82; v: 0.5·4 + 16 = 18; anchor θ* = θ*_2 = (1, 2)
    assert float(running.fisher["w"]) == pytest.approx(82.0) and float(running.fisher["v"]) == pytest.approx(18.0)
    assert float(running.anchor["w"]) == 1.0 and float(running.anchor["v"]) == 2.0 and running.tasks == [0, 1]
    at = Toy(w=2.0, v=0.0)
    # online: 82·(2 − 1)² + 18·(0 − 2)² = 82 + 72 = 154
    assert penalty(online, at) == pytest.approx(154.0)
    # separate: 36·(2 − 3)² + 4·(0 − 1)² + 64·(2 − 1)² + 16·(0 − 2)² = 36 + 4 + 64 + 64 = 168
    assert penalty(separate, at) == pytest.approx(168.0)


@pytest.mark.parametrize("mode", ["separate", "online"])
def test_state_round_trip_gives_the_same_penalty(mode: str) -> None:
    hook = ewc(mode=mode, gamma=0.9)
    model = Toy(w=3.0, v=1.0)
    run_task(hook, model, TASK0, task=0)
    model.set(w=1.0, v=2.0)
    run_task(hook, model, TASK1, task=1)
    state, tensors = hook.state_dict()
    assert state["entries"][-1]["parameters"] == ["w", "v"] and "fisher.0.w" in tensors and "anchor.0.v" in tensors
    state = json.loads(json.dumps(state))  # plain JSON
    tensors = safetensors.torch.load(safetensors.torch.save({k: v.contiguous() for k, v in tensors.items()}))
    resumed = ewc(mode=mode, gamma=0.9)
    resumed.load_state_dict(state, tensors)
    again, again_tensors = resumed.state_dict()
    assert again == state and again_tensors.keys() == tensors.keys()
    assert all(torch.equal(again_tensors[k], tensors[k]) for k in tensors)
    model.set(w=-2.0, v=0.5)
    assert penalty(resumed, model) == penalty(hook, model) > 0


def test_a_stored_parameter_the_model_lacks_is_an_error_naming_it() -> None:
    hook = ewc()
    run_task(hook, Toy(), TASK0, task=0)

    class Other(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

    with pytest.raises(ValueError, match="'v'"):
        hook.extra_loss(Other(), None, None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'v'"):
        hook.on_task_start(context(Other(), current=TASK0, task=1))


def test_a_state_of_another_mode_or_missing_tensor_is_an_error() -> None:
    hook = ewc()
    run_task(hook, Toy(), TASK0, task=0)
    state, tensors = hook.state_dict()
    with pytest.raises(ValueError, match="mode 'separate'"):
        ewc(mode="online").load_state_dict(state, tensors)
    del tensors["anchor.0.w"]
    with pytest.raises(ValueError, match=r"anchor\.0\.w"):
        ewc().load_state_dict(state, tensors)


def test_settings_lambda_alias_and_defaults() -> None:
    assert EWCSettings.model_validate({"lambda": 3}).lambda_ == 3.0
    assert EWCSettings.model_validate({"lambda_": 4}).lambda_ == 4.0
    defaults = EWCSettings()
    assert (defaults.mode, defaults.gamma, defaults.fisher_batches, defaults.fisher_batch_size) == (
        "separate",
        1.0,
        8,
        None,
    )
    with pytest.raises(ValueError, match="gamma"):
        EWCSettings.model_validate({"gamma": 1.5})
    with pytest.raises(ValueError, match="lamda"):
        EWCSettings.model_validate({"lamda": 1})
