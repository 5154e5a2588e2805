"""The locally trained byte-level BPE tokenizer: determinism, exact round trips, chat template, save/load."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import AutoTokenizer

from embodied.models.tokenizer import (
    CHAT_TEMPLATE,
    ROLE_TOKENS,
    SPECIAL_TOKENS,
    prepare_loaded_tokenizer,
    train_bpe_tokenizer,
)
from embodied.models.tokenizer_corpus import default_corpus

TEXTS = [
    "pick up the red cube and put it in the blue bowl",
    "How many spheres are left of the tray? 12",
    "  leading and trailing spaces \t tabs\nnew lines\r\n",
    "Ünïcödé, emoji 🤖🧊 and 中文 — all bytes survive",
    "<|user|> looks special; <|not_special|> does not",
    "",
    "x" * 300,
]


@pytest.fixture(scope="module")
def tokenizer():
    return train_bpe_tokenizer(400)


def test_training_is_deterministic(tokenizer) -> None:
    again = train_bpe_tokenizer(400)
    assert again.backend_tokenizer.to_str() == tokenizer.backend_tokenizer.to_str()
    assert len(tokenizer) == 400


@pytest.mark.parametrize("text", TEXTS)
def test_any_text_round_trips(tokenizer, text: str) -> None:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == text
    assert all(0 <= i < len(tokenizer) for i in ids)


def test_domain_words_are_single_tokens(tokenizer) -> None:
    # the built-in corpus makes frequent domain words whole tokens (short prompts); byte-level BPE keeps the
    # leading space inside the token, as the words appear mid-sentence
    for word in (" red", " cube", " bowl", "pick"):
        assert len(tokenizer(word, add_special_tokens=False)["input_ids"]) == 1, word
    assert len(default_corpus()) > 500


def test_special_tokens_have_fixed_ids(tokenizer) -> None:
    assert [tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS] == list(range(len(SPECIAL_TOKENS)))
    assert (tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id) == (0, 1, 2)
    assert tokenizer("<|assistant|>", add_special_tokens=False)["input_ids"] == [5]
    # plain encoding adds nothing; the chat template adds bos
    assert tokenizer("red")["input_ids"] == tokenizer("red", add_special_tokens=False)["input_ids"]


def test_chat_template_renders(tokenizer) -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "pick the cube"},
        {"role": "assistant", "content": "done"},
    ]
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    assert text == "<|bos|><|system|>\nbe brief<|eos|><|user|>\npick the cube<|eos|><|assistant|>\ndone<|eos|>"
    prompt = tokenizer.apply_chat_template(messages[1:2], tokenize=False, add_generation_prompt=True)
    assert prompt == "<|bos|><|user|>\npick the cube<|eos|><|assistant|>\n"
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert ids[:2] == [1, 4] and ids[-2] == 5
    with pytest.raises(Exception, match="unknown chat role"):
        tokenizer.apply_chat_template([{"role": "robot", "content": "x"}], tokenize=False)


def test_save_and_load_keep_vocabulary_and_template(tokenizer, tmp_path: Path) -> None:
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert loaded.get_vocab() == tokenizer.get_vocab()
    assert loaded.chat_template == CHAT_TEMPLATE
    assert (
        loaded(TEXTS[3], add_special_tokens=False)["input_ids"]
        == tokenizer(TEXTS[3], add_special_tokens=False)["input_ids"]
    )
    assert prepare_loaded_tokenizer(loaded) == []  # has eos, pad and a template: nothing to add


def test_loaded_tokenizer_without_template_gets_ours(tokenizer, tmp_path: Path) -> None:
    corpus = ["plain text only", "no chat roles here"] * 20
    bare = train_bpe_tokenizer(300, corpus, special_tokens=("<|pad|>", "<|bos|>", "<|eos|>"))
    bare.chat_template = None
    bare.pad_token = None
    assert prepare_loaded_tokenizer(bare) == list(ROLE_TOKENS)
    assert bare.chat_template == CHAT_TEMPLATE
    assert bare.pad_token == bare.eos_token
    own = train_bpe_tokenizer(300, corpus)
    own.chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    prepare_loaded_tokenizer(own)
    assert own.chat_template.startswith("{% for m in messages %}")


def test_too_small_vocabulary_is_an_error() -> None:
    with pytest.raises(ValueError, match="too small"):
        train_bpe_tokenizer(100)
    with pytest.raises(ValueError, match="pad, bos and eos"):
        train_bpe_tokenizer(300, special_tokens=("<|pad|>",))
