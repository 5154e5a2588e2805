"""Second validation pass of a stage's ``hooks``: each entry against ``HOOKS`` and the stage kinds it serves."""

from __future__ import annotations

from embodied.config.components import _resolve
from embodied.config.errors import Problem
from embodied.config.stages import StageSpec
from embodied.config.validation import locate
from embodied.config.yaml_source import Key, Origins


def resolve_hooks(stage: StageSpec, origins: Origins, prefix: Key) -> list[Problem]:
    """Validate and fill in every hook of ``stage`` in place (defaults included); return the problems found."""
    from embodied.training.continual import HOOKS

    problems: list[Problem] = []
    for index, entry in enumerate(stage.hooks):
        key = (*prefix, index)
        stage.hooks[index] = _resolve(HOOKS, entry, origins, key, problems)
        kind = entry["kind"]
        if kind in HOOKS and stage.kind not in HOOKS.get(kind).target.serves:
            serves = sorted(HOOKS.get(kind).target.serves)
            file, line = locate(origins, (*key, "kind"))
            problems.append(
                Problem(
                    ".".join(map(str, (*key, "kind"))),
                    f"a hook that serves a {stage.kind} stage ({kind!r} serves {serves} only)",
                    repr(kind),
                    file,
                    line,
                )
            )
    return problems
