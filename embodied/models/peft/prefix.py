"""``prefix``: prefix tuning (Li & Liang 2021) — learned key/value vectors in front of every attention layer.

Backbone only: the prefix lives in the LM's KV cache, which other modules do not have. The result is a stock
``peft.PeftModel`` (its ``prompt_encoder`` holds the prefix); the backbone's ``forward`` feeds the prefix as
the initial KV cache and extends the attention mask by ``num_virtual_tokens`` ones.
"""

from __future__ import annotations

from pydantic import Field
from torch import nn

from embodied.models.peft.base import PEFT_METHODS, PeftMethod
from embodied.models.peft.quiet import quiet_peft_warnings
from embodied.registry import ComponentSettings


class PrefixSettings(ComponentSettings):
    """Prefix length; the prefix is a free embedding per virtual token and layer (no reparametrisation MLP)."""

    num_virtual_tokens: int = Field(default=8, ge=1, le=1024, description="prefix length per attention layer")


@PEFT_METHODS.register("prefix", PrefixSettings)
class PrefixMethod(PeftMethod):
    """Prefix tuning of the LLM backbone (learned per-layer key/value prefix)."""

    applies_to_any_module = False
    settings: PrefixSettings

    def apply_to_backbone(self, model: nn.Module, default_targets: list[str]) -> nn.Module:
        from peft import PrefixTuningConfig, TaskType, get_peft_model

        config = PrefixTuningConfig(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=self.settings.num_virtual_tokens)
        with quiet_peft_warnings():
            peft_model: nn.Module = get_peft_model(model, config)
        return peft_model

    def apply_to_module(self, module: nn.Module, name: str) -> None:
        raise ValueError(
            f"prefix tuning applies only to the LLM backbone, not to {name} ({type(module).__name__}): "
            "it adds key/value vectors to the LM's attention; use lora, ln, full or frozen there"
        )
