"""What ``MMLLM.save_pretrained`` / ``from_pretrained`` need beyond Hugging Face's own machinery.

A saved model must rebuild from its directory alone: the backbone entry is rewritten from "load from this
path" / "train a tokenizer" into the resolved HF config dict (vocabulary size included), and the tokenizer is
saved beside the weights and handed to the constructor on load.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embodied.models.backbones.base import BACKBONES

if TYPE_CHECKING:
    from embodied.models.mmllm import MMLLM

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")


def portable_spec(model: MMLLM) -> dict[str, Any]:
    """The model's spec with the backbone pinned to its resolved config (no source path, no tokenizer run)."""
    spec = json.loads(json.dumps(model.config.spec))
    backbone = dict(spec["backbone"])
    fields = BACKBONES.get(backbone["kind"]).settings.model_fields
    if "config" in fields:
        backbone["config"] = model.backbone.hf_config_dict()
    for key in ("path", "tokenizer"):
        if key in fields:
            backbone[key] = None
    spec["backbone"] = backbone
    return spec


def load_saved_tokenizer(directory: Any) -> Any:
    """The tokenizer saved beside a model, or ``None`` when the directory has none."""
    path = Path(str(directory))
    if not any((path / name).is_file() for name in TOKENIZER_FILES):
        return None
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))
