"""The report's figures (matplotlib, object API on the Agg canvas: no pyplot state, no display needed).

- ``success``: success rate per agent with asymmetric Wilson 95% error bars and ``k/n`` labels;
- ``vqa``: accuracy per question type (with Wilson bars) next to the chance and majority baselines;
- ``latency``: mean / p50 / p90 decision latency per agent (log axis when they span two orders of magnitude);
- ``curves``: loss per step of each training stage of the run the model came from;
- ``summary``: success and (when evaluated) VQA side by side — ``summary.png``, the figure the README shows.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from embodied.eval.results import AgentResult, EvalResults, VQAResult
from embodied.eval.run_dir import Curves

__all__ = ["curves_figure", "latency_figure", "png_bytes", "success_figure", "summary_figure", "vqa_figure"]

COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")


def png_bytes(fig: Figure, dpi: int = 110) -> bytes:
    """The figure rendered to PNG."""
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def _draw_success(ax: Axes, agents: Sequence[AgentResult], title: str) -> None:
    x = np.arange(len(agents))
    rates = np.array([a.success_rate for a in agents])
    errors = np.array([[a.success_rate - a.ci95[0] for a in agents], [a.ci95[1] - a.success_rate for a in agents]])
    colours = [COLOURS[i % len(COLOURS)] for i in range(len(agents))]
    ax.bar(x, rates, color=colours, yerr=errors.clip(min=0.0), capsize=6, width=0.6)
    for i, a in enumerate(agents):
        ax.text(i, min(a.ci95[1] + 0.03, 1.05), f"{a.successes}/{a.episodes}", ha="center", va="bottom", fontsize=9)
    ax.set_xticks(x, [a.agent for a in agents])
    ax.set_ylim(0.0, 1.15)
    ax.set_yticks(np.linspace(0.0, 1.0, 6))
    ax.set_ylabel("success rate (Wilson 95% CI)")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)


def _draw_vqa(ax: Axes, vqa: VQAResult) -> None:
    types = list(vqa.per_type)
    x = np.arange(len(types))
    scores = [vqa.per_type[t] for t in types]
    acc = np.array([s.accuracy for s in scores])
    errors = np.array([[s.accuracy - s.ci95[0] for s in scores], [s.ci95[1] - s.accuracy for s in scores]])
    width = 0.27
    ax.bar(x - width, acc, width, yerr=errors.clip(min=0.0), capsize=4, color=COLOURS[0], label=vqa.agent)
    ax.bar(x, [s.majority for s in scores], width, color=COLOURS[7], label="majority answer")
    ax.bar(x + width, [s.chance for s in scores], width, color="#cccccc", hatch="//", label="chance")
    ax.set_xticks(x, [f"{t}\n(n={s.n})" for t, s in zip(types, scores, strict=True)], fontsize=8)
    ax.set_ylim(0.0, 1.3)
    ax.set_yticks(np.linspace(0.0, 1.0, 6))
    ax.set_ylabel("accuracy")
    ax.set_title(f"VQA accuracy per question type (overall {vqa.accuracy:.2f}, n={vqa.episodes})", fontsize=10)
    ax.legend(fontsize=8, loc="upper center", ncol=3, frameon=False)
    ax.grid(axis="y", alpha=0.3)


def _title(results: EvalResults) -> str:
    return f"{results.env_id} — {results.split} split"


def success_figure(results: EvalResults) -> Figure:
    fig = Figure(figsize=(max(4.0, 1.3 * len(results.agents) + 2), 3.6))
    _draw_success(fig.add_subplot(), results.agents, _title(results))
    return fig


def vqa_figure(vqa: VQAResult) -> Figure:
    fig = Figure(figsize=(max(5.0, 1.2 * len(vqa.per_type) + 2), 3.6))
    _draw_vqa(fig.add_subplot(), vqa)
    return fig


def latency_figure(results: EvalResults) -> Figure:
    agents = results.agents
    fig = Figure(figsize=(max(4.0, 1.3 * len(agents) + 2), 3.4))
    ax = fig.add_subplot()
    x, width = np.arange(len(agents)), 0.27
    stats = {"mean": [a.latency.mean_ms for a in agents], "p50": [a.latency.p50_ms for a in agents]}
    stats["p90"] = [a.latency.p90_ms for a in agents]
    for j, (label, values) in enumerate(stats.items()):
        ax.bar(x + (j - 1) * width, values, width, label=label, color=COLOURS[j])
    positive = [v for values in stats.values() for v in values if v > 0]
    if positive and max(positive) / min(positive) > 100:
        ax.set_yscale("log")
    ax.set_xticks(x, [f"{a.agent}\n({a.num_envs} envs/call)" for a in agents], fontsize=8)
    ax.set_ylabel("decision latency per act call (ms)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return fig


def curves_figure(curves: Curves) -> Figure:
    stages = list(curves)
    fig = Figure(figsize=(3.6 * max(len(stages), 1), 3.2))
    for k, stage in enumerate(stages):
        ax = fig.add_subplot(1, len(stages), k + 1)
        for j, (split, points) in enumerate(sorted(curves[stage].items())):
            steps, losses = zip(*points, strict=True)
            ax.plot(steps, losses, marker="o" if len(points) < 30 else None, ms=3, label=split, color=COLOURS[j])
        ax.set_title(f"stage {stage}", fontsize=10)
        ax.set_xlabel("step")
        ax.set_ylabel("loss" if k == 0 else "")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def summary_figure(results: EvalResults) -> Figure:
    panels = 2 if results.vqa is not None and results.vqa.per_type else 1
    fig = Figure(figsize=(5.5 * panels, 3.8))
    _draw_success(fig.add_subplot(1, panels, 1), results.agents, _title(results))
    if panels == 2 and results.vqa is not None:
        _draw_vqa(fig.add_subplot(1, panels, 2), results.vqa)
    fig.tight_layout()
    return fig
