"""``MMLLMProcessor``: observations + prompts (+ targets) → a model batch. One code path for training and acting.

Images (HWC uint8) are resized with Pillow (bilinear) to ``image_size`` and normalised with the model's
mean/std; depth is resized with nearest neighbour; prompts go through the tokenizer's chat template with each
stream's placeholder repeated ``num_tokens`` times; targets (text or token ids) follow the prompt, end with EOS
and are the only positions with labels (everything else is -100). Rows are left-padded.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from embodied.config import ModelSpec

LOOK_TOKEN = "<|look|>"  # embodied.models.grounding's slot (kept here: the processor loads without the model)

IGNORE = -100
PROCESSOR_FILE = "processor_config.json"
Target = str | Sequence[int] | None
#: the sample kind of a batch's prompts: one for all, one per prompt, or None (unknown)
Kinds = str | Sequence[str | None] | None


@dataclass(frozen=True)
class StreamSlot:
    """What the processor needs of a stream: its placeholder token, token count and modality."""

    token: str
    num_tokens: int
    modality: str


class MMLLMProcessor:
    """Turns raw observations and text into the tensors ``MMLLM.forward`` / ``predict`` read."""

    def __init__(self, tokenizer: Any, spec: ModelSpec, streams: Mapping[str, StreamSlot]) -> None:
        self.tokenizer = tokenizer
        self.spec = spec
        self.streams = dict(streams)
        self.mean = np.asarray(spec.image_mean, dtype=np.float32).reshape(3, 1, 1)
        self.std = np.asarray(spec.image_std, dtype=np.float32).reshape(3, 1, 1)
        # prompt → token ids: the chat template and tokenizer are deterministic, and RL re-encodes the same
        # prompts every step (bounded, so a stream of distinct prompts cannot grow it without limit)
        self._prompt_ids: dict[tuple[str, bool], list[int]] = {}
        self._target_cache: dict[str, list[int]] = {}

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``processor_config.json`` (spec + stream slots) and the tokenizer."""
        path = Path(directory) / PROCESSOR_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "spec": self.spec.model_dump(mode="json"),
            "streams": {name: asdict(slot) for name, slot in self.streams.items()},
        }
        path.write_text(json.dumps(payload, indent=2), encoding="utf-8")
        self.tokenizer.save_pretrained(str(directory))
        return path

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> MMLLMProcessor:
        """Load the processor saved beside a model, without loading the model."""
        from transformers import AutoTokenizer

        path = Path(directory) / PROCESSOR_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: is {directory} a directory saved by MMLLM.save_pretrained?")
        payload = json.loads(path.read_text(encoding="utf-8"))
        streams = {name: StreamSlot(**slot) for name, slot in payload["streams"].items()}
        tokenizer = AutoTokenizer.from_pretrained(str(directory))
        return cls(tokenizer, ModelSpec.model_validate(payload["spec"]), streams)

    # ----------------------------------------------------------------------------------------- images
    def image(self, rgb: np.ndarray) -> torch.Tensor:
        """HWC uint8 → ``[3, S, S]`` float32, resized and normalised."""
        if rgb.ndim != 3 or rgb.shape[-1] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an HWC uint8 RGB image, got shape {rgb.shape} dtype {rgb.dtype}")
        size = self.spec.image_size
        if rgb.shape[:2] != (size, size):
            rgb = np.asarray(Image.fromarray(rgb).resize((size, size), Image.Resampling.BILINEAR))
        chw = rgb.transpose(2, 0, 1).astype(np.float32) / 255.0
        return torch.from_numpy((chw - self.mean) / self.std)

    def depth(self, depth: np.ndarray) -> torch.Tensor:
        """HW (or HW1) float metres → ``[1, S, S]`` float32 (nearest-neighbour resize keeps edges sharp)."""
        depth = np.asarray(depth, dtype=np.float32).squeeze()
        size = self.spec.image_size
        if depth.shape != (size, size):
            depth = np.asarray(Image.fromarray(depth, mode="F").resize((size, size), Image.Resampling.NEAREST))
        return torch.from_numpy(np.ascontiguousarray(depth))[None]

    def observations(self, observations: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Stack the modalities the model's streams read from a list of env observations."""
        out: dict[str, Any] = {}
        modalities = {slot.modality for slot in self.streams.values()}
        for cams_key, convert in (("images", self.image), ("depth", self.depth)):
            if cams_key in modalities:
                out[cams_key] = {
                    cam: torch.stack([convert(np.asarray(obs[cams_key][cam])) for obs in observations])
                    for cam in self.spec.cameras
                }
        if "state" in modalities:
            out["state"] = torch.as_tensor(np.stack([np.asarray(o["state"], np.float32) for o in observations]))
        return out

    # ----------------------------------------------------------------------------------------- text
    def looks(self, kind: str | None) -> bool:
        """Whether a prompt of sample ``kind`` ends with a grounding model's ``<|look|>`` slot: its kind is one of
        ``grounding.kinds``; a prompt of unknown kind (``None``) always does."""
        grounding = self.spec.grounding
        return grounding is not None and (kind is None or kind in grounding.kinds)

    def prompt_text(self, prompt: str, look: bool = False) -> str:
        """The chat-formatted prompt (generation prompt included) with expanded placeholders (and the look slot)."""
        slots = "".join(slot.token * slot.num_tokens for slot in self.streams.values())
        messages = [{"role": "user", "content": slots + prompt + (LOOK_TOKEN if look else "")}]
        text: str = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return text

    def prompt_ids(self, prompt: str, look: bool = False) -> list[int]:
        """Token ids of the chat-formatted ``prompt`` (cached per processor, up to 4096 distinct prompts)."""
        ids = self._prompt_ids.get((prompt, look))
        if ids is None:
            ids = list(self.tokenizer(self.prompt_text(prompt, look), add_special_tokens=False)["input_ids"])
            if len(self._prompt_ids) < 4096:
                self._prompt_ids[(prompt, look)] = ids
        return list(ids)

    def encode_text(
        self, prompts: Sequence[str], targets: Sequence[Target] | None = None, kinds: Kinds = None
    ) -> dict[str, Any]:
        """Tokenise prompts (+ targets) into left-padded ``input_ids``, ``attention_mask``, ``labels``; ``kinds``
        (one sample kind, one per prompt, or None) decides which prompts end with the look slot (``looks``)."""
        targets = list(targets) if targets is not None else [None] * len(prompts)
        if len(targets) != len(prompts):
            raise ValueError(f"got {len(prompts)} prompts but {len(targets)} targets")
        per_row = [kinds] * len(prompts) if kinds is None or isinstance(kinds, str) else list(kinds)
        if len(per_row) != len(prompts):
            raise ValueError(f"got {len(prompts)} prompts but {len(per_row)} kinds")
        rows, labels = [], []
        for prompt, target, kind in zip(prompts, targets, per_row, strict=True):
            ids = self.prompt_ids(prompt, self.looks(kind))
            tgt = self._target_ids(target)
            rows.append(ids + tgt)
            labels.append([IGNORE] * len(ids) + tgt)
        width = max(len(r) for r in rows)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        input_ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows])
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
        label_t = torch.tensor([[IGNORE] * (width - len(r)) + r for r in labels])
        out: dict[str, Any] = {"input_ids": input_ids, "attention_mask": mask}
        if any(t is not None for t in targets):
            out["labels"] = label_t
        return out

    def _target_ids(self, target: Target) -> list[int]:
        if target is None:
            return []
        if isinstance(target, str):
            ids = self._target_cache.get(target)
            if ids is None:  # answers and plans repeat across samples: tokenise each text once (bounded as prompts)
                ids = list(self.tokenizer(target, add_special_tokens=False)["input_ids"])
                if len(self._target_cache) < 4096:
                    self._target_cache[target] = ids
            ids = list(ids)
        else:
            ids = [int(i) for i in target]
        eos = self.tokenizer.eos_token_id
        return ids + ([eos] if eos is not None else [])

    # ----------------------------------------------------------------------------------------- both
    def __call__(
        self,
        observations: Sequence[Mapping[str, Any]],
        prompts: Sequence[str],
        targets: Sequence[Target] | None = None,
        actions: np.ndarray | torch.Tensor | None = None,
        kinds: Kinds = None,
    ) -> dict[str, Any]:
        """A full batch: modalities, tokens, labels and (normalised) action chunks ``[B, H, A]``; ``kinds``: the
        sample kind of every prompt (or one for all), which decides a grounding model's look slots."""
        if len(observations) != len(prompts):
            raise ValueError(f"got {len(observations)} observations but {len(prompts)} prompts")
        batch = {**self.observations(observations), **self.encode_text(prompts, targets, kinds)}
        if actions is not None:
            batch["actions"] = torch.as_tensor(np.asarray(actions, dtype=np.float32))
        return batch

    def _action_bounds(self) -> tuple[list[float] | None, list[float] | None]:
        """``action_low/high``; for ``discrete_actions: n`` the bounds ``-0.5, n - 0.5``, which map index ``k`` to the
        centre of bin ``k`` of ``n`` uniform bins over [-1, 1] (an ``action-tokens`` head with ``bins: n`` then
        decodes indices exactly, one bin per index)."""
        n = self.spec.discrete_actions
        if n is not None:
            return [-0.5], [n - 0.5]
        return self.spec.action_low, self.spec.action_high

    def normalize_actions(self, actions: np.ndarray) -> np.ndarray:
        """Env actions → [-1, 1] with the model's stored bounds (identity when none are stored)."""
        lo, hi = self._action_bounds()
        if lo is None or hi is None:
            return np.asarray(actions, dtype=np.float32)
        low, high = np.asarray(lo, np.float32), np.asarray(hi, np.float32)
        return np.clip(2.0 * (np.asarray(actions, np.float32) - low) / (high - low) - 1.0, -1.0, 1.0)

    def unnormalize_actions(self, actions: np.ndarray) -> np.ndarray:
        """[-1, 1] → env units with the model's stored bounds; indices ``0 .. n-1`` (rounded) for a discrete model."""
        lo, hi = self._action_bounds()
        if lo is None or hi is None:
            return np.asarray(actions, dtype=np.float32)
        low, high = np.asarray(lo, np.float32), np.asarray(hi, np.float32)
        env = (np.asarray(actions, np.float32) + 1.0) / 2.0 * (high - low) + low
        n = self.spec.discrete_actions
        return env if n is None else np.clip(np.rint(env), 0, n - 1).astype(np.float32)

    def env_actions(self, actions: np.ndarray) -> np.ndarray:
        """Decoded actions ``[N, A]`` in [-1, 1] → what a vector env steps with: env units ``[N, A]`` float32, or
        for ``discrete_actions`` the int64 indices ``[N]`` a ``Discrete`` space takes."""
        env = np.asarray(self.unnormalize_actions(actions), dtype=np.float32)
        return env if self.spec.discrete_actions is None else env[..., 0].astype(np.int64)
