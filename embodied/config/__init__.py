"""Experiment configuration: YAML presets with ``extends``, dotted overrides, validation and ``ConfigError``."""

from embodied.config.errors import ConfigError, Problem
from embodied.config.loader import load_config, save_config, validate_config
from embodied.config.model import ModelSpec
from embodied.config.schema import ExperimentConfig

__all__ = [
    "ConfigError",
    "ExperimentConfig",
    "ModelSpec",
    "Problem",
    "load_config",
    "save_config",
    "validate_config",
]
