"""The trainer's parts on their own: warm-up + cosine schedule, per-epoch data order, metrics file, SIGTERM flag."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
import torch

from embodied.training.data_order import DataOrder
from embodied.training.metrics import MetricsWriter, read_metrics
from embodied.training.schedule import build_scheduler, warmup_cosine
from embodied.training.signals import EXIT_CODE_SIGTERM, TerminationFlag


def test_warmup_cosine_factors() -> None:
    factor = warmup_cosine(4, 14)
    assert [factor(s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert factor(9) == pytest.approx(0.5) and factor(14) == pytest.approx(0.0) and factor(20) == pytest.approx(0.0)
    decay = [factor(s) for s in range(4, 15)]
    assert decay == sorted(decay, reverse=True)
    assert warmup_cosine(0, 10)(0) == 1.0
    with pytest.raises(ValueError):
        warmup_cosine(1, 0)


def test_constant_schedule_keeps_the_rate_after_the_warm_up() -> None:
    factor = warmup_cosine(2, 10, "constant")
    assert [factor(s) for s in range(12)] == [0.5] + [1.0] * 11
    with pytest.raises(ValueError, match="schedule"):
        warmup_cosine(2, 10, "linear")


def test_scheduler_state_is_plain_json() -> None:
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=0.1)
    scheduler = build_scheduler(optimizer, 2, 10)
    optimizer.step()
    scheduler.step()
    state = scheduler.state_dict()
    assert json.loads(json.dumps(state)) == state and state["last_epoch"] == 1
    assert scheduler.get_last_lr() == [pytest.approx(0.1)]


def test_data_order_is_a_fresh_permutation_per_epoch_and_seekable() -> None:
    samples = list(range(10))
    order = DataOrder(samples, seed=3, collate=lambda items: {"items": items}, batch_size=4)
    epochs = [[i for _ in range(3) for i in order.next_batch()["items"]] for _ in range(2)]
    assert [sorted(e) for e in epochs] == [samples, samples] and epochs[0] != epochs[1]
    assert (order.epoch, order.index) == (2, 0)
    again = DataOrder(samples, seed=3, collate=lambda items: {"items": items}, batch_size=4)
    again.seek(1, 2)
    assert again.next_batch()["items"] == epochs[1][8:]  # the short last batch: no sample dropped
    with pytest.raises(ValueError):
        again.seek(0, 3)
    with pytest.raises(ValueError):
        DataOrder(samples, seed=0, batch_size=2)


def test_metrics_writer_nulls_nonfinite_and_truncates_after_resume_point(tmp_path: Path) -> None:
    writer = MetricsWriter(tmp_path)
    for step in range(1, 6):
        writer.write({"step": step, "stage": "s", "loss": float("nan") if step == 2 else float(step)})
    writer.truncate_after(3)
    writer.write({"step": 4, "stage": "s", "loss": 4.5})
    writer.close()
    assert [(r["step"], r["loss"]) for r in read_metrics(tmp_path)] == [(1, 1.0), (2, None), (3, 3.0), (4, 4.5)]


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_termination_flag_catches_sigterm_only_while_inside() -> None:
    previous = signal.getsignal(signal.SIGTERM)
    with TerminationFlag() as flag:
        assert not flag.requested
        os.kill(os.getpid(), signal.SIGTERM)
        assert flag.requested
    assert signal.getsignal(signal.SIGTERM) == previous
    assert EXIT_CODE_SIGTERM == 143
