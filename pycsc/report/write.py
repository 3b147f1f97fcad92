"""``report.html``: tables and figures of one submission, or two side by side.

Written beside the results file::

    report.html            self-describing page; images referenced by relative name
    report_overall.png     overall scores
    report_semantic.png    per-class IoU and Dice
    report_instance.png    per-class F1, normalised Hausdorff and combined score
    report_crops.png       per-crop heat map (needs results_extended.json)
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Mapping, Sequence

from .._atomic import atomic_write_bytes
from .figures import class_bars, crop_matrix, overall_bars
from .scores import OVERALL_KEYS, Results, load_results

STYLE = """body{font-family:sans-serif;margin:1.5em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}img{max-width:100%;display:block;margin:.5em 0}
.better{font-weight:bold}.note{color:#666;font-size:90%}"""


def _num(value) -> str:
    return "–" if value is None else f"{value:.4f}"


def _row(cells: Sequence[str], header: bool = False) -> str:
    tag = "th" if header else "td"
    return "<tr>" + "".join(f"<{tag}>{c}</{tag}>" for c in cells) + "</tr>"


def _mark(values: Sequence[float | None]) -> list[str]:
    """Numbers as text, the best of two in bold (comparisons only)."""
    cells = [_num(v) for v in values]
    if len(values) == 2 and None not in values and values[0] != values[1]:
        best = 0 if values[0] > values[1] else 1
        cells[best] = f'<span class="better">{cells[best]}</span>'
    return cells


def _class_table(runs: Sequence[Results], kind: str) -> str:
    labels = sorted({lb for r in runs for lb, s in r.classes.items() if s.kind == kind})
    if not labels:
        return ""
    metrics = [("iou", "IoU"), ("dice", "Dice")] if kind == "semantic" else \
        [("f1", "F1"), ("hausdorff", "norm. Hausdorff"), ("combined", "combined")]
    head = ["class"] + [f"{title} ({html.escape(r.name)})" if len(runs) > 1 else title
                        for _, title in metrics for r in runs]
    rows = [_row(head, header=True)]
    for label in labels:
        cells = [html.escape(label)]
        for metric, _ in metrics:
            vals = [getattr(r.classes[label], metric) if label in r.classes else None for r in runs]
            cells += _mark(vals)
        rows.append(_row(cells))
    return f"<h3>{kind} classes</h3><table>{''.join(rows)}</table>"


def _crop_table(runs: Sequence[Results]) -> str:
    runs_with = [r for r in runs if r.crops]
    if not runs_with:
        return ('<p class="note">No per-crop records: pass results_extended.json (or keep it beside '
                'results.json) for the per-crop breakdown.</p>')
    keyed = [{(c.crop, c.label): c for c in r.crops} for r in runs_with]
    keys = sorted(set().union(*keyed), key=lambda k: (runs_with[0].crop_names.index(k[0])
                                                       if k[0] in runs_with[0].crop_names else 1 << 30, k))
    head = ["crop", "class", "kind", "metric"] + [html.escape(r.name) for r in runs_with] + ["status"]
    rows = [_row(head, header=True)]
    for key in keys:
        entries = [k.get(key) for k in keyed]
        first = next(e for e in entries if e is not None)
        metric = "IoU" if first.kind == "semantic" else "combined"
        statuses = sorted({e.status for e in entries if e is not None})
        rows.append(_row([html.escape(key[0]), html.escape(key[1]), first.kind, metric,
                          *_mark([e.main if e is not None else None for e in entries]),
                          html.escape(", ".join(statuses))]))
    return f"<table>{''.join(rows)}</table>"


def _overall_table(runs: Sequence[Results]) -> str:
    rows = [_row(["score"] + [html.escape(r.name) for r in runs], header=True)]
    for key in OVERALL_KEYS:
        rows.append(_row([key.replace("_", " ")] + _mark([r.overall.get(key) for r in runs])))
    evals = [r.counts.get("evals") for r in runs]
    if any(evals):
        rows.append(_row(["evaluations done / total"] + [f"{e[0]} / {e[1]}" if e else "–" for e in evals]))
    return f"<table>{''.join(rows)}</table>"


def _img(path: Path | None, alt: str) -> str:
    if path is None:
        return ""
    return f'<img src="{html.escape(path.name)}" alt="{html.escape(alt)}">'


def write_report(results: str | os.PathLike | Mapping | Results,
                 compare: str | os.PathLike | Mapping | Results | None = None,
                 out_dir: str | os.PathLike | None = None, names: Sequence[str] | None = None) -> Path:
    """Write ``report.html`` and its PNG figures; return the HTML path.

    Parameters
    ----------
    results : path, mapping or Results
        The submission's ``results.json`` / ``results_extended.json`` (or a loaded dict).
    compare : path, mapping or Results, optional
        A second submission's results, drawn side by side with the first.
    out_dir : path, optional
        Folder for the report (default: the folder of `results`; required for a dict).
    names : two strings, optional
        How the report names the submissions (default: from the file paths).

    Raises
    ------
    InputError
        A results file is missing or not a ``csc evaluate`` result.
    BackendUnavailableError
        matplotlib is not installed (``pip install 'pycsc[report]'``).
    """
    sources = [s for s in (results, compare) if s is not None]
    names = list(names or [None] * len(sources))
    runs = [s if isinstance(s, Results) else load_results(s, n) for s, n in zip(sources, names)]
    if len(runs) == 2 and runs[0].name == runs[1].name:
        runs[1].name += " (compared)"
    if out_dir is None:
        if isinstance(results, (Mapping, Results)):
            raise ValueError("write_report: give `out_dir` when `results` is not a file path")
        out_dir = Path(results).parent
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures = {
        "overall": overall_bars(runs, out / "report_overall.png"),
        "semantic": class_bars(runs, "semantic", out / "report_semantic.png"),
        "instance": class_bars(runs, "instance", out / "report_instance.png"),
        "crops": crop_matrix(runs, out / "report_crops.png"),
    }
    title = "Evaluation report: " + " vs ".join(r.name for r in runs)
    sources_text = "".join(f"<li>{html.escape(r.name)}: {html.escape(r.source or 'in memory')}</li>" for r in runs)
    body = [
        f"<h1>{html.escape(title)}</h1><ul>{sources_text}</ul>",
        "<h2>Overall</h2>", _overall_table(runs), _img(figures["overall"], "overall scores"),
        "<h2>Per class</h2>",
        '<p class="note">Semantic classes: IoU (scored) and Dice; instance classes: F1, mean normalised '
        "Hausdorff distance and their geometric mean (scored). Pooled over all crops.</p>",
        _img(figures["semantic"], "per-class semantic scores"), _class_table(runs, "semantic"),
        _img(figures["instance"], "per-class instance scores"), _class_table(runs, "instance"),
        "<h2>Per crop</h2>", _img(figures["crops"], "per-crop scores"), _crop_table(runs),
    ]
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n")
    return atomic_write_bytes(out / "report.html", page.encode())


__all__ = ["write_report"]
