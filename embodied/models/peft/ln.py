"""``ln``: LayerNorm tuning (Zhao et al. 2023, "Tuning LayerNorm in Attention") — only normalisation layers train.

Through stock ``peft`` (``LNTuningConfig``): each targeted norm layer gets a trainable copy beside the frozen
original. On the backbone the result is a ``PeftModel``; on other modules the copies are injected in place with
``peft.inject_adapter_in_model``. Norm layers are found by type — ``nn.LayerNorm``, ``nn.GroupNorm``,
``nn.RMSNorm`` and the families' own ``*RMSNorm``/``*LayerNorm`` classes (``LlamaRMSNorm``, ...).
"""

from __future__ import annotations

import re

from pydantic import Field
from torch import nn

from embodied.models.peft.base import PEFT_METHODS, PeftMethod
from embodied.models.peft.quiet import quiet_peft_warnings
from embodied.registry import ComponentSettings

_NORM_TYPES = (nn.LayerNorm, nn.GroupNorm, nn.RMSNorm)
_NORM_SUFFIXES = ("LayerNorm", "RMSNorm", "GroupNorm")


class LNSettings(ComponentSettings):
    """Which norm layers train (default: every normalisation layer of the module)."""

    target_modules: list[str] | None = Field(default=None, description="norm module names (default: all norm layers)")


def norm_layer_names(module: nn.Module) -> list[str]:
    """Full names of the normalisation layers with parameters inside ``module``."""
    return [
        name
        for name, layer in module.named_modules()
        if name
        and (isinstance(layer, _NORM_TYPES) or type(layer).__name__.endswith(_NORM_SUFFIXES))
        and any(True for _ in layer.parameters(recurse=False))
    ]


@PEFT_METHODS.register("ln", LNSettings)
class LNMethod(PeftMethod):
    """Only the normalisation layers' scales (and biases) train."""

    settings: LNSettings

    def apply_to_backbone(self, model: nn.Module, default_targets: list[str]) -> nn.Module:
        from peft import LNTuningConfig, TaskType, get_peft_model

        config = LNTuningConfig(task_type=TaskType.CAUSAL_LM, target_modules=self._targets(model, "the backbone"))
        with quiet_peft_warnings():
            peft_model: nn.Module = get_peft_model(model, config)
        return peft_model

    def apply_to_module(self, module: nn.Module, name: str) -> None:
        from peft import LNTuningConfig, inject_adapter_in_model

        with quiet_peft_warnings():
            inject_adapter_in_model(LNTuningConfig(target_modules=self._targets(module, name)), module)

    def _targets(self, module: nn.Module, name: str) -> list[str] | str:
        if self.settings.target_modules is not None:
            return list(self.settings.target_modules)
        found = norm_layer_names(module)
        if not found:
            raise ValueError(
                f"ln tuning found no normalisation layer in {name} ({type(module).__name__}); "
                "use 'full' or 'frozen' for it"
            )
        # full-name regex: exactly these layers (a list would match by suffix)
        return "^(" + "|".join(re.escape(n) for n in found) + ")$"
