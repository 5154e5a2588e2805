"""``MMLLMConfig``: the model's Hugging Face config, holding a validated and fully resolved ``ModelSpec``.

Being a ``PretrainedConfig`` subclass, it saves as ``config.json`` and loads through ``AutoConfig``.
"""

from __future__ import annotations

from typing import Any

from transformers import PretrainedConfig

from embodied.config import ConfigError, ModelSpec, validate_config


class MMLLMConfig(PretrainedConfig):
    """Config of an ``MMLLM``. ``spec`` is the ``model:`` section of an experiment (see ``ModelSpec``)."""

    model_type = "embodied-mmllm"
    spec: dict[str, Any] | None = None

    def __post_init__(self, **kwargs: Any) -> None:
        self.spec = resolve_spec(self.spec or {}).model_dump(mode="json")
        super().__post_init__(**kwargs)

    @property
    def model_spec(self) -> ModelSpec:
        return ModelSpec.model_validate(self.spec)


def resolve_spec(spec: ModelSpec | dict[str, Any]) -> ModelSpec:
    """Validate a model spec and fill in every component's defaults; ``ConfigError`` on mistakes."""
    raw = spec.model_dump(mode="json") if isinstance(spec, ModelSpec) else dict(spec)
    try:
        return validate_config({"model": raw}).model
    except ConfigError:
        raise
    except Exception as err:  # a settings model raising something pydantic does not wrap
        raise ConfigError.single("model", "a valid model spec", f"{type(err).__name__}: {err}") from None
