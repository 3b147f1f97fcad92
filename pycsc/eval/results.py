"""Writing results: public JSON, extended JSON, per-label Parquet table, resolved config.

Every file is written to a temporary name in the destination folder and renamed into place,
so a crash never leaves a half-written result that looks complete.

For ``--output results.json``::

    results.json            public (participant-facing) result, official keys only
    results_extended.json   official extended result + a top-level "pycsc" section
    results.parquet         one row per (crop, class): status, reason, counts, timings
    results.config.toml     the resolved configuration
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..config import write_resolved
from .aggregate import sanitize
from .config import EvaluateConfig
from .._atomic import atomic_write_bytes

STAGES = ("load", "resample", "components", "matching", "remap", "hausdorff", "counts", "total")


def output_paths(output: str | os.PathLike) -> dict[str, Path]:
    """Paths of every file written for `output` (the public JSON)."""
    out = Path(output)
    stem = out.name[: -len(out.suffix)] if out.suffix else out.name
    return {
        "public": out,
        "extended": out.with_name(f"{stem}_extended{out.suffix or '.json'}"),
        "table": out.with_name(f"{stem}.parquet"),
        "config": out.with_name(f"{stem}.config.toml"),
    }


def write_json(path: Path, data: dict) -> None:
    """JSON with 4-space indent (the official layout); NaN is never written (sanitised before)."""
    atomic_write_bytes(path, (json.dumps(data, indent=4, allow_nan=False) + "\n").encode())


def table_rows(results) -> list[dict]:
    rows = []
    for r in results:
        rec = r.record
        row = {
            "crop": r.crop, "label": r.label, "kind": r.kind, "status": r.status, "reason": r.reason or None,
            "tp": rec.get("tp"), "fp": rec.get("fp"), "fn": rec.get("fn"),
            "hausdorff_norm_sum": rec.get("hausdorff_norm_sum"), "n_hausdorff": rec.get("n_hausdorff"),
            "num_voxels": rec.get("num_voxels"),
            "n_pred": r.stats.get("n_pred"), "n_truth": r.stats.get("n_truth"),
            "id_collisions": r.stats.get("collisions"),
            "align": r.stats.get("align"), "source_shape": r.stats.get("source_shape"),
            "source_dtype": r.stats.get("source_dtype"), "shift_voxels": r.stats.get("shift_voxels"),
            "worker_pid": r.stats.get("pid"),
        }
        row.update({f"seconds_{s}": r.timings.get(s) for s in STAGES})
        rows.append(row)
    return rows


def write_table(path: Path, results) -> None:
    """Per-label Parquet table. Rows go through Arrow's JSON reader: converting Python objects
    with ``pyarrow.array`` would import pandas (a quarter of a second at start-up)."""
    import io

    import pyarrow as pa
    import pyarrow.json as pa_json
    import pyarrow.parquet as pq

    schema = pa.schema([
        ("crop", pa.string()), ("label", pa.string()), ("kind", pa.string()), ("status", pa.string()),
        ("reason", pa.string()), ("tp", pa.int64()), ("fp", pa.int64()), ("fn", pa.int64()),
        ("hausdorff_norm_sum", pa.float64()), ("n_hausdorff", pa.int64()), ("num_voxels", pa.int64()),
        ("n_pred", pa.int64()), ("n_truth", pa.int64()), ("id_collisions", pa.int64()), ("align", pa.string()),
        ("source_shape", pa.list_(pa.int64())), ("source_dtype", pa.string()),
        ("shift_voxels", pa.list_(pa.int64())), ("worker_pid", pa.int64()),
        *[(f"seconds_{s}", pa.float64()) for s in STAGES],
    ])
    rows = [sanitize(row) for row in table_rows(results)]
    if rows:
        text = "\n".join(json.dumps(row, allow_nan=False) for row in rows).encode()
        options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")
        table = pa_json.read_json(io.BytesIO(text), parse_options=options)
    else:
        table = schema.empty_table()
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    atomic_write_bytes(path, sink.getvalue().to_pybytes())


def write_results(evaluation, output: str | os.PathLike, config: EvaluateConfig | None = None) -> dict[str, Path]:
    """Write every result file for `evaluation`; return their paths."""
    paths = output_paths(output)
    write_json(paths["public"], evaluation.public)
    write_json(paths["extended"], {**evaluation.extended, "pycsc": evaluation.pycsc_section()})
    write_table(paths["table"], evaluation.results)
    if config is not None:
        write_resolved(config, paths["config"])
    return paths


__all__ = ["output_paths", "write_json", "write_table", "write_results", "atomic_write_bytes", "table_rows"]


def format_summary(evaluation, paths: dict[str, Path] | None = None, max_warnings: int = 12) -> str:
    """The summary table printed by ``pycsc evaluate``."""
    ext = evaluation.extended
    crops: dict[str, int] = {}
    for r in evaluation.results:
        crops[r.label] = crops.get(r.label, 0) + 1
    lines = [f"{'class':<14}{'kind':<10}{'crops':>6}{'tp':>10}{'fp':>10}{'fn':>10}  score"]
    for label, s in ext["label_scores"].items():
        if "iou" in s:
            kind, score = "semantic", _num(s["iou"])
        else:
            kind = "instance"
            score = (f"{_num(s['combined_score'])}  (f1 {_num(s['f1'])}, "
                     f"hausdorff {_num(s['normalized_hausdorff_distance'])})")
        lines.append(f"{label:<14}{kind:<10}{crops.get(label, 0):>6}{s['tp']:>10}{s['fp']:>10}{s['fn']:>10}  {score}")
    lines.append(f"overall: instance {_num(ext['overall_instance_score'])}  semantic "
                 f"{_num(ext['overall_semantic_score'])}  overall {_num(ext['overall_score'])}  "
                 f"({ext['num_evals_done']} of {ext['total_evals']} evaluations)")
    unknown = evaluation.meta.get("unknown_crops") or []
    if unknown:
        absent = evaluation.meta.get("absent_crops") or []
        lines.append(f"CROPS NOT IN THE TRUTH ({len(unknown)} submitted crop folder(s) match no truth crop; "
                     "nothing in them was scored; check their names):")
        lines.append(f"  submitted but unknown: {', '.join(unknown)}")
        lines.append(f"  expected but not submitted ({len(absent)}, scored as missing): "
                     f"{', '.join(absent) if absent else 'none'}")
    errors = evaluation.errors
    if errors:
        lines.append(f"ERRORS ({len(errors)} labels could not be scored; each counts as not submitted):")
        lines += [f"  {r.crop}/{r.label}: {r.reason.splitlines()[0]}" for r in errors]
    if evaluation.warnings:
        lines.append(f"warnings ({len(evaluation.warnings)}):")
        lines += [f"  {w}" for w in evaluation.warnings[:max_warnings]]
        if len(evaluation.warnings) > max_warnings:
            lines.append(f"  ... {len(evaluation.warnings) - max_warnings} more in the extended JSON")
    t = evaluation.timings
    run = evaluation.run
    where = "GPU" if run.device == "gpu" else f"{run.workers} worker(s) x {run.threads_per_worker} thread(s)"
    lines.append(f"time: {t.get('total', 0.0):.2f} s ({where})")
    if paths:
        lines.append("wrote: " + ", ".join(str(p) for p in paths.values()))
    return "\n".join(lines)


def _num(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"
