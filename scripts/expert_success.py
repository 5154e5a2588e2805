"""Measure scripted-expert success per task × control mode and print a markdown table.

    python scripts/expert_success.py                      # 100 seeds per cell, all tasks, both modes
    python scripts/expert_success.py --seeds 20 --tasks embodied/Stack-v0 --json out.json

Episodes run without rendering (``cameras=()``), seeds ``0 .. N-1``. Besides success the table reports the
mean episode length and whether the executed steps (read from physical events) form a valid plan. The JSON
holds the same numbers plus the failed seeds.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import gymnasium as gym

import embodied.envs
from embodied.envs.tabletop.env import TabletopEnv


def run_cell(env_id: str, control: str, seeds: int, attribute_split: str = "train") -> dict[str, Any]:
    env = gym.make(env_id, control=control, cameras=(), attribute_split=attribute_split)
    raw = env.unwrapped
    assert isinstance(raw, TabletopEnv)
    successes, valid_plans, lengths, failed = 0, 0, [], []
    start = time.perf_counter()
    for seed in range(seeds):
        env.reset(seed=seed)
        terminated = truncated = False
        steps = 0
        while not (terminated or truncated):
            _, _, terminated, truncated, _ = env.step(raw.expert_action())
            steps += 1
        successes += int(terminated)
        valid_plans += int(raw.check_plan(raw.executed_steps).valid)
        lengths.append(steps)
        if not terminated:
            failed.append(seed)
    env.close()
    return {
        "env_id": env_id,
        "control": control,
        "attribute_split": attribute_split,
        "seeds": seeds,
        "success": successes / seeds,
        "valid_plan": valid_plans / seeds,
        "mean_length": sum(lengths) / seeds,
        "max_length": max(lengths),
        "step_limit": raw.max_steps,
        "seconds": time.perf_counter() - start,
        "failed_seeds": failed,
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| env id | control | success | executed plan valid | mean steps | max steps (limit) | seeds |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['env_id']} | {r['control']} | {100 * r['success']:.0f}% | {100 * r['valid_plan']:.0f}% "
            f"| {r['mean_length']:.1f} | {r['max_length']} ({r['step_limit']}) | {r['seeds']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=100, help="episodes per task × mode (seeds 0..N-1)")
    parser.add_argument("--tasks", nargs="*", default=list(embodied.envs.TASK_SPECS), help="env ids")
    parser.add_argument("--controls", nargs="*", default=["primitive", "ee_delta"], help="control modes")
    parser.add_argument("--attribute-split", default="train", choices=["train", "heldout"], help="object split")
    parser.add_argument("--json", type=Path, default=Path("expert_success.json"), help="where to write JSON")
    args = parser.parse_args()
    rows = []
    for env_id in args.tasks:
        for control in args.controls:
            rows.append(run_cell(env_id, control, args.seeds, args.attribute_split))
            print(f"{env_id} {control}: {100 * rows[-1]['success']:.0f}% ({rows[-1]['seconds']:.0f} s)", flush=True)
    print(markdown(rows))
    args.json.write_text(json.dumps({"rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
