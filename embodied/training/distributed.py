"""Training as several processes (``accelerate launch --num_processes N``): who writes, when to wait, shared metrics.

Each process trains on its own shard of the data order (``DataOrder(num_shards=N, shard=rank)``), DDP averages the
gradients, and only the main process writes files: the resolved config, metrics, checkpoints, saved models and
lineage. With one process (plain ``embodied train``) every helper here is a no-op.

Accelerate sets up several CPU processes (gloo) only when told to use the CPU; ``accelerate launch --cpu`` itself
starts a single process (it needs ``mpirun`` for more). So: ``accelerate launch --multi_gpu --num_processes 2``
(or ``torchrun --nproc_per_node 2``) starts the processes, and ``use_cpu()`` selects the CPU when
``ACCELERATE_USE_CPU`` is set or the machine has no CUDA device.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch
from accelerate import PartialState
from accelerate.utils import gather_object, parse_flag_from_env

__all__ = ["is_main_process", "mean_over_processes", "process_state", "use_cpu", "wait_for_everyone"]


def use_cpu() -> bool:
    """Train on the CPU as several processes: asked for (``ACCELERATE_USE_CPU``) or launched without CUDA."""
    launched = int(os.environ.get("WORLD_SIZE", "1")) > 1
    return parse_flag_from_env("ACCELERATE_USE_CPU") or (launched and not torch.cuda.is_available())


def process_state() -> PartialState:
    """Accelerate's process state (set up on first use, then shared with every ``Accelerator``)."""
    return PartialState(cpu=use_cpu())


def is_main_process() -> bool:
    """True on the process that writes files (always, when there is one process)."""
    return bool(process_state().is_main_process)


def wait_for_everyone() -> None:
    """Barrier: no process goes on before all got here (e.g. until the main process has saved a model)."""
    process_state().wait_for_everyone()


def mean_over_processes(values: Mapping[str, float]) -> dict[str, float]:
    """Per key, the mean over the processes that report it (a head without targets in one shard reports nothing).

    A collective call: every process must make it, at the same point. Keys keep this process's order, then any
    that only other processes report.
    """
    state = process_state()
    if state.num_processes == 1:
        return dict(values)
    gathered: list[dict[str, float]] = gather_object([dict(values)])
    keys = list(values) + sorted({k for g in gathered for k in g} - set(values))
    return {key: sum(g[key] for g in gathered if key in g) / sum(key in g for g in gathered) for key in keys}
