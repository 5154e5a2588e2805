"""What a component's ``from_config`` may read about the model it is being built into.

Components are built in order (backbone, encoders, projectors, heads); each sees the sizes fixed before it.
Factories never branch on a component's type: every family reads what it needs from this context.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from embodied.models.backbones.base import Backbone


@dataclass
class BuildContext:
    """Model-level facts shared by every component.

    ``embed_dim`` is the LLM hidden size D_llm; ``image_size`` the square side of processed images;
    ``cameras`` the camera names an image encoder reads; ``state_dim`` / ``action_dim`` the robot's sizes.
    ``backbone`` is set once the backbone is built (heads that read the LM's vocabulary need it).
    """

    embed_dim: int
    image_size: int = 32
    cameras: tuple[str, ...] = ("front",)
    state_dim: int = 0
    action_dim: int = 0
    backbone: Backbone | None = None
    extras: dict[str, Any] = field(default_factory=dict)
