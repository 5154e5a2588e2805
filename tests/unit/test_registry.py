"""Registries: decorator registration, kebab-case names, unknown names with a suggestion."""

from __future__ import annotations

import pytest

from embodied.registry import ComponentSettings, Registry, RegistryError


class WidthSettings(ComponentSettings):
    width: int = 4


def test_register_resolve_and_describe() -> None:
    things: Registry[object] = Registry("thing")

    @things.register("wide-thing", WidthSettings)
    class WideThing:
        """A thing that is wide."""

    entry, settings = things.resolve({"kind": "wide-thing", "width": 9})
    assert entry.target is WideThing and isinstance(settings, WidthSettings) and settings.width == 9
    assert things.describe() == {"wide-thing": "A thing that is wide."}
    assert "wide-thing" in things and things.names() == ["wide-thing"]


def test_names_must_be_kebab_case_and_unique() -> None:
    things: Registry[object] = Registry("thing")
    with pytest.raises(ValueError, match="kebab-case"):
        things.register("Bad_Name")
    things.register("one")(int)
    with pytest.raises(ValueError, match="already registered"):
        things.register("one")(str)


def test_unknown_name_suggests_the_closest() -> None:
    things: Registry[object] = Registry("thing")
    things.register("perceiver")(int)
    with pytest.raises(RegistryError, match="did you mean 'perceiver'"):
        things.get("perciever")
