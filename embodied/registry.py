"""Component registries: one per kind, filled by ``@REGISTRY.register("name")`` at the definition site.

A registry maps a kebab-case name to a class and to the pydantic model that validates its settings, so the
config layer can check a component's keys before anything is built (see ``embodied.config``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from embodied.errors import UserError

T = TypeVar("T")
_KEBAB = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class SettingsIssue:
    """A mistake below a component's own fields (e.g. ``config.hidden_size`` inside a backbone's HF config)."""

    key: tuple[str | int, ...]
    expected: str
    given: str = ""


class ComponentSettings(BaseModel):
    """Base of every component's settings: unknown keys are errors, values are checked by type."""

    model_config = ConfigDict(extra="forbid", frozen=False)

    def nested_issues(self) -> list[SettingsIssue]:
        """Checks that field validation cannot place on a sub-key, run by the config loader after it; the
        config layer turns each into a ``Problem`` at ``<component key>.<issue key>``. None by default."""
        return []


class RegistryError(KeyError, UserError):
    """An unknown name was asked for; the message lists the registered names and the closest one."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0])


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered component: its class, settings model and one-line description."""

    name: str
    target: type[T]
    settings: type[ComponentSettings]
    description: str


class Registry(Generic[T]):
    """Named catalogue of one kind of component (encoders, projectors, heads, ...)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(
        self, name: str, settings: type[ComponentSettings] = ComponentSettings, description: str = ""
    ) -> Callable[[type[T]], type[T]]:
        """Class decorator: ``@ENCODERS.register("cnn", CNNSettings)``. Description defaults to the docstring."""
        if not _KEBAB.match(name):
            raise ValueError(f"{self.kind} name {name!r} must be kebab-case (e.g. 'hf-vision')")

        def decorate(cls: type[T]) -> type[T]:
            if name in self._entries and self._entries[name].target is not cls:
                raise ValueError(f"{self.kind} {name!r} is already registered to {self._entries[name].target}")
            doc = description or ((cls.__doc__ or "").strip().splitlines() or [""])[0]
            self._entries[name] = Entry(name, cls, settings, doc)
            return cls

        return decorate

    def get(self, name: str) -> Entry[T]:
        """The entry for ``name``; an unknown name raises ``RegistryError`` with the closest valid name."""
        try:
            return self._entries[name]
        except KeyError:
            raise RegistryError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        return f"unknown {self.kind} {name!r}: expected {self.expected(name)}"

    def expected(self, name: str) -> str:
        """'a registered <kind> (a, b, c); did you mean 'x'?' — the expectation an unknown ``name`` missed."""
        close = difflib.get_close_matches(name, self.names(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"a registered {self.kind} ({', '.join(self.names()) or 'none registered'}){hint}"

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries[n] for n in self.names())

    def describe(self) -> dict[str, str]:
        """Name → one-line description, for ``embodied list``."""
        return {e.name: e.description for e in self}

    def resolve(self, spec: dict[str, Any]) -> tuple[Entry[T], ComponentSettings]:
        """The entry named by ``spec["kind"]`` and the rest of ``spec`` validated as its settings."""
        entry = self.get(spec["kind"])
        return entry, entry.settings.model_validate({k: v for k, v in spec.items() if k != "kind"})
