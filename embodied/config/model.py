"""Settings schema of the MM-LLM (``model:`` section of an experiment, or a ``configs/model/*.yaml`` preset).

Component entries (``encoders``, ``projector``, ``backbone``, ``heads``) are ``{kind: <registered name>, ...}``;
their keys are checked against the registered family's own settings model (``embodied.config.components``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

POLICY_GROUPS = ("encoders", "projector", "backbone", "heads")


def _require_kind(value: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(value.get("kind"), str) or not value["kind"]:
        raise ValueError("a component needs 'kind: <registered name>' (see `embodied list`)")
    return value


ComponentSpec = Annotated[dict[str, Any], AfterValidator(_require_kind)]
#: "frozen", "full", a PEFT method name ("lora", "prefix", "ln") or {method: <name>, ...its settings}
PolicySpec = str | dict[str, Any]


def _all_full() -> dict[str, PolicySpec]:
    return dict.fromkeys(POLICY_GROUPS, "full")


LookKind = Literal["action", "vqa", "plan", "caption"]


class GroundingSettings(BaseModel):
    """``grounding:`` in the model spec (``embodied.models.grounding``; absent: no look slot, one backbone pass)."""

    model_config = ConfigDict(extra="forbid")

    map: str | None = Field(
        None, description="the dense map looked at, '<stream>/<camera>'; null = the first image stream's first camera"
    )
    key_dim: int = Field(32, ge=1, le=4096, description="d_k, width of the look query and the location keys")
    hidden_dim: int = Field(128, ge=1, le=16384, description="width of the query and read MLPs")
    patch: int = Field(5, ge=1, le=15, description="the read takes patch × patch cells around the look (odd)")
    top_cells: int = Field(4, ge=1, le=64, description="the read gathers patches around the look's strongest cells")
    kinds: list[LookKind] = Field(
        default_factory=lambda: ["vqa", "plan"],  # type: ignore[arg-type]
        min_length=1,
        description="prompt kinds that look first (answers and plans); the others keep one backbone pass",
    )

    @field_validator("patch")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError(f"patch must be odd (a patch centred on a cell), got {value}")
        return value

    max_count: int = Field(8, ge=1, le=64, description="the soft count's radial features cover 0 … max_count")
    loss_weight: float = Field(1.0, ge=0.0, description="weight of the look's focal loss beside the heads' losses")
    focal_alpha: float = Field(2.0, ge=0.0, le=8.0, description="CenterNet's alpha")
    focal_beta: float = Field(4.0, ge=0.0, le=16.0, description="CenterNet's beta")
    target_sigma: float = Field(1.0, gt=0.0, le=16.0, description="std in pixels of the Gaussian around a referent")


class ModelSpec(BaseModel):
    """Everything needed to build an ``MMLLM``; serialised inside ``MMLLMConfig``."""

    model_config = ConfigDict(extra="forbid")

    image_size: int = Field(32, ge=8, le=1024, description="side of the square images the processor produces")
    cameras: list[str] = Field(default_factory=lambda: ["front"], min_length=1, description="camera names")
    state_dim: int = Field(0, ge=0, description="robot state size (0: no state input)")
    action_dim: int = Field(7, ge=1, le=64, description="continuous action size")
    image_mean: list[float] = Field(default_factory=lambda: [0.5, 0.5, 0.5], min_length=3, max_length=3)
    image_std: list[float] = Field(default_factory=lambda: [0.5, 0.5, 0.5], min_length=3, max_length=3)
    encoders: dict[str, ComponentSpec] = Field(
        default_factory=lambda: {"image": {"kind": "cnn"}},
        description="stream name → encoder; each stream gets its own projector and placeholder token",
    )
    projector: ComponentSpec = Field(default_factory=lambda: {"kind": "mlp"})
    backbone: ComponentSpec = Field(default_factory=lambda: {"kind": "hf-causal-lm"})
    heads: dict[str, ComponentSpec] = Field(default_factory=lambda: {"text": {"kind": "text"}}, min_length=1)
    trainable: dict[str, PolicySpec] = Field(
        default_factory=_all_full,
        description="per component group: frozen, full, or a PEFT method",
    )
    task_adapters: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="per-task LoRA adapters on the backbone, name → LoRA settings (added by the adapters hook)",
    )
    action_low: list[float] | None = Field(None, description="per-dimension action minimum (un-normalisation)")
    action_high: list[float] | None = Field(None, description="per-dimension action maximum (un-normalisation)")
    grounding: GroundingSettings | None = Field(
        None,
        description="look, then answer (embodied.models.grounding): every prompt ends with a <|look|> slot that "
        "points at the prompt's referents on a dense map and reads them back; null = off",
    )
    discrete_actions: int | None = Field(
        None,
        ge=2,
        le=4096,
        description="n for a Discrete(n) env: actions are indices 0..n-1, an action-tokens head needs bins: n "
        "(bin k is index k); needs action_dim 1",
    )

    @model_validator(mode="after")
    def _cross_checks(self) -> ModelSpec:
        unknown = sorted(set(self.trainable) - set(POLICY_GROUPS))
        if unknown:
            raise ValueError(f"trainable has unknown group(s) {unknown}; expected some of {list(POLICY_GROUPS)}")
        for name in ("action_low", "action_high"):
            value = getattr(self, name)
            if value is not None and len(value) != self.action_dim:
                raise ValueError(f"{name} has {len(value)} values but action_dim is {self.action_dim}")
        if (
            self.action_low
            and self.action_high
            and any(lo >= hi for lo, hi in zip(self.action_low, self.action_high, strict=True))
        ):
            raise ValueError("action_low must be below action_high in every dimension")
        if self.discrete_actions is not None:
            self._check_discrete(self.discrete_actions)
        return self

    def _check_discrete(self, n: int) -> None:
        """``discrete_actions: n``: one action dimension, no bounds of its own, every action-tokens head ``n`` bins
        (issue 14: the index ↔ bin map is one-to-one only then; see ``MMLLMProcessor.normalize_actions``)."""
        if self.action_dim != 1:
            raise ValueError(f"discrete_actions needs action_dim 1 (one index per step), got {self.action_dim}")
        if self.action_low is not None or self.action_high is not None:
            raise ValueError("discrete_actions sets the action bounds itself: leave action_low/action_high unset")
        for name, head in self.heads.items():
            bins = head.get("bins", 256)
            if head.get("kind") == "action-tokens" and bins != n:
                raise ValueError(
                    f"heads.{name}.bins is {bins} but discrete_actions is {n}: set bins: {n} so that bin k is index k"
                )
