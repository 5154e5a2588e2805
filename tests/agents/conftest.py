"""Fixtures shared by the agent tests."""

from __future__ import annotations

from typing import Any

import pytest

from tests.agents.support import vector_env


@pytest.fixture(scope="module")
def reset() -> tuple[dict[str, Any], dict[str, Any]]:
    """The first observation and info of a 2-env PickPlace vector env (seed 0)."""
    envs = vector_env(n=2, seed=0)
    try:
        return envs.reset(seed=0)
    finally:
        envs.close()
