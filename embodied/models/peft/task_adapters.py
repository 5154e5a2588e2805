"""Per-task LoRA adapters on one shared backbone (the ``adapters`` continual-learning hook), through stock ``peft``.

Each task after the first gets its own named LoRA adapter (``peft``'s multi-adapter ``PeftModel``:
``get_peft_model(..., adapter_name=)`` / ``add_adapter``); acting on a task activates its adapter
(``set_adapter``), and the first task runs the shared base with the task adapters' layers switched off. The
adapters are recorded in the model spec (``task_adapters``: name → LoRA settings), so ``from_pretrained`` rebuilds
them before loading the weights, and ``save_pretrained`` also writes them with ``PeftModel.save_pretrained`` into
``adapters/<name>/`` (``adapter_config.json`` + ``adapter_model.safetensors``) for stock ``peft`` to load.
A backbone LoRA policy's own adapter (``default``) is part of the shared base and stays active under every task.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from embodied.models.peft.lora import LoraSettings
from embodied.models.peft.quiet import quiet_peft_warnings

__all__ = [
    "ADAPTERS_DIR",
    "add_task_adapter",
    "save_task_adapters",
    "task_adapter_names",
    "task_adapter_parameters",
    "use_task_adapter",
]

ADAPTERS_DIR = "adapters"
_BASE_ADAPTER = "default"


def _peft_model(backbone: Any) -> Any:
    from peft import PeftModel

    model = backbone.model
    return model if isinstance(model, PeftModel) else None


def add_task_adapter(backbone: Any, name: str, settings: LoraSettings) -> None:
    """Add a LoRA adapter ``name`` to ``backbone.model`` (wrapping it in a ``PeftModel`` when needed)."""
    from peft import LoraConfig, TaskType, get_peft_model

    if name == _BASE_ADAPTER:
        raise ValueError(f"{name!r} is the backbone policy's own adapter; a task adapter needs another name")
    config = LoraConfig(
        task_type=TaskType.CAUSAL_LM,
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=list(settings.target_modules or backbone.default_peft_targets),
    )
    peft_model = _peft_model(backbone)
    with quiet_peft_warnings():
        if peft_model is None:
            backbone.model = get_peft_model(backbone.model, config, adapter_name=name)
        elif name in peft_model.peft_config:
            raise ValueError(f"the backbone already has an adapter named {name!r}")
        else:
            peft_model.add_adapter(name, config)


def task_adapter_names(backbone: Any) -> list[str]:
    """The task adapters on the backbone, in the order they were added."""
    peft_model = _peft_model(backbone)
    return [] if peft_model is None else [n for n in peft_model.peft_config if n != _BASE_ADAPTER]


def use_task_adapter(backbone: Any, name: str | None) -> None:
    """Act with task adapter ``name`` (``None``: the shared base alone); the base's own adapter stays on."""
    peft_model = _peft_model(backbone)
    names = task_adapter_names(backbone)
    if name is not None and name not in names:
        raise KeyError(f"the model has no task adapter {name!r}; its task adapters are {names}")
    if peft_model is None:
        return
    tuner = peft_model.base_model
    base = [_BASE_ADAPTER] if _BASE_ADAPTER in peft_model.peft_config else []
    active = base + ([name] if name is not None else [])
    grads = {n: p.requires_grad for n, p in peft_model.named_parameters()}
    if active:
        tuner.enable_adapter_layers()
        tuner.set_adapter(active)
    else:
        tuner.disable_adapter_layers()
    for n, p in peft_model.named_parameters():  # set_adapter marks the active adapters trainable: undo that
        p.requires_grad_(grads[n])


def task_adapter_parameters(module: nn.Module, name: str) -> list[nn.Parameter]:
    """The parameters of task adapter ``name`` anywhere under ``module`` (``lora_A.<name>.weight``, ...)."""
    return [p for n, p in module.named_parameters() if f".{name}." in f".{n}."]


def save_task_adapters(backbone: Any, directory: Path) -> list[Path]:
    """Write every task adapter with stock ``PeftModel.save_pretrained`` into ``directory/<name>/``."""
    peft_model = _peft_model(backbone)
    names = task_adapter_names(backbone)
    if peft_model is None or not names:
        return []
    with quiet_peft_warnings():  # peft writes a non-default adapter into directory/<name>/
        peft_model.save_pretrained(str(directory), selected_adapters=names, safe_serialization=True)
    return [directory / name for name in names]
