"""Tiny from-scratch configs of several causal-LM families (hidden 32, 2 layers, 4 heads) for tests.

Each entry is the ``config`` of an ``hf-causal-lm`` backbone; ``vocab_size`` and the pad/bos/eos ids are set
from the locally trained tokenizer when the backbone is built. Families differ where it matters to the
wrapper: grouped-query attention (llama, qwen2, mistral, smollm3), tied embeddings (qwen2 with
``tie_word_embeddings``, gemma, gpt2, smollm3), fused projections (``qkv_proj`` in phi3, ``c_attn`` in gpt2),
absolute position embeddings (gpt2), scaled input embeddings with an explicit ``head_dim`` (gemma), sliding
windows and logit soft-capping (gemma2) and q/k norms (qwen3).
"""

from __future__ import annotations

from typing import Any

_DECODER: dict[str, Any] = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "max_position_embeddings": 256,
}

TINY_BACKBONE_CONFIGS: dict[str, dict[str, Any]] = {
    "llama": {"model_type": "llama", "num_key_value_heads": 2, **_DECODER},
    "qwen2": {"model_type": "qwen2", "num_key_value_heads": 2, "tie_word_embeddings": True, **_DECODER},
    "mistral": {"model_type": "mistral", "num_key_value_heads": 2, "sliding_window": None, **_DECODER},
    # gemma's default head_dim is 256 whatever the hidden size; keep it hidden / heads
    "gemma": {"model_type": "gemma", "num_key_value_heads": 2, "head_dim": 8, **_DECODER},
    # gemma2: eager attention only, alternating sliding-window layers (window 4 < test sequences), logit soft-capping
    "gemma2": {"model_type": "gemma2", "num_key_value_heads": 2, "head_dim": 8, "sliding_window": 4, **_DECODER},
    # qwen3: per-head q/k RMSNorm
    "qwen3": {"model_type": "qwen3", "num_key_value_heads": 2, "head_dim": 8, **_DECODER},
    "phi3": {"model_type": "phi3", "num_key_value_heads": 4, **_DECODER},
    "smollm3": {"model_type": "smollm3", "num_key_value_heads": 2, **_DECODER},
    # dropout off (gpt2 defaults to 0.1) so train-mode forwards are deterministic like the other families
    "gpt2": {
        "model_type": "gpt2",
        "n_embd": 32,
        "n_inner": 64,
        "n_layer": 2,
        "n_head": 4,
        "n_positions": 256,
        "resid_pdrop": 0.0,
        "embd_pdrop": 0.0,
        "attn_pdrop": 0.0,
    },
}

#: the backbone built when a config names neither ``config`` nor ``path``: a small Qwen2-style LM
DEFAULT_BACKBONE_CONFIG: dict[str, Any] = {
    "model_type": "qwen2",
    "hidden_size": 128,
    "intermediate_size": 384,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 1024,
}
