"""The PEFT-method contract: a registered way to make part of the model trainable through ``peft``.

A component group's policy is ``frozen``, ``full`` or one of these methods (``lora``, ``prefix``, ``ln``).
Methods apply to the backbone's causal LM (the result is a stock ``peft.PeftModel``, so adapters save and load
with ``peft``) and, where the method allows it, to any other ``nn.Module`` of the model in place.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from torch import nn

from embodied.registry import ComponentSettings, Registry

PEFT_METHODS: Registry[PeftMethod] = Registry("peft method")


class PeftMethod(ABC):
    """Turns a module's parameters into adapter-only training (everything else frozen)."""

    #: whether the method applies to modules other than the LLM backbone (prefix tuning does not)
    applies_to_any_module: bool = True

    def __init__(self, settings: ComponentSettings) -> None:
        self.settings = settings

    @abstractmethod
    def apply_to_backbone(self, model: nn.Module, default_targets: list[str]) -> nn.Module:
        """Wrap the HF causal LM; returns the ``peft.PeftModel`` to use in its place."""

    @abstractmethod
    def apply_to_module(self, module: nn.Module, name: str) -> None:
        """Inject adapters into a non-backbone module in place (``name`` is used in error messages)."""

    def describe(self) -> dict[str, Any]:
        return {"method": type(self).__name__, **self.settings.model_dump()}
