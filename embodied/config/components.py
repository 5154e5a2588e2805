"""Second validation pass: each ``{kind: ..., ...}`` entry against its registered family's settings model.

After the fields, a family's ``nested_issues()`` checks what lies below them (the backbone's and vision
towers' ``transformers`` configs, built and checked by transformers itself) and names the nested key.

Registries fill when the component modules are imported (``embodied.models.catalog``); the resolved entry
(defaults included) replaces the raw one, so the saved config rebuilds the exact same model.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from embodied.config.errors import Problem
from embodied.config.model import ModelSpec
from embodied.config.validation import locate, problems_from
from embodied.config.yaml_source import Key, Origins
from embodied.registry import Registry


def resolve_model_components(spec: ModelSpec, origins: Origins, prefix: Key) -> list[Problem]:
    """Validate and fill in every component of ``spec`` in place; return the problems found."""
    from embodied.models.catalog import BACKBONES, ENCODERS, HEADS, PEFT_METHODS, PROJECTORS

    problems: list[Problem] = []
    for name, entry in spec.encoders.items():
        spec.encoders[name] = _resolve(ENCODERS, entry, origins, (*prefix, "encoders", name), problems)
    spec.projector = _resolve(PROJECTORS, spec.projector, origins, (*prefix, "projector"), problems)
    spec.backbone = _resolve(BACKBONES, spec.backbone, origins, (*prefix, "backbone"), problems)
    for name, entry in spec.heads.items():
        spec.heads[name] = _resolve(HEADS, entry, origins, (*prefix, "heads", name), problems)
    for group, policy in spec.trainable.items():
        spec.trainable[group] = _resolve_policy(PEFT_METHODS, policy, origins, (*prefix, "trainable", group), problems)
    return problems


def resolve_policies(policies: dict[str, Any], origins: Origins, prefix: Key) -> list[Problem]:
    """Validate and fill in a ``trainable`` mapping (e.g. a stage's) in place; return the problems found."""
    from embodied.models.catalog import PEFT_METHODS

    problems: list[Problem] = []
    for group, policy in policies.items():
        policies[group] = _resolve_policy(PEFT_METHODS, policy, origins, (*prefix, group), problems)
    return problems


def _resolve(
    registry: Registry[Any], entry: dict[str, Any], origins: Origins, key: Key, problems: list[Problem]
) -> dict[str, Any]:
    kind = entry["kind"]
    if kind not in registry:
        file, line = locate(origins, (*key, "kind"))
        dotted = ".".join(map(str, (*key, "kind")))
        problems.append(Problem(dotted, registry.expected(kind), repr(kind), file, line))
        return entry
    values = {k: v for k, v in entry.items() if k != "kind"}
    settings_cls = registry.get(kind).settings
    try:
        settings = settings_cls.model_validate(values)
    except ValidationError as err:
        problems.extend(problems_from(err, origins, settings_cls, key))
        return entry
    for issue in settings.nested_issues():  # e.g. a backbone's HF config, checked by transformers itself
        file, line = locate(origins, (*key, *issue.key))
        problems.append(Problem(".".join(map(str, (*key, *issue.key))), issue.expected, issue.given, file, line))
    return {"kind": kind, **settings.model_dump(mode="json")}


def _resolve_policy(
    registry: Registry[Any], policy: str | dict[str, Any], origins: Origins, key: Key, problems: list[Problem]
) -> str | dict[str, Any]:
    """``frozen`` / ``full`` stay strings; a PEFT method becomes ``{method: name, ...settings}``."""
    if policy in ("frozen", "full"):
        return policy
    if isinstance(policy, str):
        policy = {"method": policy}
    method = policy.get("method")
    if not isinstance(method, str) or method not in registry:
        file, line = locate(origins, key)
        expected = "'frozen', 'full' or " + registry.expected(str(method))
        problems.append(Problem(".".join(map(str, key)), expected, repr(method), file, line))
        return policy
    resolved = _resolve(
        registry,
        {"kind": method, **{k: v for k, v in policy.items() if k != "method"}},
        origins,
        key,
        problems,
    )
    return {"method": resolved.pop("kind"), **resolved}
