"""TinyRenderer lighting: fixed by default, or drawn per episode from the env's generator.

Randomised lighting (``randomize_lighting=True``) varies the light direction (upper hemisphere), its colour
(near white) and the ambient/diffuse/specular coefficients, so policies cannot latch onto one shading.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Lighting:
    """Arguments of ``getCameraImage`` that shape the light (TinyRenderer only)."""

    direction: tuple[float, float, float] = (0.4, -0.3, 1.0)
    colour: tuple[float, float, float] = (1.0, 1.0, 1.0)
    ambient: float = 0.6
    diffuse: float = 0.5
    specular: float = 0.1

    def kwargs(self) -> dict[str, Any]:
        return {
            "lightDirection": list(self.direction),
            "lightColor": list(self.colour),
            "lightAmbientCoeff": self.ambient,
            "lightDiffuseCoeff": self.diffuse,
            "lightSpecularCoeff": self.specular,
        }

    @classmethod
    def sample(cls, rng: np.random.Generator) -> Lighting:
        """A random light above the table; all draws come from ``rng``."""
        azimuth = rng.uniform(-np.pi, np.pi)
        elevation = rng.uniform(np.deg2rad(35.0), np.deg2rad(85.0))
        direction = (
            float(np.cos(elevation) * np.cos(azimuth)),
            float(np.cos(elevation) * np.sin(azimuth)),
            float(np.sin(elevation)),
        )
        colour = tuple(float(x) for x in rng.uniform(0.85, 1.0, size=3))
        return cls(
            direction=direction,
            colour=(colour[0], colour[1], colour[2]),
            ambient=float(rng.uniform(0.45, 0.75)),
            diffuse=float(rng.uniform(0.35, 0.65)),
            specular=float(rng.uniform(0.0, 0.2)),
        )
