"""`score_submission` and `evaluate`: the whole evaluation, from submission path to results.

::

    submission (.zip | .zarr) --discover--> (crop, class) tasks --score--> records
        --pool per class--> extended (official) + public results + pycsc extras
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from ..errors import InputError
from .aggregate import build_scores, class_warnings
from .config import EvaluateConfig
from .manifest import load_manifest
from ..ops._dispatch import resolve_device
from .runner import RunInfo, plan_tasks, run_tasks, shard_tasks, truth_crops
from .submission import ZipLimits, discover, remove_work_dir
from .tasks import TaskResult

GIT_VERSION = f"pycsc {__version__}"


@dataclass
class Evaluation:
    """Everything one evaluation (or one shard of it) produced."""

    results: list[TaskResult]
    extended: dict
    public: dict
    warnings: list[str]
    timings: dict
    run: RunInfo
    meta: dict = field(default_factory=dict)
    #: Submission/plan warnings (without per-label ones): what a shard merge must carry over.
    base_warnings: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[TaskResult]:
        return [r for r in self.results if r.status == "error"]

    @property
    def exit_code(self) -> int:
        """0 when every label was scored (or skipped/missing as the official would), else 1 (also
        when a submitted crop folder matches no truth crop: most likely a misnamed crop)."""
        return 1 if self.errors or self.meta.get("unknown_crops") else 0

    def pycsc_section(self) -> dict:
        """What pycsc adds to the extended JSON, under the top-level key ``"pycsc"``."""
        return {
            "version": __version__,
            "note": "git_version is pycsc's own version string, not the official toolbox commit",
            "warnings": self.warnings,
            "errors": [{"crop": r.crop, "label": r.label, "reason": r.reason} for r in self.errors],
            "timings_s": self.timings,
            "run": {"workers": self.run.workers, "threads_per_worker": self.run.threads_per_worker,
                    "memory_budget_bytes": self.run.memory_budget_bytes,
                    "peak_task_bytes": self.run.peak_task_bytes, "device": self.run.device},
            **self.meta,
        }


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def finish(results: list[TaskResult], cfg: EvaluateConfig, total_evals: int, warnings: list[str],
           timings: dict, run: RunInfo, meta: dict) -> Evaluation:
    """Pool the records into the official structures and collect warnings."""
    t0 = time.perf_counter()
    base = list(warnings)
    records = {(r.crop, r.label): r.record for r in results}
    extended, public = build_scores(records, cfg.instance_classes, total_evals, GIT_VERSION)
    timings["aggregation"] = time.perf_counter() - t0
    warnings = list(warnings)
    collisions: dict[str, list[int]] = {}
    for r in results:
        warnings += r.warnings
        if r.stats.get("collisions"):
            collisions.setdefault(r.label, []).append(r.stats["collisions"])
    warnings += class_warnings(records, cfg.instance_classes) + run.warnings
    warnings += [f"class {label}: {sum(c)} unmatched predicted components ({len(c)} crop(s)) keep ids equal to "
                 "truth ids and count in those truth objects' Hausdorff distances (official quirk); remove "
                 "speckles to avoid it" for label, c in collisions.items()]
    if tuple(cfg.instance_classes) != EvaluateConfig.instance_classes:
        warnings.append("custom instance_classes only change scoring; resampling still uses the official "
                        "default instance classes (as the official evaluator does)")
    return Evaluation(results, extended, public, _dedupe(warnings), timings, run, meta, _dedupe(base))


def evaluate(submission: str | os.PathLike, truth: str | os.PathLike, manifest: str | os.PathLike | None = None,
             *, config: EvaluateConfig | None = None, shard: tuple[int, int] | None = None) -> Evaluation:
    """Score `submission` against `truth`; with `shard=(i, N)` only the i-th of N task slices.

    Raises SubmissionError/DataError when nothing can be scored (unreadable truth, hostile
    zip, no submitted crop matching a truth crop); a bad label only gets status "error".
    """
    cfg = config or EvaluateConfig()
    if cfg.device == "gpu":  # fail before any work when no GPU is usable
        resolve_device("gpu")
    if shard is not None and not (isinstance(shard, tuple) and 1 <= shard[0] <= shard[1]):
        raise InputError(f"`shard` must be (i, N) with 1 <= i <= N; got {shard!r}")
    t_all = time.perf_counter()
    truth = Path(truth)
    geometry = load_manifest(manifest) if manifest is not None else None
    if cfg.work_dir is not None:
        Path(cfg.work_dir).mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="pycsc-eval-", dir=cfg.work_dir))
    try:
        limits = ZipLimits(int(cfg.max_uncompressed_gib * (1 << 30)), cfg.max_compression_ratio)
        layout = discover(submission, truth_crops(truth), work, limits)
        tasks, total_evals, plan_warn = plan_tasks(truth, layout, geometry, cfg)
        timings = {"plan": time.perf_counter() - t_all}
        mine = shard_tasks(tasks, *shard) if shard else tasks
        t0 = time.perf_counter()
        results, run = run_tasks(mine, cfg)
        timings["scoring"] = time.perf_counter() - t0
    finally:
        remove_work_dir(work)
    meta = {"submission": str(submission), "truth": str(truth), "manifest": str(manifest) if manifest else None,
            "all_tasks": [list(t.key) for t in sorted(tasks, key=lambda t: t.key)], "total_evals": total_evals,
            "config": cfg.fingerprint(), "unknown_crops": list(layout.extra), "absent_crops": list(layout.missing)}
    if shard:
        meta["shard"] = list(shard)
    ev = finish(results, cfg, total_evals, layout.warnings + plan_warn, timings, run, meta)
    ev.timings["total"] = time.perf_counter() - t_all
    return ev


def score_submission(submission: str | os.PathLike, truth: str | os.PathLike,
                     manifest: str | os.PathLike | None = None, *, config: EvaluateConfig | None = None) -> dict:
    """The official extended result dict: per crop and class records, ``label_scores``,
    ``overall_*``, ``total_evals``, ``num_evals_done``, ``git_version``.

    A label that could not be scored has ``status: "error"`` and an ``error`` reason and
    counts as not submitted; use :func:`evaluate` for warnings, timings and the public dict.
    """
    return evaluate(submission, truth, manifest, config=config).extended


__all__ = ["Evaluation", "evaluate", "score_submission", "finish", "GIT_VERSION"]
