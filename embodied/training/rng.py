"""Capture and restore every random number generator a training run draws from, for bit-identical resume.

Covered: Python's ``random``, numpy's global ``RandomState`` (``np.random.*``), torch's CPU generator, every CUDA
device's generator when CUDA is available, and any named ``torch.Generator`` the caller owns (e.g. the one that
shuffles the data order). ``RngState`` splits into a JSON part (Python and numpy) and a tensor part (torch byte
states) so checkpoints store it as ``rng.json`` + ``rng.safetensors`` without pickle.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

logger = logging.getLogger("embodied")

_CPU = "torch.cpu"
_CUDA = "torch.cuda."
_GENERATOR = "generator."


@dataclass(eq=False)
class RngState:
    """A snapshot of all generators; ``to_json`` / ``tensors`` / ``from_parts`` convert it for storage."""

    python: dict[str, Any]
    numpy: dict[str, Any]
    torch_cpu: torch.Tensor
    torch_cuda: list[torch.Tensor] = field(default_factory=list)
    generators: dict[str, torch.Tensor] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The JSON part: Python and numpy states plus the layout of the tensor part."""
        return {
            "python": self.python,
            "numpy": self.numpy,
            "cuda_devices": len(self.torch_cuda),
            "generators": sorted(self.generators),
        }

    def tensors(self) -> dict[str, torch.Tensor]:
        """The tensor part: torch byte states (uint8) by name."""
        out = {_CPU: self.torch_cpu}
        out.update({f"{_CUDA}{index}": state for index, state in enumerate(self.torch_cuda)})
        out.update({f"{_GENERATOR}{name}": state for name, state in self.generators.items()})
        return out

    @classmethod
    def from_parts(cls, meta: Mapping[str, Any], tensors: Mapping[str, torch.Tensor]) -> RngState:
        """Rebuild from ``to_json()`` and ``tensors()`` output; raises ``ValueError`` naming what is missing."""
        expected = {_CPU, *(f"{_CUDA}{i}" for i in range(int(meta["cuda_devices"])))}
        expected |= {f"{_GENERATOR}{name}" for name in meta["generators"]}
        if set(tensors) != expected:
            raise ValueError(f"rng tensors {sorted(tensors)} do not match the layout {sorted(expected)}")
        if any(t.dtype != torch.uint8 or t.dim() != 1 for t in tensors.values()):
            raise ValueError("rng tensors must be 1-d uint8 byte states")
        _check_python_state(meta["python"])
        _check_numpy_state(meta["numpy"])
        return cls(
            python=dict(meta["python"]),
            numpy=dict(meta["numpy"]),
            torch_cpu=tensors[_CPU],
            torch_cuda=[tensors[f"{_CUDA}{i}"] for i in range(int(meta["cuda_devices"]))],
            generators={name: tensors[f"{_GENERATOR}{name}"] for name in meta["generators"]},
        )


def _check_python_state(state: Mapping[str, Any]) -> None:
    if not (isinstance(state["version"], int) and isinstance(state["internal"], list)):
        raise ValueError("python random state needs an int 'version' and a list 'internal'")
    if not all(isinstance(v, int) for v in state["internal"]):
        raise ValueError("python random state 'internal' must hold ints")


def _check_numpy_state(state: Mapping[str, Any]) -> None:
    if state["bit_generator"] != "MT19937" or len(state["key"]) != 624:
        raise ValueError("numpy state must be an MT19937 state with a 624-word key")


def capture_rng(generators: Mapping[str, torch.Generator] | None = None) -> RngState:
    """Snapshot Python, numpy, torch CPU/CUDA generators and the caller's named ``generators``."""
    version, internal, gauss_next = random.getstate()
    name, key, pos, has_gauss, cached_gaussian = np.random.get_state(legacy=True)
    return RngState(
        python={"version": version, "internal": list(internal), "gauss_next": gauss_next},
        numpy={
            "bit_generator": str(name),
            "key": [int(word) for word in key],
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        torch_cpu=torch.get_rng_state(),
        torch_cuda=[s.cpu() for s in torch.cuda.get_rng_state_all()] if torch.cuda.is_available() else [],
        generators={name: generator.get_state() for name, generator in (generators or {}).items()},
    )


def restore_rng(state: RngState, generators: Mapping[str, torch.Generator] | None = None) -> None:
    """Put every generator back to ``state``; named ``generators`` must all have been captured."""
    python = state.python
    random.setstate((python["version"], tuple(python["internal"]), python["gauss_next"]))
    numpy = state.numpy
    key = np.asarray(numpy["key"], dtype=np.uint32)
    np.random.set_state((numpy["bit_generator"], key, numpy["pos"], numpy["has_gauss"], numpy["cached_gaussian"]))
    torch.set_rng_state(state.torch_cpu)
    _restore_cuda(state.torch_cuda)
    for name, generator in (generators or {}).items():
        if name not in state.generators:
            raise KeyError(f"generator {name!r} was not captured; captured: {sorted(state.generators)}")
        generator.set_state(state.generators[name])


def _restore_cuda(states: list[torch.Tensor]) -> None:
    """Restore per-device CUDA states; a different device count cannot resume bit-identically, so say so."""
    if not states:
        return
    available = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if available != len(states):
        logger.warning(
            "checkpoint has CUDA RNG states for %d device(s), this machine has %d: restoring the first %d, "
            "so GPU random draws will not continue bit-identically",
            len(states),
            available,
            min(available, len(states)),
        )
    for index in range(min(available, len(states))):
        torch.cuda.set_rng_state(states[index], device=index)
