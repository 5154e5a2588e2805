"""Which parameters train: one policy per component group, applied and reported from ONE list of groups.

A policy is ``"frozen"`` (no parameter trains), ``"full"`` (every parameter trains) or a PEFT method — a
registered name (``"lora"``) or ``{method: lora, r: 8, ...}`` — under which only the adapter trains. The
backbone goes through ``method.apply_to_backbone`` (its ``model`` becomes a ``peft.PeftModel``), every other
module through ``method.apply_to_module`` (adapters injected in place). The same group names drive the
component table logged at build time (prismatic-vlms style), saving, and the stage policies.

Policies can be applied again (a stage freezing the backbone, the next one training its LoRA): a module that
already carries an adapter keeps it, and re-applying the same method only makes that adapter trainable again;
a different method on it is an error (one adapter per module).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from torch import nn

from embodied.models.backbones.base import Backbone
from embodied.models.peft.base import PEFT_METHODS, PeftMethod

logger = logging.getLogger("embodied")

Groups = Mapping[str, Sequence[nn.Module] | nn.Module]
Policy = str | Mapping[str, Any]
BASIC_POLICIES = ("frozen", "full")


@dataclass(frozen=True)
class _Adapter:
    """What a PEFT method left on a module: its name, settings and the adapter's parameter names."""

    method: str
    settings: dict[str, Any]
    parameters: frozenset[str]


# keyed weakly by module: the record disappears with the model, nothing is added to the module itself
_ADAPTERS: weakref.WeakKeyDictionary[nn.Module, _Adapter] = weakref.WeakKeyDictionary()


def apply_policy(groups: Groups, policy: Mapping[str, Policy], backbone: Backbone | None) -> None:
    """Set ``requires_grad`` of every module in ``groups`` by its group's policy (missing groups: ``full``)."""
    unknown = sorted(set(policy) - set(groups))
    if unknown:
        raise ValueError(f"policy names unknown group(s) {unknown}; the model's groups are {sorted(groups)}")
    for group, modules in _as_lists(groups).items():
        spec = policy.get(group, "full")
        for i, module in enumerate(modules):
            label = f"{group}[{i}]" if len(modules) > 1 else group
            _apply(module, spec, backbone, label)


def _apply(module: nn.Module, spec: Policy, backbone: Backbone | None, label: str) -> None:
    if spec == "frozen":
        module.requires_grad_(False)
        return
    if spec == "full":
        module.requires_grad_(True)
        return
    name, method = build_method(spec, label)
    own_backbone = backbone if backbone is not None and module is backbone else None
    if own_backbone is not None:
        method.settings = _bind_new_tokens(method.settings, own_backbone)
    settings = method.settings.model_dump(mode="json")
    done = _ADAPTERS.get(module)
    if done is not None:
        if (done.method, done.settings) != (name, settings):
            raise ValueError(
                f"{label} already carries a {done.method} adapter {done.settings}; it cannot also take "
                f"{name} {settings} (policies that add an adapter are fixed when the model is built)"
            )
        for param_name, param in module.named_parameters():
            param.requires_grad_(param_name in done.parameters)
        return
    module.requires_grad_(False)
    if own_backbone is not None:
        own_backbone.model = method.apply_to_backbone(own_backbone.model, own_backbone.default_peft_targets)
    else:
        method.apply_to_module(module, label)
    trained = frozenset(n for n, p in module.named_parameters() if p.requires_grad)
    _ADAPTERS[module] = _Adapter(name, settings, trained)
    logger.debug("%s: %s adapter with %d trainable tensors", label, name, len(trained))


def build_method(spec: Policy, label: str = "module") -> tuple[str, PeftMethod]:
    """The registered PEFT method named by a policy (``"lora"`` or ``{method: lora, r: 8}``) and its name."""
    import embodied.models.peft  # noqa: F401  (registers the methods)

    values = {"method": spec} if isinstance(spec, str) else dict(spec)
    name = values.pop("method", None)
    if not isinstance(name, str) or name not in PEFT_METHODS:
        raise ValueError(
            f"policy of {label} is {spec!r}; expected 'frozen', 'full' or a PEFT method: "
            f"{', '.join(PEFT_METHODS.names())}"
        )
    entry, settings = PEFT_METHODS.resolve({"kind": name, **values})
    return name, entry.target(settings)  # type: ignore[call-arg]


def _bind_new_tokens(settings: Any, backbone: Backbone) -> Any:
    """Resolve ``trainable_token_indices: new`` to the ids of the tokens the backbone added."""
    if getattr(settings, "trainable_token_indices", None) != "new":
        return settings
    ids = list(getattr(backbone, "added_token_ids", []))
    return settings.model_copy(update={"trainable_token_indices": ids or None})


def trainable_table(groups: Groups, policy: Mapping[str, Policy] | None = None) -> str:
    """A text table: per group and module, parameter count, trainable count, percent and policy."""
    header = ("group", "module", "params", "trainable", "%", "policy")
    rows: list[tuple[str, ...]] = []
    lists = _as_lists(groups)
    for group, modules in lists.items():
        described = _describe((policy or {}).get(group, "full"))
        for module in modules:
            total, trained = _counts(module.parameters())
            rows.append(
                (group, type(module).__name__, f"{total:,}", f"{trained:,}", _percent(trained, total), described)
            )
    total, trained = _counts(p for modules in lists.values() for m in modules for p in m.parameters())
    rows.append(("total", "", f"{total:,}", f"{trained:,}", _percent(trained, total), ""))
    widths = [max(len(r[c]) for r in (header, *rows)) for c in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in (header, *rows)]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _as_lists(groups: Groups) -> dict[str, list[nn.Module]]:
    return {g: [m] if isinstance(m, nn.Module) else list(m) for g, m in groups.items()}


def _counts(params: Iterable[nn.Parameter]) -> tuple[int, int]:
    """(all, trainable) element counts; a parameter shared by two modules (tied weights) counts once."""
    unique = {id(p): p for p in params}
    return sum(p.numel() for p in unique.values()), sum(p.numel() for p in unique.values() if p.requires_grad)


def _percent(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.2f}" if whole else "0.00"


def _describe(spec: Policy) -> str:
    if isinstance(spec, str):
        return spec
    values = {k: v for k, v in spec.items() if k != "method" and v is not None}
    return f"{spec.get('method')}(" + ", ".join(f"{k}={v}" for k, v in values.items()) + ")"
