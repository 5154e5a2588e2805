"""The ``pointer`` head learns pick/place pixels on the real tabletop from images and instruction text.

PickPlace resets (front camera, 32×32) with the expert's pick and place points projected into the image; the
tiny preset (CoordConv CNN + 2-layer Qwen2 LM trained from scratch); the query reaches the head only through
the LLM reading the image tokens and the instruction (no hand-made colour id). Evaluated on held-out seeds.

Measured: places (one bowl per scene) reach ~90-98% within 2 px from 100 steps; picks (three objects, the
instruction names one by colour and shape; chance ≈ 33%) reach ~69% after 400 steps with the stride-1 CNN map,
still rising. The bounds below hold with margin at 600 steps; the issue's 90% pick goal is not reached here.
"""

from __future__ import annotations

import pytest
import torch

from embodied.bench.pointing_task import make_data, train

pytestmark = pytest.mark.slow


def test_pointer_learns_held_out_places_and_well_above_chance_picks() -> None:
    torch.set_num_threads(1)  # 2 threads spin against other processes on a shared 2-core machine
    train_data = make_data(range(10_000, 10_600))
    test_data = make_data(range(150))  # held-out seeds
    assert len(test_data.prompts) > 120  # ~9% of seeds put the pick out of the front camera's view
    result = train("pointer", train_data, test_data, steps=600, eval_every=200)
    steps, pick, place, _ = result.curve[-1]
    assert steps == 600
    assert place >= 0.8, result.curve
    assert pick >= 0.5, result.curve  # chance ≈ 1/3 (three objects)
