"""The character set and length limit of every free-text entry (instruction, question, answer) in envs.

``gymnasium.spaces.Text`` defaults to alphanumerics only, which would reject "pick up the red cube, then ...";
the charset here adds space and ASCII punctuation so natural-language instructions are valid members.
"""

from __future__ import annotations

import string

TEXT_CHARSET: str = string.ascii_letters + string.digits + " " + string.punctuation
TEXT_MAX_LENGTH: int = 256
_ALLOWED = frozenset(TEXT_CHARSET)


def sanitize_text(text: str, max_length: int = TEXT_MAX_LENGTH) -> str:
    """Drop characters outside ``TEXT_CHARSET`` (newlines become spaces) and cut to ``max_length``."""
    text = " ".join(text.split())
    return "".join(c for c in text if c in _ALLOWED)[:max_length]
