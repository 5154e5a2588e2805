"""encoders: importing this package registers every family in it."""

from embodied.models.encoders import cnn, hf_vision, pointcloud, proprio  # noqa: F401  (registers the families)
