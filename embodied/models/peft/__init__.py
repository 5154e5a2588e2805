"""peft: importing this package registers every family in it."""

from embodied.models.peft import ln, lora, prefix  # noqa: F401  (register "ln", "lora", "prefix")
