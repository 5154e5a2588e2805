"""Benchmark ``pointer``: pointing head vs binned action tokens for pick/place pixels on the tabletop.

Same data (PickPlace resets, front camera, 32×32, expert pick/place projected to pixels; see
``embodied.bench.pointing_task``), same tiny model (CoordConv CNN + 2-layer Qwen2 LM), same steps, batch and
learning rate; only the head differs. The pointing head scores every image location (Transporter Networks,
Zeng et al. 2020; CLIPort, Shridhar et al. 2021); the baseline decodes (u, v) of pick and place as four
tokens with 32 bins (one bin per pixel). Reports training steps/s and held-out accuracy within 2 px.
Nothing runs at import time.
"""

from __future__ import annotations

from typing import Any

HEADS = ("pointer", "action-tokens")


def run(quick: bool = False) -> dict[str, Any]:
    """Train both heads on the same data and budget; return steps/s, held-out accuracy and learning curves."""
    from embodied.bench.pointing_task import make_data, train

    n_train, n_test, steps = (400, 100, 150) if quick else (5000, 300, 1000)
    train_data = make_data(range(10_000, 10_000 + n_train))
    test_data = make_data(range(n_test))  # held-out seeds
    out: dict[str, Any] = {"train_samples": len(train_data.prompts), "test_samples": len(test_data.prompts)}
    out["steps"], out["radius_px"] = steps, 2.0
    for head in HEADS:
        result = train(head, train_data, test_data, steps=steps, eval_every=max(steps // 4, 1))
        out[head] = {
            "steps_per_second": round(result.steps_per_second, 2),
            "pick_within_2px": result.pick,
            "place_within_2px": result.place,
            "curve": [{"step": s, "pick": p, "place": q, "seconds": t} for s, p, q, t in result.curve],
        }
    out["pick_accuracy_ratio"] = out["pointer"]["pick_within_2px"] / max(out["action-tokens"]["pick_within_2px"], 1e-9)
    return out
