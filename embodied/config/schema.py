"""The experiment config: the root object ``load_config`` returns."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from embodied.config.model import ModelSpec


class ExperimentConfig(BaseModel):
    """One experiment: seed, model, and (in later stages of the project) data, stages, env and evaluation."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("experiment", min_length=1, description="a short name used in run directories")
    seed: int = Field(0, ge=0, description="seed for every random number generator of the run")
    model: ModelSpec = Field(default_factory=lambda: ModelSpec())
