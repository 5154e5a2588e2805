"""``report.html``: one self-contained page (inline CSS, figures as base64 PNG, episode GIFs as base64) per evaluation.

Sections: what was evaluated; success per agent (figure with Wilson error bars + table); VQA accuracy per question
type against the chance / majority baselines and the POPE figures; plans; decision latency; the learning curves
of the run the model came from (when it sits in a run directory); a few episodes as GIFs; the manifest. Nothing
refers to an external URL, so the file can be mailed or archived on its own. ``summary.png`` (the success and VQA
panels) is written next to it.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path

from embodied.eval.figures import (
    curves_figure,
    latency_figure,
    png_bytes,
    success_figure,
    summary_figure,
    vqa_figure,
)
from embodied.eval.media import data_uri
from embodied.eval.results import EvalResults, PlanResult, VQAResult
from embodied.eval.run_dir import Curves
from embodied.eval.stage_comparison import StageComparison

__all__ = ["REPORT_FILE", "SUMMARY_FILE", "write_report"]

REPORT_FILE = "report.html"
SUMMARY_FILE = "summary.png"
_MAX_PLANS_SHOWN = 5

#: the style every report page shares (this one and the continual-learning report)
BASE_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f3f3f3; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.8em; }
"""
_CSS = (
    BASE_CSS
    + """
figure { display: inline-block; margin: 0.4em; text-align: center; font-size: 0.8em; }
figure img.episode { width: 256px; image-rendering: pixelated; border: 1px solid #ccc; }
.ok { color: #2a7d2a; } .fail { color: #b22222; }
"""
)


def _e(value: object) -> str:
    return html.escape(str(value))


def _table(header: Sequence[str] | None, rows: Sequence[Sequence[object]]) -> str:
    head = "" if header is None else "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr>"
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table>{head}{body}</table>"


def _img(png: bytes, alt: str) -> str:
    return f'<img src="{data_uri(png, "image/png")}" alt="{_e(alt)}">'


def _ci(ci: tuple[float, float]) -> str:
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def _header(results: EvalResults) -> str:
    m = results.manifest
    rows: list[tuple[str, object]] = [
        ("checkpoint", results.checkpoint),
        ("environment", results.env_id),
        ("split", results.split),
        ("created", m.created),
        ("device", m.device),
        ("renderer", m.renderer),
        ("episodes", ", ".join(f"{k}: {v}" for k, v in m.episode_counts.items())),
    ]
    if m.model is not None:
        rows += [("model sha256", m.model.sha256), ("data sha256", m.model.data_sha256 or "—")]
    return "<h1>Evaluation report</h1>" + _table(None, rows)


def _success_section(results: EvalResults) -> str:
    rows = [
        (a.agent, f"{a.success_rate:.3f}", _ci(a.ci95), f"{a.successes}/{a.episodes}", f"{a.mean_length:.2f}")
        for a in results.agents
    ]
    table = _table(("agent", "success rate", "Wilson 95% CI", "successes", "mean length"), rows)
    return "<h2>Task success</h2>" + _img(png_bytes(success_figure(results)), "success per agent") + table


def _vqa_section(vqa: VQAResult) -> str:
    rows = [
        (t, s.n, f"{s.accuracy:.3f}", _ci(s.ci95), f"{s.majority:.3f} ({s.majority_answer})", f"{s.chance:.3f}")
        for t, s in vqa.per_type.items()
    ]
    out = f"<h2>VQA ({_e(vqa.agent)}: accuracy {vqa.accuracy:.3f} {_ci(vqa.ci95)}, n={vqa.episodes})</h2>"
    if vqa.per_type:
        out += _img(png_bytes(vqa_figure(vqa)), "VQA accuracy per question type")
    out += _table(("question type", "n", "accuracy", "Wilson 95% CI", "majority baseline", "chance"), rows)
    if vqa.pope is not None:
        p = vqa.pope
        out += "<h3>Hallucination (POPE, existence questions; positive = yes)</h3>"
        out += _table(
            ("n", "accuracy", "precision", "recall", "F1", "yes-ratio", "yes-ratio of answers"),
            [(p.n, *(f"{v:.3f}" for v in (p.accuracy, p.precision, p.recall, p.f1, p.yes_ratio, p.answer_yes_ratio)))],
        )
    out += f"<p>Answers naming a colour or shape nothing on the table has: {vqa.absent_rate:.3f}</p>"
    return out


def _plan_section(plans: PlanResult) -> str:
    out = f"<h2>Plans ({_e(plans.agent)}, n={plans.episodes})</h2>"
    out += _table(
        ("", "rate", "Wilson 95% CI"),
        [
            ("plan validity", f"{plans.validity_rate:.3f}", _ci(plans.validity_ci95)),
            ("plan success", f"{plans.success_rate:.3f}", _ci(plans.success_ci95)),
            ("plans naming an absent object", f"{plans.absent_rate:.3f}", ""),
        ],
    )
    for r in plans.records[:_MAX_PLANS_SHOWN]:
        verdict = "valid" if r.valid else f"invalid: {r.reason}"
        out += f"<p>seed {r.seed} — {_e(verdict)}; {'success' if r.success else 'failure'}</p>"
        out += f"<pre>{_e(r.plan or '(no plan)')}</pre>"
    return out


def _latency_section(results: EvalResults) -> str:
    rows = [
        (
            a.agent,
            a.latency.calls,
            a.num_envs,
            *(f"{v:.2f}" for v in (a.latency.mean_ms, a.latency.p50_ms, a.latency.p90_ms)),
        )
        for a in results.agents
    ]
    table = _table(("agent", "act calls", "envs per call", "mean ms", "p50 ms", "p90 ms"), rows)
    return "<h2>Decision latency</h2>" + _img(png_bytes(latency_figure(results)), "decision latency") + table


def _videos_section(results: EvalResults, out_dir: Path) -> str:
    figures = []
    for a in results.agents:
        for i, rel in enumerate(a.videos):
            path = out_dir / rel
            if not path.is_file():
                continue
            outcome = '<span class="ok">success</span>' if a.episode_success[i] else '<span class="fail">failure</span>'
            src = data_uri(path.read_bytes(), "image/gif")
            caption = f"{_e(a.agent)} · seed {a.seeds[i]} · {outcome} · {a.episode_lengths[i]} steps"
            image = f'<img class="episode" src="{src}" alt="{_e(rel)}">'
            figures.append(f"<figure>{image}<figcaption>{caption}</figcaption></figure>")
    return "<h2>Episodes</h2>" + "".join(figures) if figures else ""


def _comparison_section(c: StageComparison) -> str:
    rows = [
        (
            d.metric,
            d.n,
            f"{d.before:.3f}",
            f"{d.after:.3f}",
            f"{d.difference:+.3f}",
            f"[{d.ci95[0]:+.3f}, {d.ci95[1]:+.3f}]",
        )
        for d in c.deltas
    ]
    header = ("metric", "n", _e(c.before_stage), _e(c.after_stage), "difference", "paired bootstrap 95% CI")
    title = f"<h2>{_e(c.before_stage)} model vs {_e(c.after_stage)} model, same seeds</h2>"
    return title + _table(header, rows)


def render_report(
    results: EvalResults, out_dir: Path, curves: Curves | None = None, comparison: StageComparison | None = None
) -> str:
    """The report's HTML text (videos are read from ``out_dir``; ``comparison``: the model before its last stage
    on the same seeds, shown after the success table)."""
    parts = [_header(results)]
    if results.agents:
        parts.append(_success_section(results))
    if comparison is not None:
        parts.append(_comparison_section(comparison))
    if results.agents:
        parts.append(_latency_section(results))
    if results.vqa is not None:
        parts.append(_vqa_section(results.vqa))
    if results.plans is not None:
        parts.append(_plan_section(results.plans))
    if curves:
        parts.append("<h2>Learning curves</h2>" + _img(png_bytes(curves_figure(curves)), "learning curves"))
    parts.append(_videos_section(results, out_dir))
    manifest = json.dumps(results.manifest.model_dump(mode="json"), indent=2)
    parts.append(f"<h2>Manifest</h2><pre>{_e(manifest)}</pre>")
    title = f"embodied eval — {_e(results.env_id)} ({_e(results.split)})"
    head = f'<head><meta charset="utf-8"><title>{title}</title><style>{_CSS}</style></head>'
    return f'<!DOCTYPE html>\n<html lang="en">{head}<body>{"".join(parts)}</body></html>\n'


def write_report(
    results: EvalResults, out_dir: str | Path, curves: Curves | None = None, comparison: StageComparison | None = None
) -> Path:
    """Write ``out_dir/report.html`` and ``out_dir/summary.png``; returns the report's path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / SUMMARY_FILE).write_bytes(png_bytes(summary_figure(results), dpi=130))
    path = out_dir / REPORT_FILE
    path.write_text(render_report(results, out_dir, curves, comparison), encoding="utf-8")
    return path
