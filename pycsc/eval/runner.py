"""Task list and execution: in this process, or in a pool sized by CPUs and the memory limit.

Worker processes are started with ``spawn`` and ``OMP_NUM_THREADS = CPUs / workers`` so that
native kernels do not oversubscribe the cores. A worker killed by the kernel (out of memory)
breaks the pool; the unfinished tasks are then re-run one per fresh process, so only the
task that really dies is reported as an error.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError
from .config import EvaluateConfig
from .instance import MatchingParams
from .manifest import CropGeometry, crop_id
from .resources import cpu_count, memory_budget, plan_workers
from .store import ZArray, child_arrays, child_groups
from .submission import SubmissionLayout
from ..ops._dispatch import resolve_device
from .tasks import Task, TaskResult, make_task, score_task


@dataclass
class RunInfo:
    workers: int = 1
    threads_per_worker: int = 1
    memory_budget_bytes: int = 0
    peak_task_bytes: int = 0
    #: Where the kernels ran: "cpu" or "gpu".
    device: str = "cpu"
    warnings: list[str] = field(default_factory=list)


def matching_params(cfg: EvaluateConfig) -> MatchingParams:
    return MatchingParams(cfg.final_instance_ratio_cutoff, cfg.initial_instance_ratio_cutoff,
                          cfg.instance_ratio_factor, cfg.max_overlap_edges, cfg.mcmf_cost_scale)


def truth_crops(truth_root: Path) -> list[str]:
    """Crop names of the truth store: its sub-directories (official rule)."""
    if not truth_root.is_dir():
        raise DataError(f"truth store {truth_root} is not a directory; pass --truth with the ground-truth .zarr")
    crops = child_groups(truth_root)
    if not crops:
        raise DataError(f"truth store {truth_root} has no crop groups (crop<N>/<class> arrays expected)")
    return crops


def geometry_from_truth(path: Path) -> CropGeometry:
    arr = ZArray.open(path)
    vs = arr.attrs.get("voxel_size")
    if vs is None:
        raise DataError(f"truth array {path} has no voxel_size attribute and no manifest was given")
    tr = arr.attrs.get("translation") or [0.0] * arr.ndim
    return CropGeometry(tuple(float(v) for v in vs), tuple(float(v) for v in tr), arr.shape)


def plan_tasks(truth_root: Path, layout: SubmissionLayout | None, manifest: dict | None,
               cfg: EvaluateConfig) -> tuple[list[Task], int, list[str]]:
    """All tasks (sorted by crop, class), ``total_evals`` and planning warnings."""
    warnings: list[str] = []
    tasks: list[Task] = []
    n_truth_arrays = 0
    for crop in truth_crops(truth_root):
        pred_crop = layout.crops.get(crop) if layout else None
        labels = child_arrays(truth_root / crop)
        n_truth_arrays += len(labels)
        if pred_crop is not None:
            extra = sorted(set(child_arrays(pred_crop)) - set(labels))
            if extra:
                warnings.append(f"{crop}: submitted classes not in the truth are ignored: {', '.join(extra)}")
        for label in labels:
            if manifest is not None:
                geometry = manifest.get((crop_id(crop), label))
                if geometry is None:
                    warnings.append(f"{crop}/{label}: no test-manifest row (the official evaluator aborts here)")
            else:
                try:
                    geometry = geometry_from_truth(truth_root / crop / label)
                except DataError as exc:
                    geometry = None
                    warnings.append(str(exc))
            tasks.append(make_task(crop, label, truth_root / crop, pred_crop, geometry, cfg.instance_classes,
                                   check_nans=cfg.check_nans,
                                   broken_input=layout.broken_input(crop, label) if layout else ""))
    total = len(manifest) if manifest is not None else n_truth_arrays
    return tasks, total, warnings


def shard_tasks(tasks: list[Task], index: int, count: int) -> list[Task]:
    """The `index`-th (1-based) of `count` deterministic round-robin slices of the sorted tasks."""
    ordered = sorted(tasks, key=lambda t: t.key)
    return [t for k, t in enumerate(ordered) if k % count == index - 1]


def _worker(task: Task, params: MatchingParams, max_ratio: float, threads: int, debug: bool) -> TaskResult:
    return score_task(task, params, max_ratio=max_ratio, threads=threads, debug=debug)


@contextlib.contextmanager
def _thread_env(threads: int):
    """Children inherit the environment at start: set the OpenMP thread count for them."""
    old = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = old


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="label", desc="scoring", disable=not enabled, file=sys.stderr,
                dynamic_ncols=True, leave=False)


def _pool_run(tasks: list[Task], workers: int, threads: int, args: tuple, bar) -> tuple[list[TaskResult], list[Task]]:
    """Run `tasks` in a pool; return (results, tasks left unfinished by a broken pool)."""
    ctx = multiprocessing.get_context("spawn")
    done: list[TaskResult] = []
    with _thread_env(threads), ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        params, max_ratio, debug = args
        futures = {pool.submit(_worker, t, params, max_ratio, threads, debug): t for t in tasks}
        try:
            for fut in as_completed(futures):
                done.append(fut.result())
                bar.set_postfix_str(f"{futures[fut].crop}/{futures[fut].label}", refresh=False)
                bar.update(1)
        except BrokenProcessPool:
            finished = {(r.crop, r.label) for r in done}
            return done, [t for t in tasks if t.key not in finished]
    return done, []


def run_tasks(tasks: list[Task], cfg: EvaluateConfig) -> tuple[list[TaskResult], RunInfo]:
    """Score `tasks`; results come back sorted by (crop, class)."""
    info = RunInfo(device=resolve_device(cfg.device))
    if not tasks:
        return [], info
    limit = int(cfg.memory_limit_gib * (1 << 30)) if cfg.memory_limit_gib else None
    info.memory_budget_bytes = memory_budget(limit, cfg.memory_fraction)
    info.peak_task_bytes = max(t.estimated_bytes for t in tasks)
    cpus = cpu_count()
    requested = cfg.workers
    if requested == 0 and sum(t.voxels for t in tasks) < cfg.small_job_voxels:
        requested = 1
    if info.device == "gpu":
        requested = 1  # one process owns the GPU; labels take turns on it
    info.workers, info.threads_per_worker = plan_workers(requested, len(tasks), info.peak_task_bytes,
                                                         info.memory_budget_bytes, cpus)
    if info.peak_task_bytes > info.memory_budget_bytes:
        info.warnings.append(
            f"the largest label needs about {info.peak_task_bytes / 2**30:.1f} GiB, more than the "
            f"{info.memory_budget_bytes / 2**30:.1f} GiB budget; scoring it anyway, one label at a time")
    params = matching_params(cfg)
    ordered = sorted(tasks, key=lambda t: -t.estimated_bytes)  # largest first: shortest makespan
    heavy, light = [], ordered
    if requested == 0 and info.workers == 1 and cpus > 1 and info.device == "cpu":
        # One label too large to share the memory must not serialise all the others: score the
        # large ones one at a time with every thread, then the rest in a pool sized for them.
        cut = info.memory_budget_bytes // cpus
        heavy = [t for t in ordered if t.estimated_bytes > cut]
        light = [t for t in ordered if t.estimated_bytes <= cut]
        if heavy and light:
            info.workers, info.threads_per_worker = plan_workers(
                0, len(light), max(t.estimated_bytes for t in light), info.memory_budget_bytes, cpus)
        else:
            heavy, light = [], ordered
    results: list[TaskResult] = []
    with _progress(len(tasks), cfg.progress) as bar:
        for task in heavy + light if info.workers == 1 else heavy:
            bar.set_postfix_str(f"{task.crop}/{task.label}", refresh=False)
            results.append(score_task(task, params, max_ratio=cfg.max_volume_size_ratio, threads=cpus,
                                      debug=cfg.debug, device=info.device))
            bar.update(1)
        if info.workers > 1:
            args = (params, cfg.max_volume_size_ratio, cfg.debug)
            done, left = _pool_run(light, info.workers, info.threads_per_worker, args, bar)
            results += done
            for task in left:  # isolate each unfinished task so only a dying one is blamed
                one, again = _pool_run([task], 1, cpus, args, bar)
                results += one
                if again:
                    results.append(_died(task))
                    bar.update(1)
    return sorted(results, key=lambda r: (r.crop, r.label)), info


def _died(task: Task) -> TaskResult:
    reason = ("the worker process died while scoring this label (killed by the system, most likely out of "
              "memory); lower --workers or raise the memory limit")
    from .tasks import _missing_record  # the penalty record, as for any error

    try:
        truth_arr = ZArray.open(task.truth_path)
        record = _missing_record(task, truth_arr.read() if task.is_instance else None, truth_arr)
    except Exception:
        record = {"tp": 0, "fp": 0, "fn": 0, "num_voxels": 0, "voxel_size": [], "is_missing": True}
    record.update(status="error", error=reason)
    kind = "instance" if task.is_instance else "semantic"
    return TaskResult(task.crop, task.label, record, "error", reason, kind)


__all__ = ["RunInfo", "plan_tasks", "shard_tasks", "run_tasks", "truth_crops", "matching_params"]
