"""Settings of the demonstration data of an experiment (``data:`` section): which envs, how many episodes, extras.

``embodied collect`` runs each env id's scripted expert for ``episodes`` episodes (seeds ``seed``, ``seed + 1``,
... per env id) and records the ``annotations`` asked for: ``captions`` (alignment), ``plans`` and ``vqa``
(instruction tuning; VQA pairs also feed the preference stage) and ``points`` (per frame: the primitive action's
pick and place points as pixels of the first camera, the targets of a ``pointer`` head; primitive control only).
With ``policy: module:callable`` (or ``embodied collect --policy``) a user policy acts instead of the scripted
expert (``embodied.agents.user_policy``); its episodes are kept whether they succeed or not.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Annotation = Literal["captions", "plans", "vqa", "points"]
#: question types the tabletop generator can ask about any initial scene (``progress`` needs a task subgoal)
DEFAULT_QTYPES = ["count", "colour", "shape", "existence"]


def _all_annotations() -> list[Annotation]:
    return ["captions", "plans", "vqa"]


class DataSpec(BaseModel):
    """Where the demonstrations of an experiment come from."""

    model_config = ConfigDict(extra="forbid")

    env_ids: list[str] = Field(
        default_factory=lambda: ["embodied/PickPlace-v0"], min_length=1, description="registered env ids"
    )
    env_kwargs: dict[str, Any] = Field(
        default_factory=lambda: {"control": "primitive"},
        description="keyword arguments of every gym.make call (control, image_size, cameras, ...)",
    )
    episodes: int = Field(8, ge=1, description="expert episodes per env id")
    seed: int = Field(0, ge=0, description="seed of the first episode; episode k gets seed + k")
    num_envs: int = Field(2, ge=1, description="sub-envs of the SyncVectorEnv that collects")
    workers: int = Field(
        1, ge=1, le=64, description="processes collecting in parallel, each a contiguous block of episodes (seeds)"
    )
    heldout_episodes: int = Field(
        0, ge=0, description="the last N episodes are held out of training: the stages' held-out evaluation data"
    )
    annotations: list[Annotation] = Field(default_factory=_all_annotations, description="extras recorded per episode")
    policy: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$",
        description="module:callable of a policy factory (reset(seed), act(obs, info) in the env's own action "
        "space) that acts instead of the scripted expert",
    )
    vqa_qtypes: list[str] = Field(
        default_factory=lambda: list(DEFAULT_QTYPES), min_length=1, description="one VQA pair per question type"
    )
