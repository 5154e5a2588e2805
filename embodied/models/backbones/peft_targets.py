"""Default PEFT target modules per Hugging Face ``model_type``: the attention projections of each family.

LoRA on the query and value projections is the setting of the LoRA paper (Hu et al. 2021, §7.1); families
with a fused projection are targeted through it (``c_attn`` in GPT-2, ``qkv_proj`` in Phi-3,
``query_key_value`` in GPT-NeoX/Falcon/BLOOM). Families not listed here fall back to peft's own table
(``TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING``). Never the bare string ``"all-linear"``: explicit
names keep the adapter layout identical between the model that trains and the one that reloads it.
"""

from __future__ import annotations

_QV = ["q_proj", "v_proj"]

#: families whose attention has separate q/k/v projections named q_proj, v_proj
_QV_FAMILIES = [
    "llama",
    "mistral",
    "mixtral",
    "qwen2",
    "qwen2_moe",
    "qwen3",
    "qwen3_moe",
    "gemma",
    "gemma2",
    "gemma3_text",
    "smollm3",
    "olmo",
    "olmo2",
    "phi",
    "stablelm",
    "starcoder2",
    "granite",
    "cohere",
    "opt",
    "gptj",
    "mllama",
]

DEFAULT_PEFT_TARGETS: dict[str, list[str]] = {
    **dict.fromkeys(_QV_FAMILIES, _QV),
    "gpt2": ["c_attn"],
    "gpt_bigcode": ["c_attn"],
    "phi3": ["qkv_proj"],
    "gpt_neox": ["query_key_value"],
    "falcon": ["query_key_value"],
    "bloom": ["query_key_value"],
    "mpt": ["Wqkv"],
}


def default_peft_targets(model_type: str) -> list[str]:
    """The target module names for ``model_type``; a ``ValueError`` names the setting to use otherwise."""
    if model_type in DEFAULT_PEFT_TARGETS:
        return list(DEFAULT_PEFT_TARGETS[model_type])
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as PEFT_TABLE

    if model_type in PEFT_TABLE:
        return list(PEFT_TABLE[model_type])
    raise ValueError(
        f"no default PEFT target modules are known for model_type {model_type!r}; "
        "name them in the policy, e.g. trainable.backbone: {method: lora, target_modules: [q_proj, v_proj]}"
    )
