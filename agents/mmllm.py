"""``MMLLMAgent``: an ``MMLLM`` head behind the ``Agent`` contract, batched over the sub-envs of a vector env.

Per head kind (the registered ``kind`` of the head in the model's spec):

- ``action-tokens``: ``generate_ids`` (prompt encoded once, KV cache, vocabulary constrained to the bin tokens)
  → ``head.decode`` → chunks ``[N, H, A]`` in [-1, 1] → ``processor.unnormalize_actions`` (env units);
- ``continuous`` / ``diffusion``: one parallel ``model.predict`` per query (learned query tokens);
- ``pointer``: pick/place pixels → ``primitive`` actions through ``embodied.agents.pointing`` with the cameras'
  parameters from ``info["camera_params"]`` (sent at reset and on autoreset; kept per sub-env);
- ``text``: ``prompt="vqa"`` answers ``obs["question"]``, ``prompt="plan"`` states a plan; returns a tuple of
  ``N`` strings (the VQA env's text action).

Action chunks (H actions per query) are executed from a per-env queue: a sub-env is queried only when its queue
is empty (so a rollout of T steps makes ``ceil(T / H)`` queries per env), only the rows that need it are
batched, and ``episode_done(i)`` drops env ``i``'s queue — as does a sub-env whose ``info`` shows it
(auto)reset (tabletop envs send ``camera_params`` only from ``reset``), so chunks never cross an episode
boundary; pass each step's ``info`` to ``act``. ``chunk_queue=False`` queries every step and executes the first
action of each chunk (receding horizon). ``temporal_ensemble=k`` queries every step and averages the
overlapping predictions for the current step (ACT; see ``embodied.agents.ensemble``). Prompts are the training
prompts (``embodied.data.samples``). Sampling (``do_sample=True`` at ``temperature``: softmax of logits / T
for the token and pointer heads, Laplace scale × T for the continuous head) draws from one ``torch.Generator``
seeded with ``seed`` (re-seeded by ``reset``), so the same seed gives the same actions. A discrete model
(``discrete_actions``) steps its env with int64 indices ``[N]``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from embodied.agents.base import Agent, batch_size
from embodied.agents.batching import PROMPTS, model_batch, started_episodes
from embodied.agents.ensemble import TemporalEnsemble
from embodied.agents.pointing import (
    PICK_HEIGHT,
    PLACE_HEIGHT,
    CameraParams,
    camera_name,
    per_env_camera_params,
    pixels_to_primitive,
)

__all__ = ["ACTION_KINDS", "MMLLMAgent", "head_kind"]

#: head kinds that act in an env, in the order ``load_agent`` prefers them
ACTION_KINDS = ("pointer", "action-tokens", "continuous", "diffusion")
TEXT_KINDS = ("text",)

#: head kind → the sampling keywords its ``predict`` (or ``generate_ids``) takes: (sample, generator, temperature)
_SAMPLING: dict[str, Callable[[bool, torch.Generator, float], dict[str, Any]]] = {
    "action-tokens": lambda sample, gen, t: {"do_sample": sample, "generator": gen, "temperature": t},
    "text": lambda sample, gen, t: {"do_sample": sample, "generator": gen, "temperature": t},
    "continuous": lambda sample, gen, t: {"sample": sample, "generator": gen, "temperature": t},
    "pointer": lambda sample, gen, t: {"sample": sample, "generator": gen, "temperature": t},
    "diffusion": lambda sample, gen, t: {"generator": gen},  # always samples; the generator makes it reproducible
}


def head_kind(model: Any, head: str) -> str:
    """The registered kind of ``model``'s head ``head`` (``"action-tokens"``, ``"pointer"``, ...)."""
    heads = model.config.model_spec.heads
    if head not in heads:
        raise KeyError(f"model has no head {head!r}; its heads are {sorted(heads)}")
    return str(heads[head]["kind"])


class MMLLMAgent(Agent):
    """Acts (or answers) with one head of an ``MMLLM``; see the module docstring for the decoding per kind."""

    name = "mmllm"

    def __init__(
        self,
        model: Any,
        head: str,
        *,
        chunk_queue: bool = True,
        temporal_ensemble: float | None = None,
        prompt: str = "action",
        do_sample: bool = False,
        temperature: float = 1.0,
        seed: int = 0,
        pick_height: float = PICK_HEIGHT,
        place_height: float = PLACE_HEIGHT,
    ) -> None:
        super().__init__()
        self.kind = head_kind(model, head)
        _check_prompt(self.kind, prompt)
        self.model = model.eval()
        self.head_name = head
        self.head = model.head_map[head]
        self.processor = model.processor
        self.chunk_queue, self.temporal_ensemble = chunk_queue, temporal_ensemble
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0 (softmax of logits / temperature), got {temperature}")
        self.prompt, self.do_sample, self.seed, self.temperature = prompt, do_sample, seed, temperature
        self.heights = (pick_height, place_height)
        self.device = next(model.parameters()).device
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        #: model calls made and sub-env rows they covered (a row per queried env)
        self.queries, self.queried_rows = 0, 0
        self._queues: list[deque[np.ndarray]] = []
        self._ensembles: list[TemporalEnsemble] = []
        self._camera_params: dict[int, CameraParams] = {}
        self._resize(1)

    @property
    def chunk_length(self) -> int:
        """H, actions per query (1 for the pointer head: one primitive)."""
        return max(self.head.chunk_length, 1)

    # ------------------------------------------------------------------------------------------ lifecycle
    def reset(self, num_envs: int = 1, seeds: Sequence[int | None] | None = None) -> None:
        super().reset(num_envs, seeds)
        self._queues, self._ensembles = [], []
        self._resize(num_envs)
        self.generator.manual_seed(self.seed)

    def episode_done(self, index: int) -> None:
        if index < len(self._queues):
            self._queues[index].clear()
            self._ensembles[index].clear()

    def queue_length(self, index: int) -> int:
        """Actions left in sub-env ``index``'s queue."""
        return len(self._queues[index])

    def _resize(self, n: int) -> None:
        k = 0.0 if self.temporal_ensemble is None else self.temporal_ensemble
        while len(self._queues) < n:
            self._queues.append(deque())
            self._ensembles.append(TemporalEnsemble(k))

    # ------------------------------------------------------------------------------------------ acting
    @torch.no_grad()
    def _act(self, obs: dict[str, Any], info: dict[str, Any]) -> Any:
        n = batch_size(obs)
        self._resize(n)
        for i in started_episodes(info, n):  # a sub-env that (auto)reset starts over: stale chunks go
            self.episode_done(i)
        self._camera_params.update(per_env_camera_params(info, n))
        if self.kind in TEXT_KINDS:
            return tuple(self._predict(obs, list(range(n))))
        if self.temporal_ensemble is not None:
            chunks = self.predict_chunks(obs, list(range(n)))
            for i in range(n):
                self._ensembles[i].add(chunks[i])
            return np.stack([self._ensembles[i].step() for i in range(n)])
        rows = [i for i in range(n) if not self._queues[i]] if self.chunk_queue else list(range(n))
        if rows:
            chunks = self.predict_chunks(obs, rows)
            for j, i in enumerate(rows):
                self._queues[i] = deque(chunks[j] if self.chunk_queue else chunks[j][:1])
        actions = np.stack([self._queues[i].popleft() for i in range(n)]).astype(np.float32)
        # a discrete model (spec.discrete_actions) steps a Discrete space with int64 indices [N], exactly
        return actions[:, 0].astype(np.int64) if self.processor.spec.discrete_actions else actions

    def predict_chunks(self, obs: dict[str, Any], rows: Sequence[int]) -> np.ndarray:
        """Action chunks ``[len(rows), H, A]`` in env units for sub-envs ``rows`` (one batched model call)."""
        out = self._predict(obs, rows)
        if self.kind == "pointer":
            return self._primitives(out, rows)[:, None]  # [B, 1, 7]: one primitive per query
        actions = out.float().cpu().numpy()  # [B, H, A] in [-1, 1]
        return np.asarray(self.processor.unnormalize_actions(actions), dtype=np.float32)

    def _predict(self, obs: dict[str, Any], rows: Sequence[int]) -> Any:
        batch = model_batch(self.model, self.processor, obs, rows, self.prompt)
        self.queries += 1
        self.queried_rows += len(rows)
        kwargs = _SAMPLING.get(self.kind, lambda s, g, t: {})(self.do_sample, self.generator, self.temperature)
        return self.model.predict(batch, self.head_name, **kwargs)

    def _primitives(self, out: Any, rows: Sequence[int]) -> np.ndarray:
        missing = [i for i in rows if i not in self._camera_params]
        if missing:
            raise ValueError(
                f"the pointer head needs the cameras' parameters of sub-envs {missing}: pass the info of the "
                "env's reset (info['camera_params']) to act()"
            )
        cameras = [[camera_name(out.cameras[int(c)]) for c in row] for row in out.camera.cpu().tolist()]
        params = [self._camera_params[i] for i in rows]
        pick, place = self.heights
        return pixels_to_primitive(out.pixels.cpu().numpy(), cameras, params, pick, place)


def _check_prompt(kind: str, prompt: str) -> None:
    if prompt not in PROMPTS:
        raise ValueError(f"unknown prompt {prompt!r}; expected one of {sorted(PROMPTS)}")
    if kind in TEXT_KINDS and prompt == "action":
        raise ValueError("a text head answers or plans: use prompt='vqa' or prompt='plan'")
    if kind not in TEXT_KINDS and prompt != "action":
        raise ValueError(f"the {kind} head outputs actions: use prompt='action' (got {prompt!r})")
