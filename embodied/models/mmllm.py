"""``MMLLM``: modality streams → LLM backbone (with PEFT) → output heads, as one ``PreTrainedModel``.

Sequence layout (left-padded, so every prompt ends at the same column)::

    [pad ... | chat prompt with <|stream|> placeholders × M_total | target tokens] [queries of parallel heads]

Placeholder positions receive the stream's projected tokens; a count mismatch is an error, never a silent
truncation. Parallel heads (continuous, diffusion) read the hidden states at their appended query positions;
generative heads (text, action tokens) read the whole sequence and decode through ``generate_ids``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn
from transformers import PreTrainedModel

from embodied.models.backbones.base import BACKBONES, Backbone
from embodied.models.config import MMLLMConfig
from embodied.models.context import BuildContext
from embodied.models.freezing import apply_policy, trainable_table
from embodied.models.grounding import LOOK_TOKEN, Grounding, Look
from embodied.models.heads.base import HEADS, Head, HeadDistribution
from embodied.models.processor import MMLLMProcessor, StreamSlot
from embodied.models.streams import ModalityStream, StreamOutputs, placeholder_token

logger = logging.getLogger("embodied")

Batch = dict[str, Any]


@dataclass
class MMLLMOutput:
    """``loss``: sum of the losses of the heads with targets; ``metrics``: ``<head>/<name>`` floats."""

    loss: torch.Tensor | None
    metrics: dict[str, float] = field(default_factory=dict)
    hidden: torch.Tensor | None = None


class MMLLM(PreTrainedModel):
    """The multimodal LLM. Build with ``MMLLM(MMLLMConfig(spec=...))`` or ``MMLLM.from_pretrained(dir)``."""

    config_class = MMLLMConfig
    base_model_prefix = "mmllm"
    main_input_name = "input_ids"
    _supports_param_buffer_assignment = False
    #: run each camera's encoder once for the LLM tokens and the pointing heads' dense maps (issue 13); False
    #: restores the two passes (the same numbers up to float summation order; ``embodied.bench.instruct`` A/B)
    shared_encoder_pass: bool = True
    #: keep one processor (and its token caches) across ``model.processor`` calls; False: a fresh one each call
    reuse_processor: bool = True

    def __init__(self, config: MMLLMConfig, tokenizer: Any = None) -> None:
        super().__init__(config)
        spec = config.model_spec
        ctx = BuildContext(
            embed_dim=0,
            image_size=spec.image_size,
            cameras=tuple(spec.cameras),
            state_dim=spec.state_dim,
            action_dim=spec.action_dim,
        )
        # a tokenizer saved with the model wins over training or loading one (see from_pretrained)
        ctx.extras["tokenizer"] = tokenizer
        entry, settings = BACKBONES.resolve(spec.backbone)
        self.backbone: Backbone = entry.target.from_config(settings, ctx)
        ctx.embed_dim, ctx.backbone = self.backbone.embed_dim, self.backbone
        self.streams = nn.ModuleDict(
            {name: ModalityStream(name, enc, spec.projector, ctx) for name, enc in spec.encoders.items()}
        )
        # widths of the per-camera streams' dense maps, for heads that score image locations (pointer)
        ctx.extras["dense_dims"] = {name: s.encoder.embed_dim for name, s in self.stream_map.items() if s.cameras}
        self.heads = nn.ModuleDict({name: _build_head(h, ctx) for name, h in spec.heads.items()})
        self.look_map, self.grounding = self._build_grounding(ctx)
        self.placeholder_ids = self._add_tokens()
        self.look_id = self.backbone.add_special_tokens([LOOK_TOKEN])[0] if self.grounding is not None else -1
        for head in self.head_map.values():
            head.bind(self.backbone)
        apply_policy(self.component_groups(), spec.trainable, self.backbone)
        for name, lora in spec.task_adapters.items():
            self._build_task_adapter(name, lora)
        if spec.task_adapters:  # a loaded model acts as of its latest task until told otherwise
            self.use_task_adapter(list(spec.task_adapters)[-1])
        # transformers 5 needs post_init for tied-weight bookkeeping (LM heads tied to embeddings survive save/load)
        self.post_init()
        logger.info("MMLLM components:\n%s", self.component_table())

    # ----------------------------------------------------------------------------------------- structure
    def _add_tokens(self) -> dict[str, int]:
        placeholders = [placeholder_token(name) for name in self.streams]
        head_tokens = [tok for head in self.head_map.values() for tok in head.special_tokens()]
        ids = self.backbone.add_special_tokens(placeholders + head_tokens)
        return dict(zip(self.streams, ids[: len(placeholders)], strict=True))

    def _build_grounding(self, ctx: BuildContext) -> tuple[str, Grounding | None]:
        """The look module of ``spec.grounding`` and the dense map it reads (``"<stream>/<camera>"``), or none."""
        settings = self.config.model_spec.grounding
        if settings is None:
            return "", None
        maps = [f"{name}/{cam}" for name, s in self.stream_map.items() for cam in s.cameras]
        chosen = settings.map or (maps[0] if maps else "")
        if chosen not in maps:
            raise ValueError(
                f"grounding.map is {chosen!r} but the model's dense maps are {maps}: grounding needs an image "
                "encoder with a spatial map (e.g. cnn) and a map named '<stream>/<camera>'"
            )
        dims: dict[str, int] = ctx.extras["dense_dims"]
        return chosen, Grounding(settings, ctx.embed_dim, dims[chosen.split("/")[0]], ctx.image_size)

    @property
    def head_map(self) -> dict[str, Head]:
        """The heads by name, typed (``self.heads`` is the ``nn.ModuleDict`` that registers them)."""
        return {name: cast(Head, head) for name, head in self.heads.items()}

    @property
    def stream_map(self) -> dict[str, ModalityStream]:
        """The modality streams by name, typed."""
        return {name: cast(ModalityStream, stream) for name, stream in self.streams.items()}

    def component_groups(self) -> dict[str, list[nn.Module]]:
        """The ONE list of groups that drives freezing, PEFT targets and the component table."""
        return {
            "encoders": [s.encoder for s in self.stream_map.values()],
            "projector": [s.projector for s in self.stream_map.values()],
            "backbone": [self.backbone],
            "heads": list(self.head_map.values()) + ([self.grounding] if self.grounding is not None else []),
        }

    def component_table(self) -> str:
        return trainable_table(self.component_groups(), self.config.model_spec.trainable)

    @property
    def tokenizer(self) -> Any:
        return self.backbone.tokenizer

    @property
    def processor(self) -> MMLLMProcessor:
        """The processor that matches this model (same image size, normalisation, placeholders).

        One instance while the spec and tokenizer stay the same objects, so its per-prompt token cache lives across
        batches (the data pipeline asks for ``model.processor`` every batch); ``reuse_processor = False``: a new one
        every time."""
        key = (self.config.spec, self.tokenizer)
        cached = self.__dict__.get("_processor_cache")
        if self.reuse_processor and cached is not None and all(a is b for a, b in zip(cached[0], key, strict=True)):
            return cached[1]  # type: ignore[no-any-return]
        slots = {
            name: StreamSlot(placeholder_token(name), s.num_tokens, s.modality) for name, s in self.stream_map.items()
        }
        processor = MMLLMProcessor(self.tokenizer, self.config.model_spec, slots)
        self.__dict__["_processor_cache"] = (key, processor)
        return processor

    def get_input_embeddings(self) -> nn.Module:
        return self.backbone.input_embeddings

    # ----------------------------------------------------------------------------------------- embedding
    def embed(
        self,
        batch: Batch,
        query_heads: list[str] | tuple[str, ...] = (),
        encoded: StreamOutputs | None = None,
        looks: list[Look] | None = None,
    ) -> tuple[torch.Tensor, ...]:
        """Prompt + modality tokens (+ query tokens of ``query_heads``) → (embeds, attention mask, positions).

        ``input_ids``/``attention_mask`` ``[B, T]``; returns embeds ``[B, T + Q, D]``, mask ``[B, T + Q]``
        and position ids ``[B, T + Q]`` counted from each row's first real token (left padding). ``encoded``:
        the streams' outputs of this batch when the caller has them already (``encode_streams``). A grounding
        model fills its ``<|look|>`` slot here (a look pass of the backbone first); ``looks`` receives the look.
        """
        input_ids, mask = batch["input_ids"], batch["attention_mask"]
        embeds = self.backbone.input_embeddings(input_ids)
        encoded = encoded if encoded is not None else self.encode_streams(batch, dense=self.grounding is not None)
        for name, tokens in encoded.tokens.items():
            slots = input_ids == self.placeholder_ids[name]
            tokens = tokens.to(embeds.dtype)  # [B, M_total, D]
            counts = slots.sum(dim=1)
            if bool((counts != tokens.shape[1]).any()):
                raise ValueError(
                    f"{name} features and {name} tokens do not match: the stream gives {tokens.shape[1]} "
                    f"tokens per sample but the prompts hold {counts.tolist()} {placeholder_token(name)} tokens"
                )
            embeds = embeds.masked_scatter(slots.unsqueeze(-1), tokens.reshape(-1, tokens.shape[-1]))
        if self.grounding is not None and bool((input_ids == self.look_id).any()):
            embeds, look = self._ground(batch, embeds, encoded)
            if looks is not None:
                looks.append(look)
        queries = [q for h in query_heads if (q := self.head_map[h].query_embeddings()) is not None]
        if queries:
            q = torch.cat(queries, dim=0).to(embeds.dtype)  # [Q, D]
            embeds = torch.cat([embeds, q.unsqueeze(0).expand(embeds.shape[0], -1, -1)], dim=1)
            mask = torch.cat([mask, mask.new_ones(mask.shape[0], q.shape[0])], dim=1)
        positions = (mask.long().cumsum(dim=1) - 1).clamp(min=0)
        return embeds, mask, positions

    def _ground(self, batch: Batch, embeds: torch.Tensor, encoded: StreamOutputs) -> tuple[torch.Tensor, Look]:
        """Fill the ``<|look|>`` slots ``[B, T, D]``: the look pass (of the rows with a slot only) with the learned
        query there, then its read."""
        assert self.grounding is not None
        slots = batch["input_ids"] == self.look_id  # [B, T], at most one per row
        counts = slots.sum(dim=1)
        if bool((counts > 1).any()):
            raise ValueError(
                f"a grounding model takes at most one {LOOK_TOKEN} per prompt, got {counts.tolist()}: build batches "
                "with model.processor (it ends the prompts of grounding.kinds with the slot)"
            )
        rows = torch.nonzero(counts == 1).flatten()  # [R]
        dense = encoded.dense[self.look_map][rows]  # every caller encodes a grounding model's batch with its maps
        mask, own = batch["attention_mask"][rows], slots[rows]
        positions = (mask.long().cumsum(dim=1) - 1).clamp(min=0)
        query = self.grounding.query.to(embeds.dtype).expand(len(rows), -1)  # [R, D]
        first = embeds[rows].masked_scatter(own.unsqueeze(-1), query)
        state = self.backbone(inputs_embeds=first, attention_mask=mask, position_ids=positions).hidden[own]  # [R, D]
        look = self.grounding.look(state, dense, rows)
        read = self.grounding.read(look, dense).to(embeds.dtype)  # [R, D], in row order as the slots
        return embeds.masked_scatter(slots.unsqueeze(-1), read), look

    @torch.no_grad()
    def look(self, batch: Batch) -> Look:
        """Where a grounding model looks for the prompts of a processed batch that end with the look slot (heatmap,
        peaks, soft count; ``look.rows`` are their rows in the batch)."""
        if self.grounding is None:
            raise ValueError("this model has no grounding (model.grounding in its spec)")
        looks: list[Look] = []
        self.embed(batch, looks=looks)
        if not looks:
            raise ValueError(f"no prompt of this batch ends with {LOOK_TOKEN} (grounding.kinds decides which do)")
        return looks[0]

    def encode_streams(self, batch: Batch, dense: bool = False) -> StreamOutputs:
        """Tokens of every stream whose placeholder the prompts hold and, when ``dense``, the dense maps of
        ``dense_features`` — one encoder pass per camera for both (``shared_encoder_pass``; issue 13)."""
        input_ids = batch["input_ids"]
        out = StreamOutputs()
        for name, stream in self.stream_map.items():
            wants_tokens = bool((input_ids == self.placeholder_ids[name]).any())
            wants_maps = dense and bool(stream.cameras)
            if wants_tokens and wants_maps and self.shared_encoder_pass:
                out.tokens[name], maps = stream.encode(batch, dense=True)
            else:
                if wants_tokens:
                    out.tokens[name] = stream(batch)
                maps = stream.dense_features(batch) if wants_maps else {}
            out.dense.update({f"{name}/{cam}": feats for cam, feats in maps.items()})
        return out

    # ----------------------------------------------------------------------------------------- training
    def forward(self, **batch: Any) -> MMLLMOutput:  # type: ignore[override]
        """Losses of every head whose targets the batch carries, summed; ``batch`` as the processor makes it."""
        total: torch.Tensor | None = None
        metrics: dict[str, float] = {}
        hidden, parts, look = self._head_states(batch)
        for name, head, states, head_batch in parts:
            loss, stats = head.loss(states, head_batch)
            total = loss if total is None else total + loss
            metrics.update({f"{name}/{k}": v for k, v in stats.items()})
        if look is not None and self.grounding is not None and batch.get("look_mask") is not None:
            loss, stats = self.grounding.loss(look, batch)
            total = loss if total is None else total + loss
            metrics.update({f"look/{k}": v for k, v in stats.items()})
        if total is not None:
            metrics["loss"] = float(total.detach())
        return MMLLMOutput(loss=total, metrics=metrics, hidden=hidden)

    def distill_outputs(self, batch: Batch) -> dict[str, HeadDistribution]:
        """Per head with targets in ``batch``: its output distribution at the trained positions
        (``Head.distribution_params``), for distillation (LwF); heads without one are left out."""
        _, parts, _ = self._head_states(batch)
        out = {}
        for name, head, states, head_batch in parts:
            params = head.distribution_params(states, head_batch)
            if params is not None:
                out[name] = params
        return out

    def _head_states(
        self, batch: Batch
    ) -> tuple[torch.Tensor, list[tuple[str, Head, torch.Tensor, Batch]], Look | None]:
        """One encoder pass and one backbone pass (two with grounding); per head with targets: (name, head, the
        hidden states it reads, its batch) — generative heads the text positions ``[B, T, D]``, parallel heads their
        query positions ``[B, Q, D]``; pointing heads' batches carry the dense maps of the same encoder pass. Last,
        the grounding model's look (else None)."""
        claimed = [i for head in self.head_map.values() for i in head.claimed_token_ids()]
        head_batches = {name: self._head_batch(head, batch, claimed) for name, head in self.head_map.items()}
        active = [name for name, head in self.head_map.items() if head.has_targets(head_batches[name])]
        parallel = [n for n in active if not self.head_map[n].generative]
        pointing = [n for n in active if self.head_map[n].uses_dense_features and "dense_features" not in batch]
        encoded = self.encode_streams(batch, dense=bool(pointing) or self.grounding is not None)
        for name in pointing:
            head_batches[name] = {**head_batches[name], "dense_features": encoded.dense}
        looks: list[Look] = []
        embeds, mask, positions = self.embed(batch, parallel, encoded, looks)
        hidden = self.backbone(inputs_embeds=embeds, attention_mask=mask, position_ids=positions).hidden
        text_len = batch["input_ids"].shape[1]
        parts = []
        offset = text_len
        for name in active:
            head = self.head_map[name]
            if head.generative:
                states = hidden[:, :text_len]
            else:
                states = hidden[:, offset : offset + head.num_queries]
                offset += head.num_queries
            parts.append((name, head, states, head_batches[name]))
        return hidden, parts, (looks[0] if looks else None)

    def _head_batch(self, head: Head, batch: Batch, claimed: list[int]) -> Batch:
        """What ``head`` reads (before its dense maps, which ``_head_states`` adds): the text head loses labels
        other heads claim."""
        if head.generative and "labels" in batch and not head.claimed_token_ids() and claimed:
            batch = _unclaimed(batch, claimed)
        return batch

    def dense_features(self, batch: Batch) -> dict[str, torch.Tensor]:
        """``{"<stream>/<camera>": [B, D, h, w]}`` for every stream whose encoder keeps a spatial map."""
        return {
            f"{name}/{cam}": feats
            for name, stream in self.stream_map.items()
            for cam, feats in stream.dense_features(batch).items()
        }

    # ----------------------------------------------------------------------------------------- inference
    @torch.no_grad()
    def predict(self, batch: Batch, head: str, **kwargs: Any) -> Any:
        """The named head's output for a processed batch (decoded text or actions ``[B, H, A]``)."""
        from embodied.models.generation import generate_ids

        chosen = self._head(head)
        if chosen.generative:
            return chosen.predict(generate_ids(self, batch, chosen, **kwargs))
        encoded = self.encode_streams(batch, dense=chosen.uses_dense_features or self.grounding is not None)
        extra = {"dense_features": encoded.dense} if chosen.uses_dense_features else {}
        return chosen.predict(self.query_hidden(batch, head, encoded), **extra, **kwargs)

    def query_hidden(self, batch: Batch, head: str, encoded: StreamOutputs | None = None) -> torch.Tensor:
        """Hidden states ``[B, Q, D]`` at a parallel head's query positions (one forward pass)."""
        chosen = self._head(head)
        embeds, mask, positions = self.embed(batch, [head], encoded)
        hidden = self.backbone(inputs_embeds=embeds, attention_mask=mask, position_ids=positions).hidden
        return hidden[:, -chosen.num_queries :]

    def _head(self, name: str) -> Head:
        if name not in self.heads:
            raise KeyError(f"model has no head {name!r}; its heads are {sorted(self.heads)}")
        return self.head_map[name]

    # ----------------------------------------------------------------------------------------- task adapters
    def add_task_adapter(self, name: str, lora: dict[str, Any]) -> list[nn.Parameter]:
        """Add the per-task LoRA adapter ``name`` (settings as ``lora``'s), record it in the spec, make it the
        active one; returns its parameters (``embodied.models.peft.task_adapters``)."""
        from embodied.models.peft.lora import LoraSettings
        from embodied.models.peft.task_adapters import task_adapter_parameters

        settings = LoraSettings.model_validate(lora)
        self._build_task_adapter(name, settings.model_dump(mode="json"))
        assert self.config.spec is not None
        self.config.spec = {
            **self.config.spec,
            "task_adapters": {**self.config.spec.get("task_adapters", {}), name: settings.model_dump(mode="json")},
        }
        self.use_task_adapter(name)
        return task_adapter_parameters(self.backbone, name)

    def _build_task_adapter(self, name: str, lora: dict[str, Any]) -> None:
        from embodied.models.peft.lora import LoraSettings
        from embodied.models.peft.task_adapters import add_task_adapter, task_adapter_parameters

        add_task_adapter(self.backbone, name, LoraSettings.model_validate(lora))
        for param in task_adapter_parameters(self.backbone, name):
            param.requires_grad_(False)

    def use_task_adapter(self, name: str | None) -> None:
        """Act with the per-task adapter ``name``; ``None``: the shared base (the first task's model)."""
        from embodied.models.peft.task_adapters import use_task_adapter

        use_task_adapter(self.backbone, name)

    @property
    def task_adapters(self) -> list[str]:
        """The per-task adapters, in the order they were added."""
        return list(self.config.model_spec.task_adapters)

    # ----------------------------------------------------------------------------------------- save / load
    def save_pretrained(self, save_directory: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Weights (safetensors), config, tokenizer and processor, sealed by a sha256 ``manifest.json``.

        The saved config never needs the source paths. The manifest (``embodied.models.integrity``) is written
        last; code that adds files to the directory afterwards calls ``write_model_manifest(dir)`` again.
        """
        from embodied.models.integrity import write_model_manifest
        from embodied.models.persistence import portable_spec

        original = self.config.spec
        self.config.spec = portable_spec(self)
        try:
            super().save_pretrained(save_directory, safe_serialization=True, **kwargs)
        finally:
            self.config.spec = original
        self.tokenizer.save_pretrained(save_directory)
        self.processor.save_pretrained(save_directory)
        if self.task_adapters:  # also in stock peft's layout, for PeftModel.from_pretrained
            from embodied.models.peft.task_adapters import ADAPTERS_DIR, save_task_adapters

            save_task_adapters(self.backbone, Path(save_directory) / ADAPTERS_DIR)
        write_model_manifest(save_directory)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: Any, *args: Any, **kwargs: Any) -> MMLLM:  # type: ignore[override]
        """Load a saved model from a local directory (never remote code, never pickle).

        The directory is checked against its ``manifest.json`` first (``verify_model_dir``: a changed, missing
        or unlisted file is a ``ModelIntegrityError`` naming it; a model saved before manifests loads with a
        warning). ``verify_integrity=False`` skips the check for a caller that has just run it.
        """
        from embodied.models.integrity import verify_model_dir
        from embodied.models.persistence import load_saved_tokenizer

        if kwargs.get("trust_remote_code"):
            raise ValueError("embodied never runs remote code: trust_remote_code must stay False")
        if kwargs.pop("verify_integrity", True):
            verify_model_dir(pretrained_model_name_or_path)
        kwargs.setdefault("tokenizer", load_saved_tokenizer(pretrained_model_name_or_path))
        kwargs["use_safetensors"] = True
        model: MMLLM = super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        return model

    def _init_weights(self, module: nn.Module) -> None:
        """Components initialise their parameters when built and loading overwrites them; only fixed tables
        (non-persistent buffers, left empty when transformers builds on the meta device) are recomputed here,
        by components that define ``reset_buffers()``."""
        reset = getattr(module, "reset_buffers", None)
        if callable(reset):
            reset()


def _build_head(spec: dict[str, Any], ctx: BuildContext) -> Head:
    entry, settings = HEADS.resolve(spec)
    return entry.target.from_config(settings, ctx)


def _unclaimed(batch: Batch, claimed: list[int]) -> Batch:
    """The batch with labels that other heads claim (e.g. action tokens) set to -100 for the text head."""
    labels = batch["labels"].clone()
    labels[torch.isin(labels, torch.tensor(claimed, device=labels.device))] = -100
    return {**batch, "labels": labels}
