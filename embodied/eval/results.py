"""The ``results.json`` schema of ``embodied eval`` (pydantic models), its constructors and its atomic writer.

One ``EvalResults`` per evaluation:

- ``agents``: one ``AgentResult`` per agent (``mmllm``, ``random``, ``scripted``, ``planner``, ...), task and
  split — success rate with its Wilson 95% interval, episode count, seeds, outcome and length per episode, latency
  of decisions (per ``act`` call, i.e. one batched decision for ``num_envs`` sub-envs) and the videos written
  (``videos[i]`` shows episode ``i``);
- ``vqa``: accuracy overall and per question type (with chance / majority baselines), POPE figures, every record;
- ``plans``: plan validity rate (the first plan generated for each episode, judged by the env's ``check_plan``)
  and plan success rate (episodes the planner finished), every plan;
- ``manifest``: package versions, seeds, renderer, episode counts, env kwargs and the model's provenance.

Validators keep the numbers consistent (``success_rate == successes / episodes``, the interval contains the
rate, one length per episode), so a hand-edited or truncated file fails ``read_results`` loudly.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from embodied.eval.stats import latency_ms, wilson_interval
from embodied.eval.vqa_scores import PopeScores, TypeScore, VQARecord, accuracy_by_type, pope_scores

__all__ = [
    "DEFAULT_SUCCESS_RULE",
    "SCHEMA_VERSION",
    "AgentResult",
    "EvalResults",
    "Latency",
    "Manifest",
    "ModelInfo",
    "PlanRecord",
    "PlanResult",
    "SeedRange",
    "VQAResult",
    "agent_result",
    "plan_result",
    "read_results",
    "vqa_result",
    "write_results",
]

SCHEMA_VERSION: Literal[1] = 1
Split = Literal["train", "heldout", "heldout-seeds"]
_TOLERANCE = 1e-9
#: the rule of ``embodied.agents.evaluate`` for envs that do not name one (results written before the field)
DEFAULT_SUCCESS_RULE = "info:success, else reward>=1"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Latency(_Strict):
    """Decision latency over ``calls`` ``act`` calls, milliseconds."""

    calls: int = Field(ge=0)
    mean_ms: float = Field(ge=0.0)
    p50_ms: float = Field(ge=0.0)
    p90_ms: float = Field(ge=0.0)
    max_ms: float = Field(ge=0.0)

    @classmethod
    def from_seconds(cls, seconds: Sequence[float]) -> Latency:
        return cls(calls=len(seconds), **latency_ms(seconds))


def _check_rate(rate: float, hits: int, n: int, ci: tuple[float, float], what: str) -> None:
    if not 0 <= hits <= n:
        raise ValueError(f"{what}: {hits} out of {n} is impossible")
    if n and abs(rate - hits / n) > _TOLERANCE:
        raise ValueError(f"{what}: rate {rate} != {hits}/{n}")
    if not ci[0] - _TOLERANCE <= rate <= ci[1] + _TOLERANCE:
        raise ValueError(f"{what}: interval {ci} does not contain the rate {rate}")


class AgentResult(_Strict):
    """One agent on one task and split."""

    agent: str
    env_id: str
    split: Split
    episodes: int = Field(ge=0)
    successes: int = Field(ge=0)
    success_rate: float = Field(ge=0.0, le=1.0)
    ci95: tuple[float, float]
    seeds: list[int]
    episode_success: list[bool]
    episode_lengths: list[int]
    mean_length: float = Field(ge=0.0)
    latency: Latency
    num_envs: int = Field(ge=1)
    videos: list[str] = Field(default_factory=list, description="paths relative to the results directory")
    success_rule: str = Field(
        DEFAULT_SUCCESS_RULE,
        description="how success was read: the adapter's rule (info:KEY, reward>=X, callable:...) or the default",
    )
    episode_returns: list[float] | None = Field(None, description="sum of rewards per episode (adapted envs)")

    @model_validator(mode="after")
    def _consistent(self) -> AgentResult:
        _check_rate(self.success_rate, self.successes, self.episodes, self.ci95, f"agent {self.agent!r}")
        per_episode = (len(self.seeds), len(self.episode_success), len(self.episode_lengths))
        if per_episode != (self.episodes,) * 3:
            raise ValueError(f"agent {self.agent!r}: need one seed, outcome and length per episode ({self.episodes})")
        if sum(self.episode_success) != self.successes:
            raise ValueError(f"agent {self.agent!r}: episode_success sums to {sum(self.episode_success)}")
        if self.episode_returns is not None and len(self.episode_returns) != self.episodes:
            raise ValueError(f"agent {self.agent!r}: need one return per episode ({self.episodes})")
        return self


class VQAResult(_Strict):
    """One agent answering the VQA env's questions."""

    agent: str
    env_id: str
    split: Split
    episodes: int = Field(ge=0)
    correct: int = Field(ge=0)
    accuracy: float = Field(ge=0.0, le=1.0)
    ci95: tuple[float, float]
    per_type: dict[str, TypeScore]
    pope: PopeScores | None
    #: share of answers naming a colour or shape nothing on the table has
    absent_rate: float = Field(0.0, ge=0.0, le=1.0)
    latency: Latency
    records: list[VQARecord]

    @model_validator(mode="after")
    def _consistent(self) -> VQAResult:
        _check_rate(self.accuracy, self.correct, self.episodes, self.ci95, f"vqa of {self.agent!r}")
        if len(self.records) != self.episodes or sum(r.correct for r in self.records) != self.correct:
            raise ValueError(f"vqa of {self.agent!r}: records do not add up to {self.correct}/{self.episodes}")
        return self


class PlanRecord(_Strict):
    """The first plan generated in one episode, its check, and whether the planner finished the task."""

    seed: int
    plan: str | None
    valid: bool
    reason: str
    success: bool
    replans: int = Field(ge=0)
    #: items the plan names that are not on the table (hallucinated objects)
    absent: list[str] = Field(default_factory=list)


class PlanResult(_Strict):
    """Plan validity and plan success of a planner agent."""

    agent: str
    env_id: str
    split: Split
    episodes: int = Field(ge=0)
    validity_rate: float = Field(ge=0.0, le=1.0)
    validity_ci95: tuple[float, float]
    success_rate: float = Field(ge=0.0, le=1.0)
    success_ci95: tuple[float, float]
    #: share of plans naming at least one item that is not on the table
    absent_rate: float = Field(0.0, ge=0.0, le=1.0)
    records: list[PlanRecord]

    @model_validator(mode="after")
    def _consistent(self) -> PlanResult:
        n = self.episodes
        if len(self.records) != n:
            raise ValueError(f"plans of {self.agent!r}: {len(self.records)} records for {n} episodes")
        valid, success = sum(r.valid for r in self.records), sum(r.success for r in self.records)
        _check_rate(self.validity_rate, valid, n, self.validity_ci95, f"plan validity of {self.agent!r}")
        _check_rate(self.success_rate, success, n, self.success_ci95, f"plan success of {self.agent!r}")
        return self


class SeedRange(_Strict):
    """Seeds ``first, first + 1, ..., first + count - 1``."""

    first: int
    count: int = Field(ge=0)


class ModelInfo(_Strict):
    """The evaluated model: where it is, what its weights hash to, and where it came from (``lineage.json``)."""

    path: str
    sha256: str = Field(description="sha256 of model.safetensors (of the sorted 'name sha256' lines if sharded)")
    files: dict[str, str] = Field(description="sha256 per weight file")
    run_dir: str | None = None
    stage: str | None = None
    parent: str | None = None
    data_sha256: str | None = Field(None, description="sha256 of the training dataset's meta/info.json")
    config_sha256: str | None = None


class Manifest(_Strict):
    """What is needed to reproduce the numbers."""

    created: str
    command: list[str]
    python: str
    platform: str
    packages: dict[str, str | None]
    seeds: dict[str, SeedRange]
    renderer: str | None
    episode_counts: dict[str, int]
    env_kwargs: dict[str, Any]
    device: str
    model: ModelInfo | None


class EvalResults(_Strict):
    """Everything ``embodied eval`` measured (see the module docstring)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    checkpoint: str
    env_id: str
    split: Split
    agents: list[AgentResult]
    vqa: VQAResult | None = None
    plans: PlanResult | None = None
    manifest: Manifest
    warnings: list[str] = Field(default_factory=list, description="e.g. every episode failed with positive returns")
    skipped: dict[str, str] = Field(default_factory=dict, description="baseline → why it did not run")

    def agent(self, name: str) -> AgentResult:
        """The result of agent ``name`` (KeyError naming the agents present otherwise)."""
        for result in self.agents:
            if result.agent == name:
                return result
        raise KeyError(f"no agent {name!r} in the results; agents: {[r.agent for r in self.agents]}")


def agent_result(
    agent: str,
    env_id: str,
    split: Split,
    *,
    seeds: Sequence[int],
    successes: Sequence[bool],
    lengths: Sequence[int],
    decision_seconds: Sequence[float],
    num_envs: int,
    videos: Sequence[str] = (),
    success_rule: str = DEFAULT_SUCCESS_RULE,
    episode_returns: Sequence[float] | None = None,
) -> AgentResult:
    """An ``AgentResult`` from per-episode outcomes and the agent's decision times."""
    n, hits = len(successes), int(sum(bool(s) for s in successes))
    return AgentResult(
        agent=agent,
        env_id=env_id,
        split=split,
        episodes=n,
        successes=hits,
        success_rate=hits / n if n else 0.0,
        ci95=wilson_interval(hits, n),
        seeds=[int(s) for s in seeds],
        episode_success=[bool(s) for s in successes],
        episode_lengths=[int(x) for x in lengths],
        mean_length=float(sum(lengths) / n) if n else 0.0,
        latency=Latency.from_seconds(decision_seconds),
        num_envs=num_envs,
        videos=list(videos),
        success_rule=success_rule,
        episode_returns=None if episode_returns is None else [float(r) for r in episode_returns],
    )


def vqa_result(
    agent: str,
    env_id: str,
    split: Split,
    records: Sequence[VQARecord],
    decision_seconds: Sequence[float],
    answer_space: Mapping[str, Sequence[str]] | None = None,
) -> VQAResult:
    """A ``VQAResult`` (overall and per-type accuracy, POPE) from answered questions (``answer_space``: see
    ``accuracy_by_type``)."""
    n, correct = len(records), sum(r.correct for r in records)
    return VQAResult(
        agent=agent,
        env_id=env_id,
        split=split,
        episodes=n,
        correct=correct,
        accuracy=correct / n if n else 0.0,
        ci95=wilson_interval(correct, n),
        per_type=accuracy_by_type(records, answer_space),
        pope=pope_scores(records),
        absent_rate=sum(r.absent for r in records) / n if n else 0.0,
        latency=Latency.from_seconds(decision_seconds),
        records=list(records),
    )


def plan_result(agent: str, env_id: str, split: Split, records: Sequence[PlanRecord]) -> PlanResult:
    """A ``PlanResult`` from per-episode plan records."""
    n = len(records)
    valid, success = sum(r.valid for r in records), sum(r.success for r in records)
    return PlanResult(
        agent=agent,
        env_id=env_id,
        split=split,
        episodes=n,
        validity_rate=valid / n if n else 0.0,
        validity_ci95=wilson_interval(valid, n),
        success_rate=success / n if n else 0.0,
        success_ci95=wilson_interval(success, n),
        absent_rate=sum(bool(r.absent) for r in records) / n if n else 0.0,
        records=list(records),
    )


def write_results(results: EvalResults, path: str | Path) -> Path:
    """Write ``results`` as indented JSON to ``path`` (a temporary file renamed over it: never half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(results.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_results(path: str | Path) -> EvalResults:
    """Load and validate a ``results.json`` (pydantic ``ValidationError`` naming the field on mismatch)."""
    return EvalResults.model_validate_json(Path(path).read_text(encoding="utf-8"))
