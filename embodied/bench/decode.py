"""Benchmark ``decode``: ``MMLLMAgent`` decision throughput and latency vs naive per-step ``generate``, and how
close KV-cached decoding and prefill come to the machine's memory-bandwidth and FLOP bounds. All in one run.

**Throughput and latency** (``rows``; the quickstart model, headline row ``TARGET_ROW``). One model, the SAME
weights for every row: the quickstart sizes (``configs/model/quickstart.yaml``: CoordConv CNN + proprio → MLP
projectors → 4-layer Qwen2-style LM, hidden 128) with the ``top`` camera at 64×64 and the tabletop robot state
(15), carrying three heads on one backbone, encoder and projectors: ``action`` (``action-tokens``, 256 bins),
``chunk`` (``continuous``, learned queries) and ``diffusion`` (DDIM, ``DIFFUSION_STEPS`` steps), each with chunk
H = 8 and action_dim A = 7. Random init, fp32, greedy; observations are real ``PickPlace`` resets; decision time
only (no env step), one sub-env.

- ``naive-generate`` (the baseline of every ratio): every call re-runs the processor, re-encodes image and prompt
  (``model.embed``) and calls Hugging Face ``generate`` on the backbone's causal LM (``inputs_embeds``, the action
  head's ``LogitsProcessor``) for A = 7 action tokens: one action per call. Its first action equals the
  ``action-tokens+queue`` agent's (``first_action_match``).
- ``action-tokens+queue``: ``MMLLMAgent(chunk_queue=True)`` on the ``action`` head: one query (prompt encoded
  once, KV cache, H × A = 56 constrained tokens decoded one by one in ``generate_ids``) fills a queue of 8 actions.
- ``continuous+queue``: the same agent on the ``chunk`` head: the 8-action chunk comes from ONE forward pass
  (prompt + 8 learned query tokens, decoded in parallel) and is served from the queue.
- ``diffusion+queue``: the ``diffusion`` head: one forward pass for the condition, then ``DIFFUSION_STEPS`` DDIM
  steps of the small denoiser; served from the queue.

Agents and the baseline are timed in interleaved rounds (each agent starts every round with an empty queue), so
a load change on a shared machine hits every row alike. ``actions_per_second`` = calls / total seconds;
``latency_*`` is per ``act`` call; ``decoding_call_s`` is the median latency of the calls that query the model
(1 in 8 for the agents, every call for the baseline). Every call returns one action, so the mean latency is
1 / actions-per-second and ``latency_ratio`` (mean latency, the issue's measure) equals
``actions_per_second_ratio``; ``decoding_call_latency_ratio`` is the worst case: the one call in 8 that queries
the model against a baseline call. In the full run ``large_rows`` repeats the rows on the bound model below,
where the LM, not per-op overhead, dominates.

**Bounds** (``decode_*``, ``prefill_*``; the bound model). The quickstart LM (0.9 M parameters, 3.7 MB) sits in
cache and is limited by per-op overhead, so its roofline fraction means nothing. The bound model keeps the same
encoder/projector/heads layout around a Qwen2-style LM big enough to stream from DRAM (``LARGE_BACKBONE``:
hidden 1024, 8 layers, GQA 16/4 heads, vocab 32 000, untied LM head, ≈ 156 M parameters, ≈ 0.49 GB of fp32
weights read per token; built from config, random init). Probed in the same run, on the same thread count:

- memory bandwidth = max(read: ``sum`` of a 256 MB fp32 tensor, copy: read + write bytes of a 256 MB copy);
- ``decode_step_s``: (``generate_ids`` of the action head for 1 + ``DECODE_STEPS`` tokens − for 1 token) /
  ``DECODE_STEPS``, batch 1, KV cache (each step: one token through every layer, the full LM head, the
  vocabulary constraint, argmax). Short windows, best of several: on a shared machine a short window is more
  likely to run undisturbed, and disturbance only adds time;
- ``decode_bound_s`` = max(bytes / bandwidth, FLOPs / matmul FLOP/s); bytes per token = every backbone weight but
  the input embedding table (one row of it is read; the LM head counted once) + the KV cache at the mean context;
- ``prefill_s``: the backbone over the action prompt (image + state tokens + text, ≈ 57 tokens);
  ``prefill_bound_s`` = max(FLOPs / matmul FLOP/s, weight bytes / bandwidth), FLOPs = 2 · decoder parameters ·
  T + 4 · layers · T² · hidden (attention), matmul FLOP/s from a 2048² fp32 matmul;
- ``*_bound_fraction`` = bound / measured (1.0 = at the roofline). Times are the best of a few repetitions, as
  the probes are (``*_median_s`` beside them). ``gemv_bandwidth_gb_s`` (a [32768, 1024] fp32 matrix times a
  vector, the decode step's kernel) and ``decode_gemv_fraction`` are diagnostics: how much of the gap to the
  bandwidth bound is the BLAS matrix-vector kernel itself.

``quick=True`` keeps every key but measures fewer calls and uses the quickstart model as the bound model
(``bound_model`` says so; its fractions are not meaningful). ``targets`` compares ``actions_per_second_ratio``
and ``latency_ratio`` (both from ``TARGET_ROW`` on the quickstart model) and ``decode_bound_fraction`` with the
issue's targets. Everything runs on ``threads`` torch threads (default 1: on a shared machine one thread is
what can be measured reproducibly; the probes use the same count). Nothing runs at import time.
"""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from embodied.bench.presets import quickstart_spec

ENV_ID = "embodied.envs:embodied/PickPlace-v0"
CHUNK = 8
ACTION_DIM = 7
DIFFUSION_STEPS = 10
#: decode steps per timed window of ``generate_ids`` (``decode_timing``)
DECODE_STEPS = 16
#: the baseline row and agent rows (row name → head name); every ratio is a row over ``NAIVE``
NAIVE = "naive-generate"
MODES = {"action-tokens+queue": "action", "continuous+queue": "chunk", "diffusion+queue": "diffusion"}
#: the row whose ratios are compared with the targets
TARGET_ROW = "continuous+queue"
#: the issue's targets: actions/s ratio and mean-latency ratio vs the baseline, fraction of the decode bound
TARGETS = {"actions_per_second_ratio": 12.0, "latency_ratio": 3.0, "decode_bound_fraction": 0.6}
HEADS: dict[str, Any] = {
    "action": {"kind": "action-tokens", "bins": 256, "chunk": CHUNK},
    "chunk": {"kind": "continuous", "chunk": CHUNK},
    "diffusion": {"kind": "diffusion", "chunk": CHUNK, "num_inference_steps": DIFFUSION_STEPS, "sampler": "ddim"},
}


def model_spec() -> dict[str, Any]:
    """The quickstart preset (``configs/model/quickstart.yaml``) with a 64×64 top camera, the tabletop state, the
    three action heads and no PEFT wrapping (every row times the same plain weights)."""
    spec = quickstart_spec()
    spec.pop("trainable", None)
    return {**spec, "image_size": 64, "cameras": ["top"], "state_dim": 15, "action_dim": ACTION_DIM, "heads": HEADS}


#: the bound model's LM (replaces the quickstart backbone config): weights far larger than any cache
LARGE_BACKBONE: dict[str, Any] = {
    "model_type": "qwen2",
    "hidden_size": 1024,
    "intermediate_size": 2816,
    "num_hidden_layers": 8,
    "num_attention_heads": 16,
    "num_key_value_heads": 4,
    "max_position_embeddings": 1024,
    "vocab_size": 32_000,
    "tie_word_embeddings": False,
}
QUICKSTART = "quickstart (4-layer Qwen2-style LM, hidden 128, vocab 512; CNN + proprio → MLP; 3 action heads)"
LARGE = "large (8-layer Qwen2-style LM, hidden 1024, GQA 16/4, vocab 32000 untied; CNN + proprio → MLP; 3 heads)"


# ------------------------------------------------------------------------------------------------- models, inputs
def build_model(seed: int = 0, large: bool = False) -> Any:
    """The quickstart model (``model_spec()``) or, with ``large``, the bound model (``LARGE_BACKBONE``), freshly
    initialised with ``seed``, in eval mode.

    The large model's tokenizer is the usual 512-token byte-level BPE, handed in so that the config's 32 000-row
    vocabulary stays (the rows past the tokenizer are never produced: they only make the LM head realistic).
    """
    from embodied.models import MMLLM, MMLLMConfig
    from embodied.models.tokenizer import train_bpe_tokenizer

    torch.manual_seed(seed)
    spec = model_spec()
    if not large:
        return MMLLM(MMLLMConfig(spec=spec)).eval()
    tokenizer = train_bpe_tokenizer(spec["backbone"]["tokenizer"]["vocab_size"])
    config = {
        **LARGE_BACKBONE,
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    spec["backbone"] = {"kind": "hf-causal-lm", "config": config}
    return MMLLM(MMLLMConfig(spec=spec), tokenizer=tokenizer).eval()


def observations() -> dict[str, Any]:
    """A batched (N = 1) observation from a real ``PickPlace`` reset (top camera, 64×64)."""
    import gymnasium as gym

    env = gym.make(ENV_ID, control="primitive", image_size=64, cameras=("top",))
    try:
        obs, _ = env.reset(seed=0)
    finally:
        env.close()
    return {
        "images": {"top": obs["images"]["top"][None]},
        "state": obs["state"][None],
        "instruction": (obs["instruction"],),
    }


def action_batch(model: Any, obs: dict[str, Any]) -> dict[str, Any]:
    """The processed action-prompt batch of ``obs``'s first sub-env (what the agent and the baseline encode)."""
    from embodied.data.samples import action_prompt

    single = {"images": {"top": obs["images"]["top"][0]}, "state": obs["state"][0]}
    return dict(model.processor([single], [action_prompt(obs["instruction"][0])]))


def naive_action(model: Any, obs: dict[str, Any]) -> np.ndarray:
    """One action ``[1, A]`` from scratch: processor → ``model.embed`` → HF ``generate`` of A constrained tokens."""
    from transformers import LogitsProcessorList

    head = model.head_map["action"]
    embeds, mask, _ = model.embed(action_batch(model, obs))
    ids = model.backbone.model.generate(
        inputs_embeds=embeds,
        attention_mask=mask,
        max_new_tokens=head.action_dim,
        do_sample=False,
        logits_processor=LogitsProcessorList([head.logits_processor()]),
        pad_token_id=model.tokenizer.pad_token_id,
    )
    bins = head.bins_of(ids[:, -head.action_dim :])
    return np.asarray(model.processor.unnormalize_actions(head.bin_centres(bins).numpy()), dtype=np.float32)


def first_action_match(model: Any, obs: dict[str, Any]) -> bool:
    """Whether the ``action-tokens+queue`` agent's first action equals the baseline's (same weights, greedy)."""
    from embodied.agents.mmllm import MMLLMAgent

    agent = MMLLMAgent(model, "action", chunk_queue=True)
    agent.reset(1)
    return bool(np.allclose(agent.act(obs)[0], naive_action(model, obs)[0]))


# ------------------------------------------------------------------------------------------------- timing
def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def time_calls(act: Callable[[], Any], steps: int) -> list[float]:
    """Wall-clock seconds of ``steps`` calls of ``act()``."""
    return [_timed(act) for _ in range(steps)]


def time_rows(model: Any, obs: dict[str, Any], rounds: int, chunks: int, naive_calls: int) -> dict[str, list[float]]:
    """Per-call seconds of every row: ``rounds`` rounds of (each agent: ``chunks`` chunks of ``CHUNK`` calls from
    an empty queue; the baseline: ``naive_calls`` calls), after one warm-up call of each."""
    from embodied.agents.mmllm import MMLLMAgent

    agents = {row: MMLLMAgent(model, head, chunk_queue=True) for row, head in MODES.items()}
    calls: dict[str, list[float]] = {NAIVE: [], **{row: [] for row in agents}}
    with torch.no_grad():
        naive_action(model, obs)  # warm-up (first-call allocations)
        for agent in agents.values():
            agent.reset(1)
            agent.act(obs)
        for _ in range(rounds):
            for row, agent in agents.items():
                agent.reset(1)  # every round starts with an empty queue: 1 query in CHUNK calls
                calls[row] += time_calls(functools.partial(agent.act, obs), CHUNK * chunks)
            calls[NAIVE] += time_calls(lambda: naive_action(model, obs), naive_calls)
    return calls


def row_stats(calls: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """actions/s, latency (mean, median, of the querying calls) and, for the agents, ratios over the baseline."""
    raw: dict[str, dict[str, float]] = {}
    for row, seconds in calls.items():
        per_query = 1 if row == NAIVE else CHUNK
        raw[row] = {
            "actions_per_query": per_query,
            "actions_per_second": len(seconds) / sum(seconds),
            "latency_mean_s": statistics.fmean(seconds),
            "latency_median_s": statistics.median(seconds),
            "decoding_call_s": statistics.median(seconds[::per_query]),
            "calls": len(seconds),
        }
    naive = raw[NAIVE]
    out = {
        row: {k: round(v, 2 if k == "actions_per_second" else 6) for k, v in stats.items()}
        for row, stats in raw.items()
    }
    for row in MODES:
        stats = raw[row]
        out[row]["actions_per_second_ratio"] = round(stats["actions_per_second"] / naive["actions_per_second"], 2)
        out[row]["latency_ratio"] = round(naive["latency_mean_s"] / stats["latency_mean_s"], 2)
        out[row]["decoding_call_latency_ratio"] = round(naive["decoding_call_s"] / stats["decoding_call_s"], 2)
    return out


def decode_timing(model: Any, batch: dict[str, Any], reps: int, steps: int = DECODE_STEPS) -> dict[str, float]:
    """Best and median seconds of ``model.embed``, prefill (backbone over the prompt) and one decode step
    (``generate_ids`` of the action head for 1 + ``steps`` tokens minus for 1 token, per extra token)."""
    from embodied.models.generation import generate_ids

    head = model.head_map["action"]
    embed, prefill, full, first = [], [], [], []
    with torch.no_grad():
        generate_ids(model, batch, head, max_new_tokens=2)  # warm-up
        embeds, mask, positions = model.embed(batch)
        inputs = {"inputs_embeds": embeds, "attention_mask": mask, "position_ids": positions, "use_cache": True}
        for _ in range(reps):
            embed.append(_timed(lambda: model.embed(batch)))
            prefill.append(_timed(lambda: model.backbone(**inputs)))
            first.append(_timed(lambda: generate_ids(model, batch, head, max_new_tokens=1)))
            full.append(_timed(lambda: generate_ids(model, batch, head, max_new_tokens=1 + steps)))
    return {
        "embed_s": min(embed),
        "prefill_s": min(prefill),
        "prefill_median_s": statistics.median(prefill),
        "decode_step_s": (min(full) - min(first)) / steps,
        "decode_step_median_s": (statistics.median(full) - statistics.median(first)) / steps,
        "decode_steps": float(steps),
        "prompt_tokens": float(batch["input_ids"].shape[1]),
    }


# ------------------------------------------------------------------------------------------------- machine probes
def _best(fn: Callable[[], Any], reps: int) -> float:
    fn()  # touch the pages / warm the kernel once
    return min(_timed(fn) for _ in range(reps))


def read_bandwidth(quick: bool) -> float:
    """Bytes/s of summing a large fp32 tensor (read only), best of a few."""
    x = torch.rand((32 if quick else 256) * 2**20 // 4)
    return x.numel() * 4 / _best(lambda: x.sum(), 3 if quick else 10)


def copy_bandwidth(quick: bool) -> float:
    """Bytes/s of a large fp32 tensor copy (read + write bytes), best of a few."""
    n = (32 if quick else 256) * 2**20 // 4
    src, dst = torch.rand(n), torch.empty(n)
    return 2 * n * 4 / _best(lambda: dst.copy_(src), 3 if quick else 10)


def gemv_bandwidth(quick: bool) -> float:
    """Bytes/s of an fp32 matrix-vector product (``F.linear`` of one row, as a decode step runs), best of a few."""
    weight, x = torch.rand(4096 if quick else 32768, 1024), torch.rand(1, 1024)
    return weight.numel() * 4 / _best(lambda: torch.nn.functional.linear(x, weight), 3 if quick else 10)


def matmul_flops(quick: bool) -> float:
    """FLOP/s of an fp32 square matmul, best of a few."""
    n = 512 if quick else 2048
    a, b = torch.rand(n, n), torch.rand(n, n)
    return 2 * n**3 / _best(lambda: a @ b, 3 if quick else 5)


# ------------------------------------------------------------------------------------------------- model arithmetic
def _lm_parts(model: Any) -> tuple[Any, torch.Tensor, torch.Tensor]:
    lm = model.backbone.model
    return lm, lm.get_input_embeddings().weight, lm.get_output_embeddings().weight


def weight_bytes_per_token(model: Any) -> int:
    """Bytes of weights one decode step reads: every backbone parameter except the input embedding table (one
    row of it is read), the LM head counted once even when tied to the embeddings."""
    lm, table, head = _lm_parts(model)
    params = {id(p): p for p in lm.parameters()}
    params.pop(id(table), None)
    params[id(head)] = head
    return int(sum(p.numel() * p.element_size() for p in params.values()))


def decoder_params(model: Any) -> int:
    """Parameters of the decoder stack: the backbone without its input embeddings and LM head."""
    lm, table, head = _lm_parts(model)
    return int(sum(p.numel() for p in lm.parameters() if p is not table and p is not head))


def kv_bytes(model: Any, context: int) -> int:
    """Bytes of the KV cache one decode step reads at ``context`` tokens (fp32)."""
    cfg = model.backbone.model.config
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    return int(2 * cfg.num_hidden_layers * cfg.num_key_value_heads * head_dim * context * 4)


def prefill_flops(model: Any, tokens: int) -> float:
    """FLOPs of the backbone over a ``tokens``-long prompt: 2 · decoder parameters · T + attention 4 · L · T² · D."""
    cfg = model.backbone.model.config
    return float(2 * decoder_params(model) * tokens + 4 * cfg.num_hidden_layers * tokens**2 * cfg.hidden_size)


def decode_flops(model: Any, context: int) -> float:
    """FLOPs of one decode step: 2 · (decoder + LM head parameters) + attention 4 · L · context · D."""
    cfg = model.backbone.model.config
    _, _, head = _lm_parts(model)
    params = decoder_params(model) + head.numel()
    return float(2 * params + 4 * cfg.num_hidden_layers * context * cfg.hidden_size)


# ------------------------------------------------------------------------------------------------- bounds
def bounds(model: Any, batch: dict[str, Any], quick: bool) -> dict[str, Any]:
    """Decode-step and prefill times of ``model`` at batch 1 against the bounds probed now (module docstring)."""
    timing = decode_timing(model, batch, reps=2 if quick else 6)
    read, copied = read_bandwidth(quick), copy_bandwidth(quick)
    bandwidth, gemv, flops = max(read, copied), gemv_bandwidth(quick), matmul_flops(quick)
    tokens = int(timing["prompt_tokens"])
    context = tokens + int(timing["decode_steps"]) // 2  # mean context over the decode steps
    weights = weight_bytes_per_token(model)
    step_bytes = weights + kv_bytes(model, context)
    decode_bound = max(step_bytes / bandwidth, decode_flops(model, context) / flops)
    prefill_bytes = weights - model.backbone.model.get_output_embeddings().weight.numel() * 4
    prefill_bound = max(prefill_flops(model, tokens) / flops, prefill_bytes / bandwidth)
    return {
        "decode_bound_fraction": round(decode_bound / timing["decode_step_s"], 3),
        "decode_step_s": round(timing["decode_step_s"], 6),
        "decode_step_median_s": round(timing["decode_step_median_s"], 6),
        "decode_bound_s": round(decode_bound, 6),
        "decode_bytes_per_token": step_bytes,
        "decode_kv_bytes": step_bytes - weights,
        "decode_flops_per_token": decode_flops(model, context),
        "memory_bandwidth_gb_s": round(bandwidth / 1e9, 2),
        "read_bandwidth_gb_s": round(read / 1e9, 2),
        "copy_bandwidth_gb_s": round(copied / 1e9, 2),
        "gemv_bandwidth_gb_s": round(gemv / 1e9, 2),
        "decode_gemv_fraction": round(step_bytes / gemv / timing["decode_step_s"], 3),
        "prefill_bound_fraction": round(prefill_bound / timing["prefill_s"], 3),
        "prefill_s": round(timing["prefill_s"], 6),
        "prefill_median_s": round(timing["prefill_median_s"], 6),
        "prefill_bound_s": round(prefill_bound, 6),
        "prefill_tokens": tokens,
        "prefill_flops": prefill_flops(model, tokens),
        "matmul_gflop_s": round(flops / 1e9, 2),
        "embed_s": round(timing["embed_s"], 6),
    }


def model_summary(model: Any) -> dict[str, Any]:
    """Parameter counts of ``model`` and its LM, and the LM's fp32 weight bytes."""
    lm = model.backbone.model
    return {
        "params": int(sum(p.numel() for p in model.parameters())),
        "lm_params": int(sum(p.numel() for p in lm.parameters())),
        "lm_weight_bytes": int(sum(p.numel() * p.element_size() for p in lm.parameters())),
    }


def targets(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target key's value (from ``out``), the target, whether it is met and which row or model it is read from."""
    ratio_source = f"{out['target_row']} vs {out['baseline_row']}, {out['model']}"
    sources = {"decode_bound_fraction": f"KV-cached decode step, batch 1, {out['bound_model']}"}
    return {
        key: {
            "value": out[key],
            "target": target,
            "pass": bool(out[key] >= target),
            "source": sources.get(key, ratio_source),
        }
        for key, target in TARGETS.items()
    }


# ------------------------------------------------------------------------------------------------- run
def run(quick: bool = False, threads: int = 1) -> dict[str, Any]:
    """Measure rows, bounds and targets (module docstring) on ``threads`` threads (probes on the same count);
    the caller's thread count is restored."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return {"threads": threads, **_measure(quick)}
    finally:
        torch.set_num_threads(previous)


def _measure(quick: bool) -> dict[str, Any]:
    obs, model = observations(), build_model()
    rows = row_stats(time_rows(model, obs, rounds=1 if quick else 6, chunks=2 if quick else 4, naive_calls=4))
    target, naive = rows[TARGET_ROW], rows[NAIVE]
    out: dict[str, Any] = {
        "quick": quick,
        "chunk": CHUNK,
        "action_dim": ACTION_DIM,
        "model": QUICKSTART,
        **{f"model_{k}": v for k, v in model_summary(model).items()},
        "target_row": TARGET_ROW,
        "baseline_row": NAIVE,
        "actions_per_second_ratio": target["actions_per_second_ratio"],
        "agent_actions_per_second": target["actions_per_second"],
        "naive_actions_per_second": naive["actions_per_second"],
        "latency_ratio": target["latency_ratio"],
        "agent_latency_mean_s": target["latency_mean_s"],
        "naive_latency_mean_s": naive["latency_mean_s"],
        "decoding_call_latency_ratio": target["decoding_call_latency_ratio"],
        "agent_decoding_call_s": target["decoding_call_s"],
        "naive_decoding_call_s": naive["decoding_call_s"],
        "first_action_match": first_action_match(model, obs),
        "rows": rows,
    }
    if not quick:
        model = build_model(large=True)
        out["large_rows"] = row_stats(time_rows(model, obs, rounds=2, chunks=1, naive_calls=2))
    out["bound_model"] = QUICKSTART + " (quick: fits in cache, fractions not meaningful)" if quick else LARGE
    out.update({f"bound_model_{k}": v for k, v in model_summary(model).items()})
    with torch.no_grad():
        out.update(bounds(model, action_batch(model, obs), quick))
    out["targets"] = targets(out)
    return out
