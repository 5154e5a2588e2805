"""Frozen-encoder feature caching: a frozen, deterministic encoder encodes each distinct input once per stage.

A stage whose policy freezes the encoders (``align``: ``encoders: frozen``) otherwise re-encodes the same frames
every epoch, and every caption of an episode shows the same frame 0. ``FeatureCache`` wraps the encoders'
``forward`` and ``dense_features`` (the two things a ``ModalityStream`` reads from its encoder: tokens
``[B, N, D]`` and, for pointing heads, maps ``[B, D, h, w]``), so both paths hit the cache. The encoders' one-pass
``encode`` (tokens and map together) is routed through those two while the encoder is cacheable.

- **Key**: a blake2b digest of each input row's bytes, with its shape, dtype and the encoder's ``training`` flag.
  Content keys need no sample ids in the batch, find the same frame reached through different samples, and can
  never serve a stale feature: changed pixels (augmentation) are a new key.
- **Misses are encoded one row at a time**: a row's features then never depend on which other rows happened to
  miss alongside it, so a resumed run (empty cache, different miss groups) continues bit-identically.
- **When**: only for an encoder with no trainable parameter whose output is a pure function of each row: in eval
  mode, or in train mode without dropout (``p > 0``, also the functional ``dropout`` floats of transformers'
  attention), batch norm (train mode normalises over the batch) or drop-path. Anything else is passed through.
  Inputs that require grad are passed through too (the cached features hold no graph).
- **Memory**: features live on the encoder's device; past ``max_bytes`` new rows are computed but not stored.
- **Lifetime**: one ``with`` block (the stage runner wraps ``trainer.train()``); the cache is dropped on exit.
  Frozen weights do not change inside it; load weights (``resume``) before entering.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

__all__ = ["CACHED_METHODS", "CacheStats", "FeatureCache", "frozen_feature_cache", "is_cacheable"]

logger = logging.getLogger("embodied")

#: the encoder methods a modality stream calls (see ``embodied.models.streams``)
CACHED_METHODS = ("forward", "dense_features")
DEFAULT_MAX_BYTES = 1 << 30
# float attributes through which modules apply dropout functionally in train mode (HF attention, timm drop-path)
_DROPOUT_ATTRIBUTES = ("dropout", "attention_dropout", "dropout_p", "drop_prob", "drop_path_rate", "attn_drop")

Method = Callable[[torch.Tensor], Any]
Key = tuple[str, str, bool, tuple[int, ...], str, bytes]


@dataclass
class CacheStats:
    """Rows served from the cache (``hits``), encoded (``misses``), and the bytes of stored features."""

    hits: int = 0
    misses: int = 0
    stored_bytes: int = 0


def _stochastic(module: nn.Module) -> bool:
    """Whether ``module`` itself (not its children) draws random numbers or mixes rows in its current mode."""
    if not module.training:
        return False
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return True
    if isinstance(module, nn.modules.dropout._DropoutNd):
        return module.p > 0
    for name in _DROPOUT_ATTRIBUTES:
        value = getattr(module, name, None)
        if isinstance(value, float) and value > 0:
            return True
    return False


def is_cacheable(encoder: nn.Module) -> bool:
    """No trainable parameter and each row's output is a fixed function of that row (see the module docstring)."""
    if any(p.requires_grad for p in encoder.parameters()):
        return False
    return not any(_stochastic(module) for module in encoder.modules())


def _row_digests(inputs: torch.Tensor) -> list[bytes]:
    """blake2b digest of every row ``inputs[i]`` (copied to CPU once per batch)."""
    rows = inputs.detach().to("cpu").contiguous()
    return [hashlib.blake2b(row.numpy().tobytes(), digest_size=16).digest() for row in rows]


class FeatureCache:
    """Context manager caching the features of ``encoders`` (by name) while entered; ``stats`` counts rows.

    ``with FeatureCache({"image": model.stream_map["image"].encoder}): trainer.train()``. Entering patches the
    encoders' ``forward`` / ``dense_features`` on the instances; leaving restores them and keeps ``stats``.
    Whether an encoder is cacheable is checked on every call, so unfreezing it mid-way only turns caching off.
    """

    def __init__(self, encoders: Mapping[str, nn.Module], max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.encoders = dict(encoders)
        self.max_bytes = max_bytes
        self.stats = CacheStats()
        self._store: dict[Key, torch.Tensor | None] = {}
        self._full_warned = False

    def __enter__(self) -> FeatureCache:
        for name, encoder in self.encoders.items():
            for method in CACHED_METHODS:
                if method in vars(encoder):
                    raise RuntimeError(f"encoder {name!r} already has a patched {method}: caches cannot nest")
                original = getattr(encoder, method, None)
                if original is None:  # a plain module without the Encoder contract's dense_features
                    continue
                object.__setattr__(encoder, method, self._cached(name, method, encoder, original))
            encode = getattr(encoder, "encode", None)
            if callable(encode):
                object.__setattr__(encoder, "encode", _through_cached(encoder, encode))
        return self

    def __exit__(self, *exc: object) -> None:
        for encoder in self.encoders.values():
            for method in (*CACHED_METHODS, "encode"):
                vars(encoder).pop(method, None)
        self._store.clear()

    def _cached(self, name: str, method: str, encoder: nn.Module, original: Method) -> Method:
        def call(inputs: torch.Tensor) -> Any:
            if inputs.requires_grad or not is_cacheable(encoder):
                return original(inputs)
            meta = (name, method, encoder.training, tuple(inputs.shape[1:]), str(inputs.dtype))
            keys: list[Key] = [(*meta, digest) for digest in _row_digests(inputs)]
            for row, key in enumerate(keys):
                if key in self._store:
                    self.stats.hits += 1
                    continue
                self.stats.misses += 1
                self._keep(key, original(inputs[row : row + 1]))
                if key not in self._store:  # cache full: encode this batch directly
                    return original(inputs)
            features = [self._store[key] for key in keys]
            if any(f is None for f in features):  # the family has no such output (dense_features → None)
                return None
            return torch.stack(features)  # type: ignore[arg-type]

        return call

    def _keep(self, key: Key, output: Any) -> None:
        """Store the first row of ``output`` (``[1, ...]`` features, or ``None``) unless the cache is full."""
        row = None if output is None else output.detach()[0]
        size = 0 if row is None else row.numel() * row.element_size()
        if self.stats.stored_bytes + size > self.max_bytes:
            if not self._full_warned:
                logger.warning("feature cache full (%d bytes): further inputs are encoded every time", self.max_bytes)
                self._full_warned = True
            return
        self._store[key] = row
        self.stats.stored_bytes += size


def _through_cached(encoder: nn.Module, original: Callable[..., Any]) -> Callable[..., Any]:
    """``Encoder.encode(inputs, dense)`` as the patched ``forward`` and ``dense_features`` (each cached) while the
    encoder is cacheable; its own one-pass ``encode`` otherwise (a trainable encoder keeps the shared pass)."""

    def encode(inputs: torch.Tensor, dense: bool) -> tuple[Any, Any]:
        if inputs.requires_grad or not is_cacheable(encoder):
            return original(inputs, dense)  # type: ignore[no-any-return]
        return encoder(inputs), (encoder.dense_features(inputs) if dense else None)  # type: ignore[operator]

    return encode


@contextmanager
def frozen_feature_cache(model: Any, enabled: bool = True) -> Iterator[FeatureCache]:
    """Cache the features of every cacheable encoder of ``model`` (an ``MMLLM``: ``stream_map[name].encoder``).

    Encoders that train, or are not deterministic, are left alone; with ``enabled=False`` none is cached. The
    hit/miss counts are logged on exit.
    """
    streams = model.stream_map if enabled else {}
    encoders = {name: stream.encoder for name, stream in streams.items() if is_cacheable(stream.encoder)}
    cache = FeatureCache(encoders)
    if encoders:
        logger.info("feature cache on for frozen encoder(s) %s", sorted(encoders))
    with cache:
        yield cache
    if encoders:
        stats = cache.stats
        logger.info(
            "feature cache: %d row(s) served from the cache, %d encoded (%.1f MB stored)",
            stats.hits,
            stats.misses,
            stats.stored_bytes / 1e6,
        )
