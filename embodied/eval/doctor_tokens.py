"""Doctor check 4, ``action-tokens``: does the saved tokenizer hold the action-token head's tokens at its ids?

The head reads bin ``b`` as vocabulary id ``head.token_ids[b]``; the embedding rows at those ids were trained with
that meaning. A tokenizer edited, re-built or swapped after training moves the tokens without any error (an
``<act_5>`` deleted from ``tokenizer.json`` is silently re-added at the end of the vocabulary on load; entries
swapped in it swap the meaning of two bins). For every head with special tokens (``head.special_tokens()``):

- every token exists in the checkpoint's saved tokenizer, as one token, with exactly the id the head uses;
- the ids run in bin order: consecutive and increasing (``MMLLM`` adds a head's bins in one call, in bin
  order, so any other order means the vocabulary changed after the model was built);
- the input and output embedding matrices have rows for every id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from embodied.eval.doctor_result import CheckResult

if TYPE_CHECKING:
    from embodied.models import MMLLM

NAME = "action-tokens"
#: problems named in evidence per head before "..."
SHOWN = 3


def check_action_tokens(model: MMLLM, tokenizer: Any) -> CheckResult:
    """Compare every token head's tokens and ids with ``tokenizer`` (the one saved beside the weights)."""
    heads = {name: head for name, head in model.head_map.items() if head.special_tokens()}
    if not heads:
        return CheckResult.skip(NAME, "the model has no action-token head")
    if tokenizer is None:
        return CheckResult(NAME, False, "the checkpoint holds no tokenizer files: inference cannot encode actions")
    rows = _embedding_rows(model)
    problems: list[str] = []
    facts: list[str] = []
    for name, head in heads.items():
        tokens: list[str] = head.special_tokens()
        ids = [int(i) for i in getattr(head, "token_ids", [])]
        found = _head_problems(tokens, ids, tokenizer, rows)
        if found:
            more = f" (+{len(found) - SHOWN} more)" if len(found) > SHOWN else ""
            problems.append(f"head {name!r}: " + "; ".join(found[:SHOWN]) + more)
        else:
            facts.append(f"head {name!r}: {len(tokens)} tokens {tokens[0]}..{tokens[-1]} at ids {ids[0]}..{ids[-1]}")
    rows_note = f"embedding rows: input {rows[0]}, output {rows[1]}"
    if problems:
        return CheckResult(NAME, False, "; ".join(problems) + f"; {rows_note}")
    return CheckResult(NAME, True, "; ".join(facts) + f", in bin order; {rows_note}")


def _head_problems(tokens: list[str], ids: list[int], tokenizer: Any, rows: tuple[int, int]) -> list[str]:
    """What is wrong with one head's tokens, most telling first."""
    if len(ids) != len(tokens):
        return [f"the head uses {len(ids)} ids for {len(tokens)} tokens"]
    vocab: dict[str, int] = tokenizer.get_vocab()
    problems = [
        f"the tokenizer lacks {t} (the head uses id {i})" for t, i in zip(tokens, ids, strict=True) if t not in vocab
    ]
    problems += [
        f"{t} is id {vocab[t]} in the tokenizer but the head uses {i}"
        for t, i in zip(tokens, ids, strict=True)
        if t in vocab and vocab[t] != i
    ]
    problems += [
        f"{t} encodes to {encoded} (not one token)"
        for t in tokens
        if t in vocab and (encoded := tokenizer(t, add_special_tokens=False)["input_ids"]) != [vocab[t]]
    ]
    misplaced = [(t, i, ids[0] + b) for b, (t, i) in enumerate(zip(tokens, ids, strict=True)) if i != ids[0] + b]
    if misplaced:
        shown = ", ".join(f"{t} is {i} (expected {want})" for t, i, want in misplaced[:SHOWN])
        problems.append(f"ids not in bin order, {len(misplaced)} misplaced: {shown}")
    limit = min(rows)
    problems += [
        f"{t} (id {i}) has no embedding row (only {limit} rows)" for t, i in zip(tokens, ids, strict=True) if i >= limit
    ]
    return problems


def _embedding_rows(model: MMLLM) -> tuple[int, int]:
    """Rows of the input embedding matrix and of the LM head (output embeddings)."""
    in_rows = _rows(model.get_input_embeddings())
    out_rows = _rows(model.backbone.output_embeddings)
    return in_rows, out_rows if out_rows else in_rows


def _rows(module: Any) -> int:
    """Rows of an embedding/linear module's weight, looking through PEFT wrappers (``base_layer``)."""
    weight = getattr(module, "weight", None)
    if weight is not None and hasattr(weight, "shape"):
        return int(weight.shape[0])
    base = getattr(module, "base_layer", None)
    return _rows(base) if base is not None else int(getattr(module, "num_embeddings", 0))
