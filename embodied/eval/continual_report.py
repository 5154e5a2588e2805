"""``report.html`` of a continual-learning comparison: one self-contained page (inline CSS, figures as base64 PNG).

Sections: a comparison of the methods (FWT, NBT, AUC with bootstrap 95% intervals — LIBERO, Liu et al. 2023 — and
the language retention, as a table and a bar chart); then per method the success matrix as a heat map annotated
with rates and k/n, each task's success curve while it was trained (Wilson 95% bands), the per-task scores, the
language probe after each task, and the manifest. Figures use matplotlib's object API on the Agg canvas, as
``embodied.eval.figures`` does; nothing refers to an external URL.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from embodied.eval.continual_metrics import ContinualMetrics, Estimate
from embodied.eval.continual_results import ContinualResults, ContinualRun
from embodied.eval.figures import COLOURS, png_bytes
from embodied.eval.media import data_uri
from embodied.eval.report import BASE_CSS

__all__ = [
    "CONTINUAL_REPORT_FILE",
    "comparison_figure",
    "curves_figure",
    "matrix_figure",
    "render_continual_report",
    "write_continual_report",
]

CONTINUAL_REPORT_FILE = "report.html"
_CSS = (
    BASE_CSS
    + """
img { max-width: 100%; }
.note { color: #666; font-size: 0.85em; }
"""
)


def _e(value: object) -> str:
    return html.escape(str(value))


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr>"
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table>{head}{body}</table>"


def _img(fig: Figure, alt: str) -> str:
    return f'<img src="{data_uri(png_bytes(fig), "image/png")}" alt="{_e(alt)}">'


def _est(est: Estimate | None) -> str:
    return "—" if est is None else f"{est.value:.3f} [{est.ci95[0]:.3f}, {est.ci95[1]:.3f}]"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def matrix_figure(metrics: ContinualMetrics, title: str) -> Figure:
    """The success matrix as a heat map, each cell annotated with its rate and k/n (grey: not evaluated)."""
    k = len(metrics.tasks)
    rates = np.array([[np.nan if c.rate is None else c.rate for c in row] for row in metrics.matrix])
    fig = Figure(figsize=(1.3 * k + 2.6, 1.1 * k + 1.8))
    ax = fig.add_subplot()
    cmap = colormaps["viridis"].with_extremes(bad="#dddddd")
    image = ax.imshow(np.ma.masked_invalid(rates), cmap=cmap, vmin=0.0, vmax=1.0)
    for i, row in enumerate(metrics.matrix):
        for j, cell in enumerate(row):
            if cell.rate is not None:
                colour = "black" if cell.rate > 0.6 else "white"
                label = f"{cell.rate:.2f}\n{cell.successes}/{cell.episodes}"
                ax.text(j, i, label, ha="center", va="center", fontsize=8, color=colour)
    ax.set_xticks(range(k), metrics.tasks, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(k), [f"after {t}" for t in metrics.tasks], fontsize=8)
    ax.set_xlabel("evaluated on task")
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="success rate")
    return fig


def curves_figure(metrics: ContinualMetrics, title: str) -> Figure:
    """Each task's success rate against its own training steps, with Wilson 95% bands."""
    fig = Figure(figsize=(6.0, 3.4))
    ax = fig.add_subplot()
    for t, (task, curve) in enumerate(zip(metrics.tasks, metrics.curves, strict=True)):
        steps = [p.step for p in curve]
        rates = [p.rate or 0.0 for p in curve]
        colour = COLOURS[t % len(COLOURS)]
        ax.plot(steps, rates, marker="o", ms=4, color=colour, label=task)
        ax.fill_between(steps, [p.ci95[0] for p in curve], [p.ci95[1] for p in curve], color=colour, alpha=0.15)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("training step within the task")
    ax.set_ylabel("success rate (Wilson 95% CI)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def comparison_figure(runs: Sequence[ContinualRun]) -> Figure:
    """FWT, NBT and AUC per method with their bootstrap 95% intervals."""
    fig = Figure(figsize=(max(5.0, 1.6 * len(runs) + 3.0), 3.6))
    ax = fig.add_subplot()
    x, width = np.arange(3), 0.8 / max(len(runs), 1)
    for r, run in enumerate(runs):
        m = run.metrics
        ests = [m.fwt, m.nbt, m.auc]
        values = np.array([0.0 if e is None else e.value for e in ests])
        lows = np.array([0.0 if e is None else e.value - e.ci95[0] for e in ests])
        highs = np.array([0.0 if e is None else e.ci95[1] - e.value for e in ests])
        offset = (r - (len(runs) - 1) / 2) * width
        yerr = np.stack([lows, highs]).clip(min=0.0)
        ax.bar(x + offset, values, width, yerr=yerr, capsize=4, color=COLOURS[r % len(COLOURS)], label=run.name)
    ax.axhline(0.0, color="#444", lw=0.8)
    ax.set_xticks(x, ["FWT ↑", "NBT ↓", "AUC ↑"])
    ax.set_ylabel("score (bootstrap 95% CI)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return fig


def _comparison_section(results: ContinualResults) -> str:
    rows = []
    for run in results.runs:
        m = run.metrics
        retention = m.retention
        kept = "—" if retention.score is None else f"{retention.score:.3f} (vs {retention.reference})"
        rows.append((run.name, len(m.tasks), _est(m.fwt), _est(m.nbt), _est(m.auc), kept, m.carried_forward))
    header = ("method", "tasks", "FWT ↑", "NBT ↓", "AUC ↑", "language retention", "checkpoint carried")
    note = (
        '<p class="note">LIBERO metrics (Liu et al. 2023). NBT averaged over K tasks (NBT of the last task = 0) '
        "unless a run says K−1; intervals: seeded bootstrap over episodes, 95%. Language retention: mean over probe "
        "keys of the score after the last task ÷ the reference score (1.0 = fully kept).</p>"
    )
    return (
        "<h2>Methods compared</h2>" + _table(header, rows) + note + _img(comparison_figure(results.runs), "FWT NBT AUC")
    )


def _language_table(m: ContinualMetrics) -> str:
    keys = sorted({key for row in [*m.language, m.language_before or {}] for key in row})
    if not keys:
        return '<p class="note">No language probe.</p>'
    rows: list[list[object]] = []
    if m.language_before is not None:
        rows.append(["before training", *(_num(m.language_before.get(key)) for key in keys)])
    rows += [[f"after {t}", *(_num(row.get(key)) for key in keys)] for t, row in zip(m.tasks, m.language, strict=True)]
    retention = m.retention
    summary = f"retention {_num(retention.score)} (reference: {retention.reference or '—'})"
    if retention.note:
        summary += f"; {retention.note}"
    if retention.skipped:
        summary += f"; skipped keys: {', '.join(retention.skipped)}"
    return _table(("language probe", *keys), rows) + f'<p class="note">{_e(summary)}</p>'


def _run_section(run: ContinualRun) -> str:
    m = run.metrics
    out = f"<h2>{_e(run.name)}</h2>"
    if run.description:
        out += f"<p>{_e(run.description)}</p>"
    out += _img(matrix_figure(m, f"{run.name}: success after training each task"), f"{run.name} success matrix")
    out += _img(curves_figure(m, f"{run.name}: success while training each task"), f"{run.name} curves")
    rows = [
        (task, _num(fwt), _num(nbt), _num(auc), f"{cell.successes}/{cell.episodes}")
        for task, fwt, nbt, auc, cell in zip(
            m.tasks,
            m.fwt_per_task,
            m.nbt_per_task,
            m.auc_per_task,
            [m.matrix[t][t] for t in range(len(m.tasks))],
            strict=True,
        )
    ]
    out += _table(("task", "FWT_k", "NBT_k", "AUC_k", "c[k][k] (k/n)"), rows)
    if m.nbt_note:
        out += f'<p class="note">{_e(m.nbt_note)}</p>'
    out += _language_table(m)
    manifest = json.dumps(run.manifest.model_dump(mode="json"), indent=2)
    bootstrap = f"bootstrap: {m.bootstrap.samples} samples, seed {m.bootstrap.seed} ({m.bootstrap.method})"
    return out + f'<h3>Manifest</h3><p class="note">{_e(bootstrap)}</p><pre>{_e(manifest)}</pre>'


def render_continual_report(results: ContinualResults) -> str:
    """The report's HTML text."""
    tasks = results.runs[0].metrics.tasks if results.runs else []
    parts = [f"<h1>Continual learning report</h1><p>Task sequence: {_e(' → '.join(tasks))}</p>"]
    if results.runs:
        parts.append(_comparison_section(results))
    parts += [_run_section(run) for run in results.runs]
    head = f'<head><meta charset="utf-8"><title>embodied continual</title><style>{_CSS}</style></head>'
    return f'<!DOCTYPE html>\n<html lang="en">{head}<body>{"".join(parts)}</body></html>\n'


def write_continual_report(results: ContinualResults, out_dir: str | Path) -> Path:
    """Write ``out_dir/report.html`` and return its path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / CONTINUAL_REPORT_FILE
    path.write_text(render_continual_report(results), encoding="utf-8")
    return path
