"""Hyper-parameters of the supervised loop, importable without torch (the config schema reuses them per stage).

``LoopSettings`` holds every field a stage of an experiment config sets (``stages.N.max_steps`` ...);
``TrainerSettings`` adds the stage name the ``Trainer`` writes into metrics and checkpoints.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["LoopSettings", "TrainerSettings"]


class LoopSettings(BaseModel):
    """Hyper-parameters of one supervised stage; the field descriptions are the help text."""

    model_config = ConfigDict(extra="forbid")

    max_steps: int = Field(1000, ge=1, description="optimizer updates in the stage (the cosine ends here)")
    lr: float = Field(1e-4, gt=0, description="peak learning rate of AdamW")
    weight_decay: float = Field(0.0, ge=0, description="AdamW decoupled weight decay (not on biases and norms)")
    warmup_steps: int = Field(0, ge=0, description="linear warm-up updates before the cosine decay")
    lr_schedule: Literal["cosine", "constant"] = Field(
        "cosine", description="after the warm-up: cosine decay to 0 at max_steps, or a constant rate"
    )
    grad_accum: int = Field(1, ge=1, description="micro-batches accumulated into one optimizer update")
    max_grad_norm: float | None = Field(1.0, gt=0, description="clip the global gradient norm to this; null: never")
    batch_size: int = Field(1, ge=1, description="samples per micro-batch when a collate function is given")
    eval_every: int = Field(0, ge=0, description="evaluate every N steps (0: only at the end)")
    log_every: int = Field(1, ge=1, description="write a train record to metrics.jsonl every N steps")
    checkpoint_every: int = Field(0, ge=0, description="checkpoint every N steps (0: only at the end)")
    keep_checkpoints: int | None = Field(3, ge=1, description="keep the newest N checkpoints (null: keep all)")
    max_nonfinite: int = Field(3, ge=1, description="stop after this many consecutive non-finite steps")
    seed: int = Field(0, ge=0, description="seeds the RNGs and the per-epoch data order (seed + epoch)")
    progress_bar: bool = Field(True, description="show a tqdm bar on the main process")
    tensorboard: bool = Field(True, description="also log to RUN_DIR/tensorboard when tensorboard is installed")
    feature_cache: bool = Field(
        True, description="encode each distinct input of a frozen, deterministic encoder once per stage and reuse it"
    )

    @model_validator(mode="after")
    def _warmup_fits(self) -> LoopSettings:
        if self.warmup_steps > self.max_steps:
            raise ValueError(f"warmup_steps ({self.warmup_steps}) exceeds max_steps ({self.max_steps})")
        return self


class TrainerSettings(LoopSettings):
    """``LoopSettings`` plus the name of the stage (written into metrics and checkpoints)."""

    stage: str = Field("sft", min_length=1, description="stage name, written into metrics and checkpoints")
