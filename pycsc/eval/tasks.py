"""One scoring task per truth (crop, class): planning and the task body with error capture.

A task never raises: any failure becomes a result with status ``"error"``, a one-line
reason and the penalty record of a label that was not submitted (so overall scores are
never inflated by a broken label), while every other task is still scored.
"""

from __future__ import annotations

import math
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError, PycscError
from ..gpu._runtime import backend
from .align import DEFAULT_INSTANCE_CLASSES, align_prediction, locate_source
from .instance import MatchingParams, missing_instance, narrow_ids, score_instance
from .manifest import CropGeometry, InvalidGeometry
from .semantic import missing_semantic, semantic_counts
from .store import ZArray, is_array
from .stream import stream_semantic_counts, streamable


@dataclass(frozen=True)
class Task:
    """Everything a worker needs to score one (crop, class); small and picklable."""

    crop: str
    label: str
    truth_path: Path
    pred_path: Path | None  # None: not submitted
    geometry: CropGeometry | InvalidGeometry | None  # None: no manifest row (error unless not submitted)
    is_instance: bool
    resample_as_instance: bool
    mask_path: Path | None = None
    submitted_as_group: bool = False
    estimated_bytes: int = 0
    voxels: int = 0
    check_nans: bool = False
    #: Why the submitted arrays of this label cannot be used (a corrupt zip member), or "".
    broken_input: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.crop, self.label)


@dataclass
class TaskResult:
    """The official record of one (crop, class) plus what pycsc adds (status, timings, counts)."""

    crop: str
    label: str
    record: dict
    status: str
    reason: str = ""
    kind: str = "semantic"
    timings: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)

    def to_json(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: dict) -> "TaskResult":
        return cls(**data)


def one_line(exc: BaseException) -> str:
    """A one-line reason: the message for our own errors, type + message otherwise."""
    msg = " ".join(str(exc).split()) or type(exc).__name__
    return msg if isinstance(exc, PycscError) else f"{type(exc).__name__}: {msg}"


def truth_grid(truth: ZArray) -> tuple[float, ...]:
    vs = truth.attrs.get("voxel_size")
    if vs is None:
        raise DataError(f"truth array {truth.path} has no voxel_size attribute")
    return tuple(float(v) for v in vs)


def _meta(record: dict, num_voxels: int, voxel_size, is_missing: bool) -> dict:
    record.update(num_voxels=int(num_voxels), voxel_size=[float(v) for v in voxel_size], is_missing=is_missing)
    return record


def _missing_record(task: Task, truth: np.ndarray | None, truth_arr: ZArray) -> dict:
    if task.is_instance:
        rec = missing_instance(truth) if truth is not None else {
            "tp": 0, "fp": 0, "fn": 0, "hausdorff_norm_sum": 0.0, "n_hausdorff": 0}
    else:
        rec = missing_semantic(truth_arr.shape)
    try:
        vs = truth_grid(truth_arr)
    except (DataError, TypeError, ValueError):
        vs = task.geometry.voxel_size if isinstance(task.geometry, CropGeometry) else ()
    return _meta(rec, math.prod(truth_arr.shape), vs, True)


def score_task(task: Task, params: MatchingParams, *, max_ratio: float = 4096.0, threads: int | None = None,
               debug: bool = False, device: str = "cpu") -> TaskResult:
    """Score one task; never raises (errors become status "error").

    ``device="gpu"``: arrays are read on the host, then resampled, relabelled, matched and
    measured on the GPU (the small matching problem itself is solved on the host). A label
    that does not fit in GPU memory is scored again on the CPU, with a warning.
    """
    if device != "gpu":
        return _score_task(task, params, max_ratio, threads, debug, "cpu")
    try:
        return _score_task(task, params, max_ratio, threads, debug, "gpu")
    except _GpuOutOfMemory as oom:
        free_gpu_memory()
        res = _score_task(task, params, max_ratio, threads, debug, "cpu")
        res.warnings.append(f"{task.crop}/{task.label}: GPU out of memory ({oom}); scored on the CPU instead")
        res.stats["device"] = "cpu"
        return res


class _GpuOutOfMemory(Exception):
    """Raised inside _score_task to hand a label that overflowed the GPU back to the CPU."""


def is_gpu_out_of_memory(exc: BaseException) -> bool:
    """CuPy's allocation failures, recognised without importing CuPy."""
    return type(exc).__name__ == "OutOfMemoryError" and type(exc).__module__.startswith("cupy")


def free_gpu_memory() -> None:
    """Return CuPy's cached device memory (after an out-of-memory, or between labels)."""
    try:
        backend().xp.get_default_memory_pool().free_all_blocks()
    except Exception:  # no CuPy pool (emulator) or no GPU: nothing to free
        pass


def _score_task(task: Task, params: MatchingParams, max_ratio: float, threads: int | None, debug: bool,
                device: str) -> TaskResult:
    kind = "instance" if task.is_instance else "semantic"
    res = TaskResult(task.crop, task.label, {}, "scored", kind=kind)
    t_start = time.perf_counter()
    truth = truth_arr = None
    try:
        truth_arr = ZArray.open(task.truth_path)
        if isinstance(task.geometry, InvalidGeometry):  # a bad manifest row fails only its labels
            raise DataError(f"the test-manifest row of this label is unusable: {task.geometry.reason}")
        if task.broken_input:
            raise DataError(task.broken_input)
        if task.pred_path is None:
            if task.is_instance:
                t0 = time.perf_counter()
                truth = truth_arr.read(threads=threads)
                res.timings["load"] = time.perf_counter() - t0
            res.record = _missing_record(task, truth, truth_arr)
            res.record["status"] = res.status = "missing"
            if task.submitted_as_group:
                res.warnings.append(
                    f"{task.crop}/{task.label}: submitted as a group (multiscale); the official evaluator "
                    "only reads arrays, so it is scored as not submitted. Submit a plain array")
            return res
        if task.geometry is None:
            raise DataError(
                f"no test-manifest row for (crop {task.crop.removeprefix('crop')}, class {task.label!r}); "
                "the official evaluator aborts here (KeyError). Add the row or remove the truth array")
        source = locate_source(task.pred_path, task.geometry)
        if (not task.is_instance and task.mask_path is None and not task.check_nans and device == "cpu"
                and streamable(source, task.geometry, max_ratio)):
            _stream_semantic(task, res, truth_arr, source, threads)
            return res
        t0 = time.perf_counter()
        truth = truth_arr.read(threads=threads)
        if task.is_instance and task.mask_path is None:  # ids matter by value only: smallest dtype
            truth = narrow_ids(truth)
        t_truth = time.perf_counter() - t0
        pred, info = align_prediction(source, task.geometry, task.resample_as_instance,
                                      max_ratio=max_ratio, threads=threads, device=device,
                                      check_nans=task.check_nans)
        if task.is_instance and task.mask_path is None:
            pred = narrow_ids(pred)
        res.timings["load"] = t_truth + info.seconds_read
        res.timings["resample"] = info.seconds_resample
        res.stats.update(align=info.path, shift_voxels=list(info.shift_voxels),
                         source_shape=list(info.source_shape), source_dtype=info.source_dtype)
        res.warnings += [f"{task.crop}/{w}" for w in info.warnings]
        order = info.memory_order
        if task.mask_path is not None:
            mask = ZArray.open(task.mask_path).read(threads=threads)
            pred, truth = pred * mask, truth * mask
            order = "C"  # a product of a Fortran and a C array is C-ordered
            del mask
        scored = truth
        if device == "gpu":  # one upload each; every kernel below then runs on the device
            t0 = time.perf_counter()
            xp = backend().xp
            pred, scored = xp.asarray(pred), xp.asarray(truth)
            res.timings["upload"] = time.perf_counter() - t0
        if task.is_instance:
            aligned, pred = [pred], None  # handed over: score_instance frees it after relabelling
            rec = score_instance(aligned.pop(), scored, task.geometry.voxel_size, params, res.timings, res.stats,
                                 order, device=device)
            if rec["status"] != "scored":
                res.warnings.append(f"{task.crop}/{task.label}: {rec['status']} ({res.stats.get('skip_reason')}); "
                                    "this crop contributes nothing to the class")
        else:
            if pred.dtype.kind == "f" and info.path in ("native", "pad_crop"):
                res.warnings.append(f"{task.crop}/{task.label}: float prediction on the crop grid is binarised "
                                    "with > 0, not > 0.5 (official); threshold it yourself before packing")
            t0 = time.perf_counter()
            rec = semantic_counts(pred, scored)
            res.timings["counts"] = time.perf_counter() - t0
        del pred, scored
        res.status = rec["status"]
        res.record = _meta(rec, truth.size, task.geometry.voxel_size, False)
    except Exception as exc:  # one bad label must never abort the evaluation
        if device == "gpu" and is_gpu_out_of_memory(exc):
            raise _GpuOutOfMemory(one_line(exc)) from exc
        res.status = "error"
        res.reason = one_line(exc)
        if debug:
            res.reason += "\n" + traceback.format_exc()
        try:
            if truth_arr is None:
                raise DataError("the truth array is unreadable")
            if truth is None and task.is_instance:
                truth = truth_arr.read(threads=threads)
            res.record = _missing_record(task, truth, truth_arr)
        except Exception as inner:  # the truth itself is unreadable: no penalty can be counted
            res.record = {"tp": 0, "fp": 0, "fn": 0, **({"hausdorff_norm_sum": 0.0, "n_hausdorff": 0}
                                                         if task.is_instance else {}),
                          "num_voxels": 0, "voxel_size": [], "is_missing": True}
            if truth_arr is not None:
                res.reason += f" (truth unreadable too: {one_line(inner)})"
        res.record["status"] = "error"
        res.record["error"] = res.reason.splitlines()[0]
    finally:
        res.timings["total"] = time.perf_counter() - t_start
        res.stats.setdefault("pid", os.getpid())
    return res


def _stream_semantic(task: Task, res: TaskResult, truth_arr: ZArray, source, threads: int | None) -> None:
    """A semantic label on the crop grid: counts chunk by chunk (pycsc.eval.stream), same record."""
    arr = source.array
    name = arr.path.name
    if source.voxel_size is None:
        res.warnings.append(f"{task.crop}/{name}: no voxel_size attribute; matched by shape only (centre pad/crop)")
    if source.translation is None:
        res.warnings.append(f"{task.crop}/{name}: no translation attribute; assumed to start at the crop origin")
    if arr.dtype.kind == "f":
        res.warnings.append(f"{task.crop}/{task.label}: float prediction on the crop grid is binarised "
                            "with > 0, not > 0.5 (official); threshold it yourself before packing")
    t0 = time.perf_counter()
    rec = stream_semantic_counts(truth_arr, arr, threads)
    res.timings["counts"] = time.perf_counter() - t0
    res.timings["load"] = 0.0
    res.stats.update(align="native", shift_voxels=[0, 0, 0], source_shape=list(arr.shape),
                     source_dtype=str(arr.dtype), streamed=True)
    res.status = rec["status"]
    res.record = _meta(rec, truth_arr.size, task.geometry.voxel_size, False)


def estimate_task_bytes(truth: ZArray, pred: ZArray | None, is_instance: bool) -> int:
    """Peak memory of one task (bytes), from metadata only."""
    n = truth.size
    t_item = truth.dtype.itemsize
    if pred is None:
        return n * t_item if is_instance else 0
    p_item = max(pred.dtype.itemsize, 1)
    source = pred.size * p_item if pred.shape != truth.shape else 0  # read before resampling
    if is_instance:  # truth + aligned prediction + components (uint32) + remapped (truth-sized ids)
        return n * (2 * t_item + p_item + 4) + source
    whole = n * (t_item + p_item + 2) + (pred.size * 16 if source else 0) + source
    if not source:  # on the crop grid: counted chunk by chunk (pycsc.eval.stream), a few blocks per thread
        return min(whole, 16 * (math.prod(truth.chunks) * (t_item + 1) + math.prod(pred.chunks) * (p_item + 1)))
    return whole


def make_task(crop: str, label: str, truth_crop: Path, pred_crop: Path | None, geometry: CropGeometry | None,
              instance_classes: tuple[str, ...], *, check_nans: bool = False, broken_input: str = "") -> Task:
    """Build the task for truth array `truth_crop/label` (metadata reads only)."""
    truth_path = truth_crop / label
    pred_path = None
    group = False
    if pred_crop is not None:
        candidate = pred_crop / label
        if is_array(candidate):
            pred_path = candidate
        elif candidate.is_dir():
            group = True
    mask = truth_crop / f"{label}_mask"
    is_inst = label in instance_classes
    est, voxels = 0, 0
    try:
        t_arr = ZArray.open(truth_path)
        voxels = t_arr.size
        p_arr = ZArray.open(pred_path) if pred_path is not None else None
        est = estimate_task_bytes(t_arr, p_arr, is_inst)
    except PycscError:
        pass  # the task reports it when it runs
    return Task(crop, label, truth_path, pred_path, geometry, is_inst, label in DEFAULT_INSTANCE_CLASSES,
                mask if is_array(mask) else None, group, est, voxels, check_nans, broken_input)


__all__ = ["Task", "TaskResult", "score_task", "make_task", "estimate_task_bytes", "one_line"]
