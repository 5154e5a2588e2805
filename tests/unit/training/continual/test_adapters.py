"""Per-task adapters: task 1's outputs are ``torch.equal`` before and after training task 2 (and the base's
after both); only the new adapter trains; the adapters save with the model and reload with stock ``peft``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from embodied.models.config import MMLLMConfig
from embodied.models.mmllm import MMLLM
from embodied.training.continual.adapters import TaskAdapters, adapter_name
from embodied.training.continual.base import HOOKS, TaskContext
from tests.factory import HEAD_SPECS, batch_for, tiny_spec


def tiny_model() -> MMLLM:
    torch.manual_seed(0)
    heads = {"text": HEAD_SPECS["text"], "continuous": HEAD_SPECS["continuous"]}
    return MMLLM(MMLLMConfig(spec=tiny_spec(heads=heads)))


def start(model: MMLLM, task: int) -> TaskAdapters:
    entry, settings = HOOKS.resolve({"kind": "adapters", "r": 4})
    hook = entry.target(settings, "0-adapters")  # type: ignore[call-arg]
    assert isinstance(hook, TaskAdapters)
    ctx = TaskContext(task, f"t{task}", "instruct", "instruct", model, [], [], lambda s: {}, 0, 2)
    hook.on_task_start(ctx)
    return hook


def train(model: MMLLM, batch: dict[str, Any], steps: int = 3) -> None:
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.5)
    for _ in range(steps):
        optimizer.zero_grad()
        model(**batch).loss.backward()  # type: ignore[union-attr]
        optimizer.step()


@torch.no_grad()
def outputs(model: MMLLM, batch: dict[str, Any], task: int) -> torch.Tensor:
    model.eval()
    model.use_task_adapter(adapter_name(task))
    hidden = model(**batch).hidden
    model.train()
    assert hidden is not None
    return hidden.clone()


def test_earlier_tasks_outputs_are_unchanged(tmp_path: Path) -> None:
    model = tiny_model()
    batch = batch_for(model, n=2)
    start(model, 0)
    train(model, batch)  # task 0 trains the shared base
    start(model, 1)
    trained = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trained and all(".task-1." in f".{n}." for n in trained)
    train(model, batch)
    base, task1 = outputs(model, batch, 0), outputs(model, batch, 1)
    assert not torch.equal(base, task1)  # the adapter learned something
    start(model, 2)
    assert all(".task-2." in f".{n}." for n, p in model.named_parameters() if p.requires_grad)
    train(model, batch)
    assert torch.equal(outputs(model, batch, 1), task1)
    assert torch.equal(outputs(model, batch, 0), base)
    assert not torch.equal(outputs(model, batch, 2), task1)
    assert model.task_adapters == ["task-1", "task-2"]


def test_saved_adapters_reload_with_our_loader_and_stock_peft(tmp_path: Path) -> None:
    from peft import PeftModel

    model = tiny_model()
    batch = batch_for(model, n=2)
    model.save_pretrained(tmp_path / "base")
    start(model, 1)
    train(model, batch)
    expected = outputs(model, batch, 1)
    model.save_pretrained(tmp_path / "after")
    loaded = MMLLM.from_pretrained(tmp_path / "after")
    assert loaded.task_adapters == ["task-1"]
    assert torch.equal(outputs(loaded, batch, 1), expected)
    assert (tmp_path / "after/adapters/task-1/adapter_config.json").is_file()
    # stock peft: the task-0 base's causal LM + PeftModel.from_pretrained(adapters/task-1) = our task-1 model
    stock = MMLLM.from_pretrained(tmp_path / "base")
    stock.backbone.model = PeftModel.from_pretrained(
        stock.backbone.model, str(tmp_path / "after/adapters/task-1"), adapter_name="task-1"
    )
    assert torch.equal(outputs_raw(stock, batch), expected)


@torch.no_grad()
def outputs_raw(model: MMLLM, batch: dict[str, Any]) -> torch.Tensor:
    model.eval()
    hidden = model(**batch).hidden
    assert hidden is not None
    return hidden
