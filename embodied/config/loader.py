"""``load_config``: YAML preset + dotted overrides → a validated, fully resolved ``ExperimentConfig``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from embodied.config.components import resolve_model_components, resolve_policies
from embodied.config.errors import ConfigError
from embodied.config.hooks import resolve_hooks
from embodied.config.overrides import apply_overrides
from embodied.config.rl_stage import resolve_rl_stage
from embodied.config.schema import ExperimentConfig
from embodied.config.task_sequence import resolve_task_sequence
from embodied.config.validation import problems_from
from embodied.config.yaml_source import Origins, load_yaml


def load_config(path: str | Path, overrides: list[str] | None = None) -> ExperimentConfig:
    """Load an experiment config; every mistake raises one ``ConfigError`` naming file, line and key."""
    origins: Origins = {}
    raw = load_yaml(Path(path), origins)
    apply_overrides(raw, list(overrides or []), origins)
    return validate_config(raw, origins)


def validate_config(raw: dict[str, Any], origins: Origins | None = None) -> ExperimentConfig:
    """Validate an already-parsed mapping (e.g. a saved resolved config)."""
    origins = origins if origins is not None else {}
    try:
        config = ExperimentConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(problems_from(err, origins, ExperimentConfig)) from None
    problems = resolve_model_components(config.model, origins, ("model",))
    for index, stage in enumerate(config.stages):
        problems += resolve_policies(stage.trainable, origins, ("stages", index, "trainable"))
        if stage.rl is not None:
            problems += resolve_rl_stage(stage.rl, config.model, origins, ("stages", index, "rl"))
        problems += resolve_hooks(stage, origins, ("stages", index, "hooks"))
    if config.tasks:
        problems += resolve_task_sequence(
            config.tasks, config.continual, config.stages, config.data, config.model, origins
        )
    if problems:
        raise ConfigError(problems)
    return config


def save_config(config: BaseModel, path: str | Path) -> Path:
    """Write the resolved config as YAML; ``load_config`` on it gives back an equal object."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path
