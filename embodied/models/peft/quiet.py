"""Silence two known-harmless warnings that stock ``peft`` emits while wrapping a model.

- ``is_gradient_checkpointing is deprecated``: peft 0.21 reads the transformers 4 name of the attribute on
  transformers 5 (``PeftModel.__init__``); nothing to act on for the user.
- ``Unsupported layer type ... <...Norm>``: ``LNTuningLayer`` probes the in/out features of every targeted norm
  layer (peft ``tuners_utils._get_in_out_features``); norm layers have none and LN tuning never uses them.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def quiet_peft_warnings() -> Iterator[None]:
    """Context in which only the two warnings above are ignored."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        warnings.filterwarnings("ignore", message="Unsupported layer type", category=UserWarning)
        yield
