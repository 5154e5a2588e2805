"""Synthetic evaluation results (no envs, no model) shared by the schema and report tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from embodied.eval.manifest import build_manifest
from embodied.eval.media import write_gif
from embodied.eval.results import EvalResults, PlanRecord, agent_result, plan_result, vqa_result
from embodied.eval.vqa_scores import VQARecord


def vqa_records() -> list[VQARecord]:
    rows = [("existence", "yes", "yes"), ("existence", "no", "yes"), ("count", "2", "2"), ("colour", "red", "blue")]
    return [
        VQARecord(qtype=t, question=f"question {i}?", answer=a, prediction=p, correct=a == p, seed=i)
        for i, (t, a, p) in enumerate(rows)
    ]


def make_results(out: Path, model_dir: Path | None = None, videos: int = 1) -> EvalResults:
    """Scripted 4/4, random 0/4, with ``videos`` GIFs per agent written under ``out``."""
    agents = []
    for name, success in (("scripted", True), ("random", False)):
        paths = []
        for i in range(videos):
            frames = [np.full((8, 8, 3), 40 * t, np.uint8) for t in range(3)]
            paths.append(str(write_gif(frames, out / "videos" / f"{name}-{i:03d}.gif").relative_to(out)))
        agents.append(
            agent_result(
                name,
                "embodied/PickPlace-v0",
                "train",
                seeds=[0, 1, 2, 3],
                successes=[success] * 4,
                lengths=[1 if success else 3] * 4,
                decision_seconds=[0.001, 0.002, 0.003],
                num_envs=2,
                videos=paths,
            )
        )
    plans = [
        PlanRecord(
            seed=0, plan="1. pick(red cube)\n2. place(blue bowl)", valid=True, reason="ok", success=True, replans=0
        ),
        PlanRecord(seed=1, plan="fly(away)", valid=False, reason="unknown verb 'fly'", success=False, replans=2),
    ]
    manifest = build_manifest(
        seeds={"rollouts": (0, 4)},
        episode_counts={"rollouts": 4},
        env_kwargs={"control": "primitive", "cameras": ("front",)},
        renderer="tiny",
        device="cpu",
        model_dir=model_dir,
        command=["embodied", "eval"],
    )
    return EvalResults(
        checkpoint=str(model_dir or "none"),
        env_id="embodied/PickPlace-v0",
        split="train",
        agents=agents,
        vqa=vqa_result("mmllm", "embodied/TabletopVQA-v0", "train", vqa_records(), [0.01] * 4),
        plans=plan_result("planner", "embodied/PickPlace-v0", "train", plans),
        manifest=manifest,
    )
