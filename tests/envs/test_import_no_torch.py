"""``import embodied.envs`` (and building a tabletop env) never imports torch, transformers or the core library."""

from __future__ import annotations

import subprocess
import sys


def test_envs_import_without_torch() -> None:
    code = (
        "import sys, gymnasium as gym, embodied.envs\n"
        "env = gym.make('embodied/PickPlace-v0', image_size=16); env.reset(seed=0); env.close()\n"
        "bad = [m for m in ('torch', 'transformers', 'embodied.models', 'embodied.training') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
