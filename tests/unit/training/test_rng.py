"""RNG capture/restore: draws after restore equal draws after capture, for every generator, also via JSON."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from embodied.training.rng import RngState, capture_rng, restore_rng


def _draws(data_order: torch.Generator | None = None) -> dict[str, object]:
    """One draw from each generator, including the Gaussian caches of Python and numpy."""
    draws: dict[str, object] = {
        "python": [random.random(), random.gauss(0.0, 1.0), random.randint(0, 10**9)],
        "numpy": np.random.standard_normal(5).tolist() + np.random.randint(0, 10**9, size=3).tolist(),
        "torch": torch.randn(7).tolist() + torch.randint(0, 10**9, (3,)).tolist(),
    }
    if data_order is not None:
        draws["data"] = torch.randperm(50, generator=data_order).tolist()
    return draws


def test_draws_after_restore_equal_draws_after_capture() -> None:
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    # Leave a cached Gaussian in Python and numpy: their states must carry it.
    random.gauss(0.0, 1.0)
    np.random.standard_normal()
    data_order = torch.Generator().manual_seed(4)
    state = capture_rng({"data": data_order})
    expected = _draws(data_order)
    _draws(data_order)  # move every generator on
    restore_rng(state, {"data": data_order})
    assert _draws(data_order) == expected


def test_json_and_tensor_parts_round_trip_exactly() -> None:
    random.seed(5)
    np.random.seed(6)
    torch.manual_seed(7)
    np.random.standard_normal()  # has_gauss = 1 with a cached float that JSON must keep bit-exact
    state = capture_rng()
    expected = _draws()
    meta = json.loads(json.dumps(state.to_json()))
    rebuilt = RngState.from_parts(meta, {k: v.clone() for k, v in state.tensors().items()})
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    restore_rng(rebuilt)
    assert _draws() == expected
    assert rebuilt.numpy["has_gauss"] == 1 and rebuilt.torch_cpu.dtype == torch.uint8


def test_from_parts_rejects_layout_mismatch_and_unknown_generator() -> None:
    state = capture_rng({"data": torch.Generator().manual_seed(0)})
    tensors = state.tensors()
    del tensors["generator.data"]
    with pytest.raises(ValueError, match="layout"):
        RngState.from_parts(state.to_json(), tensors)
    with pytest.raises(KeyError, match="not captured"):
        restore_rng(state, {"other": torch.Generator()})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_generators_round_trip() -> None:
    torch.cuda.manual_seed_all(8)
    state = capture_rng()
    assert len(state.torch_cuda) == torch.cuda.device_count()
    expected = torch.randn(5, device="cuda").cpu()
    torch.randn(5, device="cuda")
    restore_rng(state)
    assert torch.equal(torch.randn(5, device="cuda").cpu(), expected)


def test_cuda_state_for_missing_devices_warns(caplog: pytest.LogCaptureFixture) -> None:
    state = capture_rng()
    available = torch.cuda.device_count() if torch.cuda.is_available() else 0
    saved = torch.cuda.get_rng_state_all() if available else []
    state.torch_cuda = [*saved, torch.zeros(16, dtype=torch.uint8)]  # one device more than this machine has
    with caplog.at_level("WARNING", logger="embodied"):
        restore_rng(state)
    assert f"for {available + 1} device(s), this machine has {available}" in caplog.text
