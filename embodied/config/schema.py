"""The experiment config: the root object ``load_config`` returns."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from embodied.config.continual import ContinualSpec, TaskSpec
from embodied.config.data import DataSpec
from embodied.config.evaluation import EvalSpec
from embodied.config.model import ModelSpec
from embodied.config.stages import StageSpec, default_stages


class ExperimentConfig(BaseModel):
    """One experiment: seed, model, demonstration data, the training stages run in order, and the evaluation."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("experiment", min_length=1, description="a short name used in run directories")
    seed: int = Field(0, ge=0, description="seed for every random number generator of the run")
    model: ModelSpec = Field(default_factory=lambda: ModelSpec())
    data: DataSpec = Field(default_factory=lambda: DataSpec())
    stages: list[StageSpec] = Field(default_factory=default_stages, description="training stages, run in order")
    evaluation: EvalSpec = Field(default_factory=lambda: EvalSpec(), description="evaluation after training")
    tasks: list[TaskSpec] = Field(
        default_factory=list, description="a task sequence for `embodied continual` (each: name, data, stages)"
    )
    continual: ContinualSpec = Field(
        default_factory=lambda: ContinualSpec(), description="evaluation and methods of the task sequence"
    )

    @model_validator(mode="after")
    def _unique_stage_names(self) -> ExperimentConfig:
        names = [stage.name for stage in self.stages]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"stage names must be unique (each is a run sub-directory); repeated: {repeated}")
        tasks = [task.name for task in self.tasks]
        if len(set(tasks)) != len(tasks):
            raise ValueError(f"task names must be unique (each is a run sub-directory); got {tasks}")
        return self
