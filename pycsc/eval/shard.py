"""Scoring on many machines: shard i of N writes a partial result; merging partials gives
exactly the single-run result (records are pooled in sorted order in both cases, and JSON
round-trips Python floats exactly).

A partial holds the shard's per-label results plus what the merge must check: the full task
list, ``total_evals`` and the score-changing configuration.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import DataError, InputError
from .config import EvaluateConfig
from .results import atomic_write_bytes
from .runner import RunInfo
from .tasks import TaskResult

FORMAT = "pycsc-eval-partial/1"


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/3"`` -> (2, 3): shard 2 of 3, 1-based (SLURM/LSF array indices).

    Examples
    --------
    >>> parse_shard("1/4")
    (1, 4)
    """
    try:
        i, n = (int(v) for v in str(text).split("/"))
    except ValueError:
        raise InputError(f"--shard must look like i/N (e.g. 2/8); got {text!r}") from None
    if not 1 <= i <= n:
        raise InputError(f"--shard i/N needs 1 <= i <= N; got {text!r}")
    return i, n


def write_partial(evaluation, path: str | os.PathLike) -> Path:
    """Write one shard's partial result (atomic)."""
    path = Path(path)
    payload = {
        "format": FORMAT,
        "shard": evaluation.meta["shard"],
        "meta": evaluation.meta,
        "base_warnings": evaluation.base_warnings,
        "timings": evaluation.timings,
        "run": evaluation.run.__dict__,
        "results": [r.to_json() for r in evaluation.results],
    }
    atomic_write_bytes(path, json.dumps(payload, indent=1, allow_nan=False).encode())
    return path


def _load(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"partial result {path} is unreadable ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DataError(f"{path} is not a pycsc partial result ({FORMAT}); write it with --shard i/N")
    return data


def merge_partials(paths: list[str | os.PathLike]):
    """Combine the partial results of shards 1..N into one :class:`Evaluation`."""
    from .api import finish

    if not paths:
        raise InputError("--merge needs at least one partial result file")
    parts = [(Path(p), _load(Path(p))) for p in paths]
    first_path, first = parts[0]
    n = first["shard"][1]
    seen: dict[int, Path] = {}
    for path, part in parts:
        i, count = part["shard"]
        if count != n:
            raise DataError(f"{path} is shard {i}/{count} but {first_path} belongs to a run of {n} shards")
        if i in seen:
            raise DataError(f"shard {i}/{n} is given twice ({seen[i]} and {path})")
        seen[i] = path
        for key in ("all_tasks", "total_evals", "config", "truth"):
            if part["meta"].get(key) != first["meta"].get(key):
                raise DataError(f"{path} and {first_path} differ in {key!r}: they come from different evaluations")
    absent = sorted(set(range(1, n + 1)) - set(seen))
    if absent:
        raise DataError(f"shards {', '.join(f'{i}/{n}' for i in absent)} are missing; pass all {n} partial results")
    results = [TaskResult.from_json(r) for _, part in parts for r in part["results"]]
    keys = sorted((r.crop, r.label) for r in results)
    expected = sorted(tuple(k) for k in first["meta"]["all_tasks"])
    if keys != expected:
        raise DataError(f"the partial results hold {len(keys)} labels but the evaluation has {len(expected)}; "
                        "re-run the shards of one evaluation")
    fp = first["meta"]["config"]
    cfg = EvaluateConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in fp.items()})
    run = RunInfo(**{k: v for k, v in first["run"].items()})
    timings = {"scoring_max_shard": max(p["timings"].get("scoring", 0.0) for _, p in parts),
               "scoring_sum": sum(p["timings"].get("scoring", 0.0) for _, p in parts)}
    meta = {k: v for k, v in first["meta"].items() if k != "shard"}
    meta["merged_shards"] = n
    base = [w for _, p in parts for w in p["base_warnings"]]
    ev = finish(sorted(results, key=lambda r: (r.crop, r.label)), cfg, first["meta"]["total_evals"],
                base, timings, run, meta)
    return ev


__all__ = ["parse_shard", "write_partial", "merge_partials", "FORMAT"]
