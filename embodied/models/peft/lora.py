"""``lora``: low-rank adapters (Hu et al. 2021) on chosen linear layers, through stock ``peft``.

On the backbone the result is a ``peft.PeftModel`` (``get_peft_model``), so the adapter saves with
``save_pretrained`` and reloads with ``PeftModel.from_pretrained``. On any other module the adapters are
injected in place (``peft.inject_adapter_in_model``) and saved with the model's own state dict.

Tokens added to the vocabulary (action tokens, stream placeholders) start as the mean embedding and LoRA alone
cannot move them apart; ``trainable_token_indices: new`` trains just those rows (peft's trainable tokens,
input and — when untied — output embeddings), filled in from ``backbone.added_token_ids`` by
``embodied.models.freezing.apply_policy``.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field
from torch import nn

from embodied.models.peft.base import PEFT_METHODS, PeftMethod
from embodied.models.peft.quiet import quiet_peft_warnings
from embodied.registry import ComponentSettings


class LoraSettings(ComponentSettings):
    """LoRA hyper-parameters; ``alpha / r`` scales the adapter's update."""

    r: int = Field(default=8, ge=1, le=1024, description="rank of the update")
    alpha: int = Field(default=16, ge=1, description="lora_alpha: the update is scaled by alpha / r")
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0, description="dropout on the adapter's input")
    target_modules: list[str] | None = Field(
        default=None,
        description="module names to adapt (default: the backbone's attention projections, or every "
        "nn.Linear of another module)",
    )
    trainable_token_indices: list[int] | Literal["new"] | None = Field(
        default=None, description="embedding rows trained with the adapter; 'new' = the tokens the backbone added"
    )


@PEFT_METHODS.register("lora", LoraSettings)
class LoraMethod(PeftMethod):
    """Low-rank adapters on linear layers (backbone: attention projections by default)."""

    settings: LoraSettings

    def apply_to_backbone(self, model: nn.Module, default_targets: list[str]) -> nn.Module:
        from peft import LoraConfig, TaskType, get_peft_model

        config = LoraConfig(
            task_type=TaskType.CAUSAL_LM,
            r=self.settings.r,
            lora_alpha=self.settings.alpha,
            lora_dropout=self.settings.dropout,
            target_modules=list(self.settings.target_modules or default_targets),
            trainable_token_indices=self._token_rows(model),
        )
        with quiet_peft_warnings():
            peft_model: nn.Module = get_peft_model(model, config)
        return peft_model

    def apply_to_module(self, module: nn.Module, name: str) -> None:
        from peft import LoraConfig, inject_adapter_in_model

        targets: list[str] | str | None = self.settings.target_modules
        if targets is None:
            # named_modules() lists the module itself as "": peft replaces children in place, never the root
            linear = [n for n, m in module.named_modules() if isinstance(m, nn.Linear) and n]
            if not linear:
                what = (
                    "is itself a bare nn.Linear (LoRA replaces child layers)"
                    if isinstance(module, nn.Linear)
                    else "has no nn.Linear layer"
                )
                raise ValueError(
                    f"LoRA cannot adapt {name}: {type(module).__name__} {what}; use 'full' or "
                    "'frozen' for it, or name its target_modules"
                )
            # a regex matched against full module names: exactly these layers (peft matches a list of names
            # as suffixes, which could also catch a same-named conv layer deeper in the tree)
            targets = "^(" + "|".join(re.escape(n) for n in linear) + ")$"
        if self.settings.trainable_token_indices is not None:
            raise ValueError(f"trainable_token_indices applies to the backbone only, not to {name}")
        config = LoraConfig(
            r=self.settings.r,
            lora_alpha=self.settings.alpha,
            lora_dropout=self.settings.dropout,
            target_modules=targets,
        )
        inject_adapter_in_model(config, module)

    def _token_rows(self, model: nn.Module) -> dict[str, list[int]] | None:
        """peft's ``trainable_token_indices``: the rows per embedding module (tied heads follow the input)."""
        rows = self.settings.trainable_token_indices
        if rows is None or rows == []:
            return None
        if rows == "new":
            raise ValueError(
                "trainable_token_indices 'new' is resolved by apply_policy from the backbone's "
                "added tokens; pass explicit ids when applying LoRA directly"
            )
        lm: Any = model
        layers = {"input": lm.get_input_embeddings(), "output": lm.get_output_embeddings()}
        names = {key: n for n, m in lm.named_modules() for key, layer in layers.items() if m is layer}
        out = {names["input"]: list(rows)}
        tied = layers["output"] is not None and layers["output"].weight is layers["input"].weight
        if layers["output"] is not None and not tied:
            # an untied LM head has its own rows for the new tokens; peft wraps it like an embedding
            out[names["output"]] = list(rows)
        return out
