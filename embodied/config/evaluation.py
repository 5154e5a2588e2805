"""Settings of an experiment's evaluation (``evaluation:`` section), run after the stages by ``embodied quickstart``.

Same meaning as the ``embodied eval`` options: ``episodes`` rollouts of the trained model (and of each of
``baselines``) on ``env_id`` (default: the first of ``data.env_ids``, with ``data.env_kwargs``) on the
``split`` (``heldout``: held-out seeds and held-out instruction templates), ``vqa_episodes`` questions on
``embodied/TabletopVQA-v0`` of the types in ``vqa_qtypes`` (default: the ones the data asked), and
``plan_episodes`` episodes of the planner agent.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Baseline = Literal["random", "scripted"]
BASELINE_KINDS: tuple[Baseline, ...] = ("random", "scripted")


class EvalSpec(BaseModel):
    """What to evaluate once training is done."""

    model_config = ConfigDict(extra="forbid")

    env_id: str | None = Field(None, description="env id to roll out in; null = the first of data.env_ids")
    splits: list[Literal["train", "heldout", "heldout-seeds"]] = Field(
        default_factory=lambda: ["heldout"],  # type: ignore[arg-type]
        min_length=1,
        description="splits evaluated in turn: heldout = held-out seeds + instructions; heldout-seeds = held-out "
        "seeds with the training instructions",
    )
    episodes: int = Field(50, ge=1, description="rollouts per agent")
    num_envs: int = Field(4, ge=1, description="sub-envs of the sync vector env")
    baselines: list[Baseline] = Field(
        default_factory=lambda: list(BASELINE_KINDS),
        description="baseline agents evaluated alongside",
    )
    vqa_episodes: int = Field(0, ge=0, description="questions on embodied/TabletopVQA-v0 (0 = none)")
    vqa_qtypes: list[str] | None = Field(None, description="question types asked; null = data.vqa_qtypes")
    plan_episodes: int = Field(0, ge=0, description="episodes of the planner agent (plan validity and success)")
    plan_grammar: bool = Field(
        False, description="decode plans constrained to the plan grammar (verb(<colour> <shape>))"
    )
    int8: bool = Field(False, description="also roll out the int8 dynamically quantised model on the same seeds")
    videos: int = Field(2, ge=0, description="GIFs of the first K episodes per agent in the report")
