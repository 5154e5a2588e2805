"""ARCHITECTURE §2: the core data layer receives envs and agents as objects and never imports them."""

from __future__ import annotations

import subprocess
import sys


def test_data_layer_imports_neither_envs_nor_agents_nor_torch() -> None:
    code = (
        "import sys, embodied.data\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[:2] in (['embodied', 'envs'], ['embodied', 'agents']) "
        "or m == 'torch')\n"
        "print(','.join(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
