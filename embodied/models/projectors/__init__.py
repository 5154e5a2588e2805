"""projectors: importing this package registers every family in it."""

from embodied.models.projectors import linear, mlp, perceiver, qformer  # noqa: F401  (registers the families)
