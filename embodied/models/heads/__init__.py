"""heads: importing this package registers every family in it."""

from embodied.models.heads import action_tokens, continuous, diffusion, pointer, text  # noqa: F401  (registers the families)
