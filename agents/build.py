"""Agents from saved models and baselines: ``load_agent(model_dir, ...)`` and ``make_baseline(kind, envs, seed)``.

``quantize="int8"`` applies PyTorch dynamic quantization (``torch.ao.quantization.quantize_dynamic``: int8
weights, activations quantized per batch at run time) to the model's ``nn.Linear`` layers for CPU inference —
the backbone's attention and MLP projections, the LM head, the projectors and the heads' MLPs. Generation
(``generate_ids``) and every head's ``predict`` run unchanged on the result. What stays float, and why:

- LoRA adapters: ``quantize_dynamic`` swaps the ``nn.Linear`` inside a peft ``LoraLayer`` for a module whose
  ``weight`` is a method, and peft's forward reads ``lora_A.weight.dtype`` (AttributeError). The backbone's
  adapters are therefore merged first (``merge_and_unload``, exact up to float rounding; trainable token rows
  fold into the embeddings), and adapter layers injected into other modules (e.g. a LoRA projector) are left
  out of quantization (``quantizable_linears``).
- embeddings, convolutions (CNN encoder, pointer key maps), norms: dynamic quantization only covers linear
  (and recurrent) layers. The LM head keeps its own int8 copy while the float token table feeds the inputs.
- ``NonDynamicallyQuantizableLinear`` (the output projection of ``nn.MultiheadAttention``): torch excludes it.

The quantized model runs on CPU only. ``torch.ao.quantization`` is deprecated in favour of torchao; its
deprecation warnings are silenced here.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, cast

from embodied.agents.base import Agent
from embodied.agents.mmllm import ACTION_KINDS, MMLLMAgent, head_kind
from embodied.agents.random import RandomAgent
from embodied.agents.scripted import ScriptedAgent

__all__ = [
    "QUANTIZATIONS",
    "default_action_head",
    "load_agent",
    "make_baseline",
    "merge_adapters",
    "quantizable_linears",
    "quantize_model",
]

QUANTIZATIONS = ("int8",)


def default_action_head(model: Any) -> str:
    """The model's first action head by kind preference: pointer > action-tokens > continuous > diffusion."""
    kinds = {name: head_kind(model, name) for name in model.heads}
    for kind in ACTION_KINDS:
        for name, k in kinds.items():
            if k == kind:
                return name
    raise ValueError(f"the model has no action head (heads and kinds: {kinds}); pass head= explicitly")


def merge_adapters(model: Any) -> None:
    """Fold the backbone's LoRA adapters (and trainable token rows) into its weights, in place (inference only).

    Prefix tuning has nothing to fold and stays as it is."""
    from peft import PeftModel

    lm = model.backbone.model
    if isinstance(lm, PeftModel) and not lm.active_peft_config.is_prompt_learning:
        model.backbone.model = lm.merge_and_unload()


def quantizable_linears(model: Any) -> set[str]:
    """Names of the plain ``nn.Linear`` modules outside PEFT adapter layers (those stay float: see above)."""
    from peft.tuners.tuners_utils import BaseTunerLayer
    from torch import nn

    inside_adapters = {
        sub
        for name, module in model.named_modules()
        if isinstance(module, BaseTunerLayer)
        for sub, _ in cast(nn.Module, module).named_modules(prefix=name)
    }
    return {name for name, m in model.named_modules() if type(m) is nn.Linear and name not in inside_adapters}


def quantize_model(model: Any, quantize: str) -> Any:
    """``model`` (moved to CPU) with int8 dynamic quantization of its linear layers, in place (module docstring)."""
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"quantize must be one of {QUANTIZATIONS} or None, got {quantize!r}")
    model = model.cpu().eval()
    merge_adapters(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        import torch
        from torch.ao.quantization import default_dynamic_qconfig, quantize_dynamic

        spec = dict.fromkeys(quantizable_linears(model), default_dynamic_qconfig)
        return quantize_dynamic(model, spec, dtype=torch.qint8, inplace=True)


def load_agent(
    model_dir: str | Path, head: str | None = None, *, quantize: str | None = None, **agent_kwargs: Any
) -> MMLLMAgent:
    """An ``MMLLMAgent`` for the model saved at ``model_dir`` (``MMLLM.from_pretrained``: safetensors, local only).

    ``head`` defaults to ``default_action_head``; ``agent_kwargs`` go to ``MMLLMAgent`` (``chunk_queue``,
    ``temporal_ensemble``, ``prompt``, ``do_sample``, ``seed``, ...).
    """
    from embodied.models import MMLLM

    model = MMLLM.from_pretrained(str(model_dir)).eval()
    if quantize is not None:
        model = quantize_model(model, quantize)
    return MMLLMAgent(model, head or default_action_head(model), **agent_kwargs)


def make_baseline(kind: str, envs: Any, seed: int = 0) -> Agent:
    """``"random"`` (uniform over one sub-env's action space, seeded) or ``"scripted"`` (the envs' experts)."""
    if kind == "random":
        return RandomAgent(envs.single_action_space, seed=seed)
    if kind == "scripted":
        return ScriptedAgent(envs)
    raise ValueError(f"unknown baseline {kind!r}; expected 'random' or 'scripted'")
