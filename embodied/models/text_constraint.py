"""Grammar-constrained text decoding: a character-level prefix grammar turned into a per-step vocabulary mask.

A ``PrefixGrammar`` says whether a string can still grow into a sentence of the language (``valid_prefix``) and
whether it is one already (``complete``). ``GrammarConstraint`` asks it, at every decoding step and for every
row, which tokens keep the decoded text a valid prefix — the token-healing-free form of constrained decoding
(as in Outlines, Willard & Louf 2023, "Efficient Guided Generation for Large Language Models", but by testing
each vocabulary piece instead of compiling the grammar into a token automaton: our vocabularies are small).
EOS is allowed only where the text is complete. The answers it allows stay the model's: the grammar fixes the
form (``pick(<colour> <shape>)``), never which objects are on the table.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch


class PrefixGrammar(Protocol):
    """A language given by its prefixes."""

    def valid_prefix(self, text: str) -> bool:
        """Whether ``text`` is a prefix of some sentence of the language."""
        ...

    def complete(self, text: str) -> bool:
        """Whether ``text`` is a sentence of the language."""
        ...


class GrammarConstraint:
    """Per-row vocabulary masks from ``grammar`` for a tokenizer (each token's decoded piece, computed once)."""

    def __init__(self, grammar: PrefixGrammar, tokenizer: Any) -> None:
        self.grammar = grammar
        self.tokenizer = tokenizer
        special = set(tokenizer.all_special_ids)
        self.eos = tokenizer.eos_token_id
        self.pieces = {
            i: tokenizer.decode([i]) for i in range(len(tokenizer)) if i not in special
        }  # id → text it appends
        self._cache: dict[str, list[int]] = {}  # prefix text → allowed ids (rows and steps share prefixes)

    def allowed(self, text: str) -> list[int]:
        """Token ids that may follow the decoded ``text`` (EOS where it is complete; EOS alone at a dead end)."""
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        ids = [i for i, piece in self.pieces.items() if piece and self.grammar.valid_prefix(text + piece)]
        if self.eos is not None and (self.grammar.complete(text) or not ids):
            ids.append(self.eos)
        if len(self._cache) < 65536:
            self._cache[text] = ids
        return ids

    def mask_logits(self, logits: torch.Tensor, generated: list[list[int]]) -> torch.Tensor:
        """``logits [B, V]`` with every token the grammar forbids after row b's ``generated[b]`` ids at -inf."""
        allowed = torch.zeros_like(logits, dtype=torch.bool)
        for row, ids in enumerate(generated):
            text = self.tokenizer.decode(ids, skip_special_tokens=True)
            allowed[row, self.allowed(text)] = True
        return logits.masked_fill(~allowed, float("-inf"))
