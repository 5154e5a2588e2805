"""``hf-causal-lm``: any Hugging Face ``AutoModelForCausalLM``, built from a config dict or a local directory.

From a config dict (``config: {model_type: qwen2, hidden_size: ...}``) the model is initialised from scratch
and a byte-level BPE tokenizer is trained locally (``tokenizer: {vocab_size: ...}``); the model's
``vocab_size`` and pad/bos/eos ids are taken from that tokenizer. From a path, model and tokenizer load with
``from_pretrained`` — local files only, safetensors only, never remote code.

``forward`` runs the decoder stack (``model.base_model``: ``LlamaModel``, ``GPT2Model``, ...) on
``inputs_embeds`` and returns its last hidden states; the LM head is applied separately by ``logits`` so that
heads which read only a few positions never pay for ``[B, T, V]`` logits. It works unchanged once
``self.model`` is a ``peft.PeftModel``: LoRA and LN tuning modify layers in place, and prefix tuning's virtual
key/values are supplied here as the initial KV cache (see ``_prefix_cache``).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Literal, cast

import torch
from pydantic import Field, model_validator
from torch import nn

from embodied.models.backbones.base import BACKBONES, Backbone, BackboneOutput
from embodied.models.backbones.peft_targets import default_peft_targets
from embodied.models.backbones.tiny import DEFAULT_BACKBONE_CONFIG
from embodied.models.context import BuildContext
from embodied.models.tokenizer import prepare_loaded_tokenizer, train_bpe_tokenizer
from embodied.models.tokenizer_corpus import default_corpus
from embodied.registry import ComponentSettings, SettingsIssue

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
# keys of ``PretrainedConfig.to_dict()`` that record where and with what a model was saved, not its shape
_VOLATILE_KEYS = ("transformers_version", "_name_or_path")


class TokenizerSettings(ComponentSettings):
    """The byte-level BPE tokenizer trained for a from-scratch backbone."""

    vocab_size: int = Field(default=512, ge=262, le=1_000_000, description="bytes + special tokens + merges")
    texts: list[str] = Field(default_factory=list, description="extra training texts after the built-in corpus")


class HFCausalLMSettings(ComponentSettings):
    """Exactly one source: ``config`` (from scratch) or ``path`` (a local checkpoint); neither = a small default."""

    config: dict[str, Any] | None = Field(
        default=None, description="HF config dict with model_type; vocab_size and special ids follow the tokenizer"
    )
    path: str | None = Field(default=None, description="local save_pretrained directory (model + tokenizer)")
    tokenizer: TokenizerSettings | None = Field(default=None, description="tokenizer training (from-scratch only)")
    attn_implementation: str = Field(
        default="auto", description="auto (sdpa where the family has it, else eager — gemma2), eager, sdpa, ..."
    )
    dtype: Literal["float32", "bfloat16", "float16"] = Field(default="float32", description="parameter dtype")

    @model_validator(mode="after")
    def _one_source(self) -> HFCausalLMSettings:
        if self.config is not None and self.path is not None:
            raise ValueError("give either config (build from scratch) or path (load a local checkpoint), not both")
        if self.path is not None and self.tokenizer is not None:
            raise ValueError("tokenizer settings are for a from-scratch config; a path brings its own tokenizer")
        if self.config is None and self.path is None:
            self.config = dict(DEFAULT_BACKBONE_CONFIG)
        if self.config is not None and not isinstance(self.config.get("model_type"), str):
            raise ValueError("config needs a model_type (e.g. llama, qwen2, gemma, phi3, gpt2)")
        return self

    def nested_issues(self) -> list[SettingsIssue]:
        """``config`` built and checked by transformers, then its sizes (``embodied.models.hf_config_check``)."""
        from embodied.models.hf_config_check import BACKBONE_SIZES, hf_config_issues

        return [] if self.config is None else hf_config_issues(self.config, BACKBONE_SIZES, "text")


@BACKBONES.register("hf-causal-lm", HFCausalLMSettings)
class HFCausalLM(Backbone):
    """Any Hugging Face causal LM (from a config dict or a local path) with its tokenizer."""

    def __init__(self, settings: HFCausalLMSettings, ctx: BuildContext) -> None:
        super().__init__()
        self.settings = settings
        # a tokenizer handed in by the caller (the one saved beside a model) wins over training or loading one
        given = ctx.extras.get("tokenizer")
        if settings.path is not None:
            self.model, self._tokenizer = _load_local(settings, given)
            missing = prepare_loaded_tokenizer(self._tokenizer)
        else:
            self.model, self._tokenizer = _build_from_config(settings, given)
            missing = []
        _tie_declared_weights(self.model)
        #: ids of every token requested through ``add_special_tokens`` (action tokens, placeholders, ...)
        self.added_token_ids: list[int] = []
        self._add_to_vocabulary(missing)
        # transformers 5 renamed the decoders' ``past_key_values`` argument to ``cache``; older ones lack it
        params = inspect.signature(self._decoder().forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"

    # ------------------------------------------------------------------------------------------ contract
    @property
    def embed_dim(self) -> int:
        return int(self._text_config().hidden_size)

    @property
    def tokenizer(self) -> Any:
        return self._tokenizer

    @property
    def input_embeddings(self) -> nn.Embedding:
        # a peft ``TrainableTokensWrapper`` once new-token rows train; it still maps ids → [.., D]
        return cast(nn.Embedding, self._causal_lm().get_input_embeddings())

    @property
    def output_embeddings(self) -> nn.Module:
        head: nn.Module = self._causal_lm().get_output_embeddings()
        return head

    @property
    def default_peft_targets(self) -> list[str]:
        return default_peft_targets(self._causal_lm().config.model_type)

    def hf_config_dict(self) -> dict[str, Any]:
        config: dict[str, Any] = self._causal_lm().config.to_dict()
        for key in _VOLATILE_KEYS:
            config.pop(key, None)
        return config

    def add_special_tokens(self, tokens: list[str]) -> list[int]:
        """Add the tokens missing from the vocabulary; return the ids of all of ``tokens``, in order.

        Existing ids never change. New rows of the input (and untied output) embeddings are set to the mean of
        the existing tokens' rows, so the model's predictions barely move (Hewitt 2021, "Initializing new word
        embeddings"). Call before a PEFT method wraps the model: a ``PeftModel``'s adapters were built for the
        old vocabulary.
        """
        ids = self._add_to_vocabulary(tokens)
        self.added_token_ids += [i for i in dict.fromkeys(ids) if i not in self.added_token_ids]
        return ids

    def forward(
        self,
        inputs_embeds: torch.Tensor,
        attention_mask: torch.Tensor,
        past_key_values: Any = None,
        use_cache: bool = False,
        position_ids: torch.Tensor | None = None,
    ) -> BackboneOutput:
        """``inputs_embeds [B, T, D]``, ``attention_mask [B, past + T]`` → last hidden states ``[B, T, D]``.

        ``position_ids [B, T]`` default to counting real tokens from each row's first unmasked one, so left
        padding and incremental decoding (one new embedding with the returned cache) give the same positions.
        """
        batch, steps = inputs_embeds.shape[:2]
        if position_ids is None:
            position_ids = (attention_mask.long().cumsum(dim=-1) - 1).clamp(min=0)[:, -steps:]
        virtual = self._num_virtual_tokens()
        if virtual:
            past_key_values = self._prefix_cache(batch, steps, past_key_values)
            # the prefix's key/values sit in front of every row and are always attended to; peft offsets the
            # positions of real tokens by the prefix length (``PeftModelForCausalLM._adjust_prompt_learning_kwargs``)
            attention_mask = torch.cat([attention_mask.new_ones(batch, virtual), attention_mask], dim=1)
            position_ids = position_ids + virtual
        kwargs: dict[str, Any] = {}
        if past_key_values is not None:
            kwargs[self._cache_arg] = past_key_values
        out = self._decoder()(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            use_cache=use_cache or virtual > 0,
            **kwargs,
        )
        cache = getattr(out, "cache", None) if self._cache_arg == "cache" else out.past_key_values
        return BackboneOutput(hidden=out.last_hidden_state, past_key_values=cache if use_cache else None)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """``[.., D]`` → ``[.., V]``, with the final soft-capping of the families that have it (Gemma 2/3)."""
        out: torch.Tensor = self.output_embeddings(hidden)
        cap = getattr(self._text_config(), "final_logit_softcapping", None)
        if cap:
            out = torch.tanh(out / cap) * cap
        return out

    @property
    def all_tied_weights_keys(self) -> dict[str, str]:
        """Shared parameters as ``{duplicate name: first name}``, named from this module (found by identity).

        transformers 5 learns a composite model's tied weights from its direct children's
        ``all_tied_weights_keys`` in ``PreTrainedModel.post_init`` (re-ties them on load) and drops duplicates
        on save by the ``_tied_weights_keys`` of any submodule. Without them the LM head of a tied family
        (gemma, qwen2, gpt2) is dropped on save and never re-tied on load. Identity also covers peft wrappers
        (LoRA, shared trainable-token deltas). A model holding this backbone calls ``post_init`` after tokens
        are added and policies applied.
        """
        first: dict[int, str] = {}
        tied: dict[str, str] = {}
        for name, param in self.named_parameters(remove_duplicate=False):
            tied_to = first.setdefault(id(param), name)
            if tied_to != name:
                tied[name] = tied_to
        return tied

    @property
    def _tied_weights_keys(self) -> dict[str, str]:
        # read by transformers' ``remove_tied_weights_from_state_dict`` (``_get_tied_weight_keys``) on save
        return self.all_tied_weights_keys

    # ------------------------------------------------------------------------------------------ internals
    def _causal_lm(self) -> Any:
        """The transformers ``*ForCausalLM`` (under a ``PeftModel`` when a PEFT method is applied)."""
        from peft import PeftModel

        return self.model.get_base_model() if isinstance(self.model, PeftModel) else self.model

    def _decoder(self) -> nn.Module:
        """The decoder stack without the LM head (``base_model_prefix``: ``model``, ``transformer``, ...)."""
        lm = self._causal_lm()
        decoder: nn.Module = lm.base_model
        if decoder is lm:
            raise TypeError(f"{type(lm).__name__} exposes no decoder stack as base_model; it cannot be wrapped")
        return decoder

    def _text_config(self) -> Any:
        return self._causal_lm().config.get_text_config()

    def _num_virtual_tokens(self) -> int:
        """Length of the prefix when the active adapter is prefix tuning, else 0."""
        from peft import PeftModel, PeftType

        if not isinstance(self.model, PeftModel) or not self.model.active_peft_config.is_prompt_learning:
            return 0
        config = self.model.active_peft_config
        if config.peft_type != PeftType.PREFIX_TUNING:
            raise NotImplementedError(f"prompt-learning adapter {config.peft_type} is not supported; use prefix")
        return int(config.num_virtual_tokens)

    def _prefix_cache(self, batch: int, steps: int, past_key_values: Any) -> Any:
        """The KV cache to start from: the learned prefix on the first call, the running cache afterwards."""
        if past_key_values is not None:
            return past_key_values  # already begins with the prefix (returned by the first call)
        virtual = self._num_virtual_tokens()
        peft_model: Any = self.model
        tokens = peft_model.prompt_tokens[peft_model.active_adapter]
        if tokens.is_meta:
            # ``prompt_tokens`` is a plain tensor attribute (``arange``), neither parameter nor buffer: built
            # under transformers' meta-device init (from_pretrained of the holding model) it never gets data
            weight = peft_model.prompt_encoder[peft_model.active_adapter].embedding.weight
            peft_model.prompt_tokens[peft_model.active_adapter] = torch.arange(tokens.numel(), device=weight.device)
        return peft_model.get_prompt(batch_size=batch, max_cache_len=steps + virtual)

    def _add_to_vocabulary(self, tokens: list[str]) -> list[int]:
        """Add the missing ``tokens`` as special tokens, grow the embeddings, return every token's id."""
        from peft import PeftModel

        vocab = self._tokenizer.get_vocab()
        new = [t for t in dict.fromkeys(tokens) if t not in vocab]
        if new:
            if isinstance(self.model, PeftModel):
                raise RuntimeError(
                    f"cannot add tokens {new} after a PEFT method wrapped the backbone: add special tokens first"
                )
            known = len(self._tokenizer)
            self._tokenizer.add_special_tokens({"extra_special_tokens": new}, replace_extra_special_tokens=False)
            _init_new_rows(self.model, known, [self._tokenizer.convert_tokens_to_ids(t) for t in new])
        return [int(self._tokenizer.convert_tokens_to_ids(t)) for t in tokens]


def _tie_declared_weights(lm: Any) -> None:
    """Tie the parameters the model's config declares tied (LM head ↔ input embeddings).

    ``from_pretrained`` of a model that holds this backbone builds it inside ``transformers.initialization.
    no_tie_weights()``, which turns ``tie_weights`` into a no-op; the head would stay a separate parameter and
    every resize or PEFT wrap after it would treat the pair as untied. So the declared pairs are tied by hand.
    """
    if not hasattr(lm, "get_expanded_tied_weights_keys"):  # transformers < 5 ties in __init__ unconditionally
        lm.tie_weights()
        return
    for target, source in lm.get_expanded_tied_weights_keys(all_submodels=True).items():
        parent, _, name = target.rpartition(".")
        setattr(lm.get_submodule(parent), name, lm.get_parameter(source))


def _init_new_rows(lm: Any, known: int, new_ids: list[int]) -> None:
    """Grow ``lm``'s embeddings to hold ``new_ids``; set their rows to the mean of the first ``known`` rows."""
    rows = lm.get_input_embeddings().weight.shape[0]
    if max(new_ids) >= rows:
        # mean_resizing=False: transformers would sample from N(mean, cov) — we set the exact mean below
        lm.resize_token_embeddings(max(new_ids) + 1, mean_resizing=False)
        # the resize re-ties a tied head through tie_weights, a no-op inside a holding model's from_pretrained
        _tie_declared_weights(lm)
    # rows past the old tokenizer length (checkpoints pad their vocab) are unused: they don't enter the mean
    used = min(known, rows)
    inputs = lm.get_input_embeddings()
    outputs = lm.get_output_embeddings()
    with torch.no_grad():
        inputs.weight[new_ids] = inputs.weight[:used].mean(dim=0)
        if outputs is not None and outputs.weight is not inputs.weight:
            outputs.weight[new_ids] = outputs.weight[:used].mean(dim=0)
        if outputs is not None and getattr(outputs, "bias", None) is not None:
            outputs.bias[new_ids] = outputs.bias[:used].mean()


def _attention(settings: HFCausalLMSettings) -> str | None:
    """``auto`` → ``None``: transformers then takes sdpa when the class supports it and eager otherwise."""
    return None if settings.attn_implementation == "auto" else settings.attn_implementation


def _build_from_config(settings: HFCausalLMSettings, given: Any) -> tuple[nn.Module, Any]:
    """A freshly initialised model from ``settings.config`` and its tokenizer (trained here unless given)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    issues = settings.nested_issues()
    if issues:
        where = ", ".join(f"{'.'.join(map(str, i.key))}: expected {i.expected}, got {i.given}" for i in issues)
        raise ValueError(f"invalid backbone config: {where}")
    config = dict(settings.config or {})
    tokenizer = given
    if tokenizer is None:
        tok = settings.tokenizer or TokenizerSettings()
        tokenizer = train_bpe_tokenizer(tok.vocab_size, [*default_corpus(), *tok.texts])
    if given is None or "vocab_size" not in config:
        # the embedding table matches the tokenizer exactly; pad/bos/eos point at its special tokens
        config.update(
            vocab_size=len(tokenizer),
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    hf_config = AutoConfig.for_model(**config)
    vocab = hf_config.get_text_config().vocab_size
    if len(tokenizer) > vocab:
        raise ValueError(f"the tokenizer has {len(tokenizer)} tokens but the config's vocab_size is {vocab}")
    model = AutoModelForCausalLM.from_config(
        hf_config, dtype=_DTYPES[settings.dtype], attn_implementation=_attention(settings)
    )
    return model, tokenizer


def _load_local(settings: HFCausalLMSettings, given: Any) -> tuple[nn.Module, Any]:
    """Model and tokenizer from a local directory: no download, no remote code, no pickle."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(str(settings.path)).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"backbone path {path} is not a directory (nothing is ever downloaded)")
    model = AutoModelForCausalLM.from_pretrained(
        str(path),
        dtype=_DTYPES[settings.dtype],
        attn_implementation=_attention(settings),
        trust_remote_code=False,
        local_files_only=True,
        use_safetensors=True,
    )
    tokenizer = given
    if tokenizer is None:
        tokenizer = AutoTokenizer.from_pretrained(str(path), trust_remote_code=False, local_files_only=True)
    return model, tokenizer
