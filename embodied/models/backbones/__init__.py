"""backbones: importing this package registers every family in it."""

from embodied.models.backbones import hf_causal_lm  # noqa: F401  (registers "hf-causal-lm")
