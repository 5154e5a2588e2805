"""Tokenizers for the LLM backbone: a byte-level BPE trained locally, and the chat template prompts use.

From-scratch backbones get a tokenizer trained here with ``tokenizers`` (nothing is downloaded). Byte-level BPE
maps every string to bytes first, so any text — accents, emoji, tabs — encodes and decodes back unchanged, and
the trainer sees a fixed corpus in a fixed order, so the vocabulary is the same on every call.

Special tokens: ``<|pad|>`` (id 0), ``<|bos|>`` (1), ``<|eos|>`` (2) and the chat roles ``<|system|>``,
``<|user|>``, ``<|assistant|>``. Plain ``tokenizer(text)`` adds no special tokens; the chat template puts
``bos`` first and closes every turn with ``eos``::

    <|bos|><|user|>\\npick up the red cube<|eos|><|assistant|>\\n
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from embodied.models.tokenizer_corpus import default_corpus

PAD, BOS, EOS = "<|pad|>", "<|bos|>", "<|eos|>"
ROLE_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>")
SPECIAL_TOKENS: tuple[str, ...] = (PAD, BOS, EOS, *ROLE_TOKENS)
#: 256 byte symbols of the ByteLevel alphabet come before any merge
BYTE_ALPHABET_SIZE = 256

# Jinja, rendered by transformers' ``apply_chat_template`` (sandboxed; ``raise_exception`` is provided there).
# ``bos_token``/``eos_token`` are the tokenizer's own, so the template also fits tokenizers loaded from a path.
CHAT_TEMPLATE = (
    "{%- if bos_token %}{{ bos_token }}{% endif -%}"
    "{%- for message in messages -%}"
    "{%- if message['role'] not in ['system', 'user', 'assistant'] -%}"
    "{{ raise_exception('unknown chat role ' + message['role'] + '; expected system, user or assistant') }}"
    "{%- endif -%}"
    "{{ '<|' + message['role'] + '|>\\n' + message['content'] }}{% if eos_token %}{{ eos_token }}{% endif %}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif -%}"
)


def train_bpe_tokenizer(
    vocab_size: int,
    corpus: Iterable[str] | None = None,
    special_tokens: Sequence[str] = SPECIAL_TOKENS,
) -> Any:
    """Train a byte-level BPE tokenizer on ``corpus`` (default: the built-in domain corpus).

    Returns a ``transformers.PreTrainedTokenizerFast`` with pad/bos/eos set, the other ``special_tokens`` as
    extra special tokens (ids in the order given, from 0) and ``CHAT_TEMPLATE``. ``len(tokenizer)`` may be
    below ``vocab_size`` when the corpus runs out of merges.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    missing = [t for t in (PAD, BOS, EOS) if t not in special_tokens]
    if missing:
        raise ValueError(f"special_tokens must include {missing} (pad, bos and eos)")
    minimum = BYTE_ALPHABET_SIZE + len(special_tokens)
    if vocab_size < minimum:
        raise ValueError(
            f"vocab_size {vocab_size} is too small: byte-level BPE needs {BYTE_ALPHABET_SIZE} byte symbols "
            f"+ {len(special_tokens)} special tokens = {minimum} at least"
        )
    texts = list(corpus) if corpus is not None else default_corpus()
    tok = Tokenizer(models.BPE())
    # no normaliser and no prefix space: the ByteLevel decoder then inverts encoding exactly
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(special_tokens),
        # every byte gets a symbol even if the corpus lacks it, so no text is ever out of vocabulary
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        min_frequency=1,
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    extras = [t for t in special_tokens if t not in (PAD, BOS, EOS)]
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token=PAD, bos_token=BOS, eos_token=EOS, extra_special_tokens=extras
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def prepare_loaded_tokenizer(tokenizer: Any) -> list[str]:
    """Make a tokenizer loaded from a path usable by the processor; return tokens its vocabulary must gain.

    A tokenizer keeps its own chat template; one without a template gets ``CHAT_TEMPLATE`` (whose role
    markers must then be special tokens). Without an EOS token, ``<|eos|>`` is added as EOS. Without a pad
    token, EOS doubles as pad (prompts are left-padded and masked, so the pad id is never attended to).
    """
    needed: list[str] = []
    if tokenizer.eos_token is None:
        tokenizer.eos_token = EOS
        needed.append(EOS)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not tokenizer.chat_template:
        tokenizer.chat_template = CHAT_TEMPLATE
        vocab = tokenizer.get_vocab()
        needed += [t for t in ROLE_TOKENS if t not in vocab]
    return needed
