"""Second validation pass of an ``rl`` stage: its algorithm against ``ALGORITHMS`` and its acting head.

The acting head must have a log-prob (``Head.has_log_prob``): a diffusion head's density needs an ODE solve and
a trace estimate per sample, so the stage refuses it by name instead of failing inside the update.
"""

from __future__ import annotations

from embodied.config.components import _resolve
from embodied.config.errors import Problem
from embodied.config.model import ModelSpec
from embodied.config.validation import locate
from embodied.config.yaml_source import Key, Origins
from embodied.training.rl.settings import RLSpec

#: head kinds in the order an rl stage picks its default acting head
ACTING_ORDER = ("pointer", "action-tokens", "continuous", "text")


def default_head(model: ModelSpec, prompt: str) -> str | None:
    """The head an rl stage acts with when ``rl.head`` is unset: text for vqa/plan prompts, else the first
    action head with a log-prob in ``ACTING_ORDER``."""
    order = ("text",) if prompt in ("vqa", "plan") else ACTING_ORDER
    for kind in order:
        for name, head in model.heads.items():
            if head.get("kind") == kind:
                return name
    return None


def resolve_rl_stage(spec: RLSpec, model: ModelSpec, origins: Origins, prefix: Key) -> list[Problem]:
    """Validate and fill in ``spec.algorithm`` in place, check the acting head; return the problems found."""
    from embodied.training.rl.algorithms import ALGORITHMS

    problems: list[Problem] = []
    spec.algorithm = _resolve(ALGORITHMS, spec.algorithm, origins, (*prefix, "algorithm"), problems)
    group = spec.algorithm.get("group_size")
    if isinstance(group, int) and spec.num_envs % group:
        file, line = locate(origins, (*prefix, "num_envs"))
        problems.append(
            Problem(
                ".".join(map(str, (*prefix, "num_envs"))),
                f"a multiple of algorithm.group_size ({group}): a group's episodes run side by side",
                str(spec.num_envs),
                file,
                line,
            )
        )
    problems += _check_head(spec, model, origins, (*prefix, "head"))
    return problems


def _check_head(spec: RLSpec, model: ModelSpec, origins: Origins, key: Key) -> list[Problem]:
    """The acting head exists and has a log-prob."""
    from embodied.models.catalog import HEADS

    def has_log_prob(kind: object) -> bool:
        return isinstance(kind, str) and kind in HEADS and HEADS.get(kind).target.has_log_prob

    file, line = locate(origins, key)
    dotted = ".".join(map(str, key))
    kinds = {name: str(h.get("kind")) for name, h in model.heads.items()}
    usable = [name for name, kind in kinds.items() if has_log_prob(kind)]
    head = spec.head or default_head(model, spec.prompt)
    if head is None:
        return [
            Problem(
                dotted,
                "a head with a log-prob for RL (pointer, action-tokens, continuous, text)",
                f"none among the model's heads {kinds}",
                file,
                line,
            )
        ]
    if head not in kinds:
        return [Problem(dotted, f"one of the model's heads {sorted(kinds)}", repr(head), file, line)]
    if not has_log_prob(kinds[head]):
        return [
            Problem(
                dotted,
                f"a head with a log-prob for RL (the model's: {usable})",
                f"{head!r} ({kinds[head]}: no log-prob)",
                file,
                line,
            )
        ]
    return []
