"""Every component registry, filled: importing this module imports every registered family."""

from __future__ import annotations

import embodied.models.backbones
import embodied.models.encoders
import embodied.models.heads
import embodied.models.peft
import embodied.models.projectors  # noqa: F401  (imports register the families)
from embodied.models.backbones.base import BACKBONES
from embodied.models.encoders.base import ENCODERS
from embodied.models.heads.base import HEADS
from embodied.models.peft.base import PEFT_METHODS
from embodied.models.projectors.base import PROJECTORS
from embodied.registry import Registry
from embodied.training.continual import HOOKS
from embodied.training.rl.algorithms import ALGORITHMS

#: kind (plural, as shown by ``embodied list``) → registry
REGISTRIES: dict[str, Registry] = {  # type: ignore[type-arg]
    "encoders": ENCODERS,
    "projectors": PROJECTORS,
    "backbones": BACKBONES,
    "heads": HEADS,
    "peft-methods": PEFT_METHODS,
    "algorithms": ALGORITHMS,
    "hooks": HOOKS,
}

__all__ = ["ALGORITHMS", "BACKBONES", "ENCODERS", "HEADS", "HOOKS", "PEFT_METHODS", "PROJECTORS", "REGISTRIES"]
