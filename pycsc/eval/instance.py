"""Instance scoring of one aligned label (evaluation.md §7): relabel -> match -> remap -> Hausdorff.

Kept quirks: the prediction is relabelled into 26-connected components numbered in raster
order; unmatched components keep that number, which may equal a truth id, and then join that
truth object's prediction mask in the Hausdorff step (B3); crops failing the instance-count
gate or the overlap-edge cap contribute nothing (B4); unmatched objects on either side cost
``norm(D)``, not 0 (B5). Distances are rounded to float32 as the official stores them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .. import ops
from ..gpu import floats
from ..ops._dispatch import array_module, integral_ids, to_host
from ..errors import MatchingFailedError, TooManyInstancesError, TooManyOverlapEdgesError


@dataclass(frozen=True)
class MatchingParams:
    """The official matching knobs (``EvaluationConfig`` defaults)."""

    final_instance_ratio_cutoff: float = 10.0
    initial_instance_ratio_cutoff: float = 50.0
    instance_ratio_factor: float = 5.0
    max_overlap_edges: int = 5_000_000
    mcmf_cost_scale: int = 1_000_000
    hausdorff_method: str = "standard"


def max_distance(voxel_size, shape) -> float:
    """Hausdorff cap D: half the smallest physical side of the crop (nm)."""
    return float(min(v * s for v, s in zip(voxel_size, shape)) / 2)


def normalize_distances(distances: np.ndarray, voxel_size) -> np.ndarray:
    """``1.01 ** (-d / ||voxel_size||)`` in float64 (inf -> 0)."""
    return np.power(1.01, -np.asarray(distances, np.float64) / float(np.linalg.norm(np.asarray(voxel_size, float))))


def as_component_input(pred: np.ndarray) -> np.ndarray:
    """Integer labels with the same equal-value structure as `pred` (float ids become codes).

    Connected components join voxels of equal value; float ids (possibly smoothed by
    resampling, B7) are mapped to integer codes with 0.0 kept as background. NaN is
    foreground and equal to nothing in cc3d, so every NaN voxel gets a code of its own (and
    becomes an object of its own). NumPy or CuPy.
    """
    if pred.dtype.kind != "f":
        return pred
    xp = array_module(pred)
    if floats.flushes(pred) and floats.has_subnormals(pred):
        # CuPy would read these ids as 0 (flush-to-zero); code them on the host, exactly.
        return xp.asarray(as_component_input(to_host(pred)))
    if pred.size == 0:
        return pred.astype(np.uint8)
    lo, hi = float(pred.min()), float(pred.max())
    if -(2.0 ** 53) <= lo and hi <= 2.0 ** 53 and bool(xp.array_equal(pred, xp.trunc(pred))):
        return pred.astype(np.int64)
    values, codes = xp.unique(pred, return_inverse=True)
    codes = codes.reshape(pred.shape).astype(np.uint64) + np.uint64(1)
    codes[pred == 0] = 0
    nan = xp.isnan(pred)
    n_nan = int(xp.count_nonzero(nan))
    if n_nan:  # cc3d compares values with ==, so no NaN voxel joins any other: one code each
        codes[nan] = xp.arange(values.size + 1, values.size + 1 + n_nan, dtype=np.uint64)
    return codes


def relabel(pred: np.ndarray, memory_order: str = "C", device: str = "cpu") -> tuple[np.ndarray, int]:
    """26-connected components numbered like cc3d: in raster order of the array's memory
    layout (``memory_order="F"``: as cc3d numbers a Fortran-ordered array)."""
    labels = as_component_input(pred)
    if memory_order == "F":
        xp = array_module(labels)
        components, n = ops.connected_components(xp.ascontiguousarray(labels.T), device=device)
        return components.T, int(n)
    components, n = ops.connected_components(labels, device=device)
    return components, int(n)


def narrow_ids(labels: np.ndarray) -> np.ndarray:
    """Unsigned ids in the smallest unsigned dtype that holds the largest one (values, and so
    every score, unchanged; a label with few objects then takes 1/4 or 1/8 of the memory).

    Other dtypes (signed, float, bool) and CuPy arrays are returned as they are.

    Examples
    --------
    >>> narrow_ids(np.array([0, 7, 300], np.uint64)).dtype
    dtype('uint16')
    """
    if not isinstance(labels, np.ndarray) or labels.dtype.kind != "u" or labels.dtype.itemsize == 1 or not labels.size:
        return labels
    top = int(labels.max())
    for dtype in (np.uint8, np.uint16, np.uint32):
        if np.dtype(dtype).itemsize < labels.dtype.itemsize and top <= np.iinfo(dtype).max:
            order = "F" if labels.flags.f_contiguous and not labels.flags.c_contiguous else "C"
            return labels.astype(dtype, order=order)
    return labels


def remap_components(components, mapping: dict[int, int], n_pred: int, device: str = "cpu",
                     in_place_min_voxels: int = 1 << 26):
    """``ops.remap(components, mapping, preserve_missing=True)``; in place through a table for
    volumes of at least `in_place_min_voxels` when the components' dtype holds every new id (a
    large label then needs no second volume; small ones take the faster copying kernel).

    `components` holds 0..n_pred (connected components), so a table of n_pred + 1 entries
    covers every value; unmapped components keep their id, as fastremap's
    ``preserve_missing_labels`` does.
    """
    big = max(mapping.values(), default=0)
    if (components.size < in_place_min_voxels or not isinstance(components, np.ndarray)
            or not components.flags.c_contiguous
            or components.dtype.kind != "u" or big > np.iinfo(components.dtype).max):
        return ops.remap(components, mapping, preserve_missing=True, device=device)
    table = np.arange(n_pred + 1, dtype=components.dtype)
    for old, new in mapping.items():
        if 0 <= old <= n_pred:
            table[old] = new
    flat = components.reshape(-1)
    # mode="clip" is unbuffered, so each output element is written after its index is read.
    np.take(table, flat, out=flat, mode="clip")
    return components


def count_truth_objects(truth: np.ndarray, device: str = "cpu") -> int:
    """Number of distinct non-zero truth ids."""
    ids = to_host(ops.unique(integral_ids(truth, "truth"), device=device))
    return int(np.count_nonzero(ids))


def missing_instance(truth: np.ndarray, device: str = "cpu") -> dict:
    """An instance label that was not submitted: every truth object is a false negative with a
    zero Hausdorff term (harsher than an empty submission, B5)."""
    n = count_truth_objects(truth, device)
    return {"tp": 0, "fp": 0, "fn": n, "hausdorff_norm_sum": 0.0, "n_hausdorff": n}


def score_instance(pred: np.ndarray, truth: np.ndarray, voxel_size, params: MatchingParams = MatchingParams(),
                   timings: dict | None = None, stats: dict | None = None, memory_order: str = "C",
                   device: str = "cpu") -> dict:
    """Official instance record ``{tp, fp, fn, hausdorff_norm_sum, n_hausdorff, status}``.

    `timings` receives seconds per stage (components, matching, remap, hausdorff) and `stats`
    counts (n_pred, n_truth, collisions) when given; `memory_order` is the layout the official
    evaluator would hold `pred` in (it decides the component numbering, see :func:`relabel`).
    With ``device="gpu"`` every kernel runs on the GPU (CuPy or NumPy arrays in); the record
    is the same as on the CPU.

    Examples
    --------
    >>> t = np.array([[[0, 1, 1], [0, 2, 2]]], np.uint32)
    >>> r = score_instance(t.copy(), t, (1.0, 1.0, 1.0))
    >>> r["tp"], r["n_hausdorff"], r["hausdorff_norm_sum"]
    (2, 2, 2.0)
    """
    timings = {} if timings is None else timings
    stats = {} if stats is None else stats
    if pred.shape != truth.shape:
        raise ValueError(f"aligned prediction shape {pred.shape} differs from the truth shape {truth.shape}")
    cap = max_distance(voxel_size, truth.shape)
    truth = integral_ids(truth, "truth")  # float truth holding whole ids, as the official accepts
    t0 = time.perf_counter()
    components, n_pred = relabel(pred, memory_order, device)
    del pred
    timings["components"] = time.perf_counter() - t0
    stats["n_pred"] = n_pred
    t0 = time.perf_counter()
    try:
        mapping = ops.match_instances(
            truth, components,
            final_instance_ratio_cutoff=params.final_instance_ratio_cutoff,
            initial_instance_ratio_cutoff=params.initial_instance_ratio_cutoff,
            instance_ratio_factor=params.instance_ratio_factor,
            max_overlap_edges=params.max_overlap_edges,
            cost_scale=params.mcmf_cost_scale,
            device=device,
        )
    except (TooManyInstancesError, TooManyOverlapEdgesError, MatchingFailedError) as exc:
        timings["matching"] = time.perf_counter() - t0
        stats["skip_reason"] = str(exc)
        status = "matching_failed" if isinstance(exc, MatchingFailedError) else "skipped_too_many_instances"
        return {"tp": 0, "fp": 0, "fn": 0, "hausdorff_norm_sum": 0.0, "n_hausdorff": 0, "status": status}
    timings["matching"] = time.perf_counter() - t0
    mapping = {int(k): int(v) for k, v in mapping.items()}
    t0 = time.perf_counter()
    if mapping and mapping != {0: 0}:
        mapping[0] = 0
        components = remap_components(components, mapping, n_pred, device)
    timings["remap"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    truth_ids, distances = to_host(ops.hausdorff_distances(truth, components, voxel_size, cap,
                                                           method=params.hausdorff_method, device=device))
    timings["hausdorff"] = time.perf_counter() - t0
    matched_truth = {v for v in mapping.values() if v != 0}
    matched_pred = [k for k in mapping if k != 0]
    tp = len(matched_truth)
    fp = n_pred - len(matched_pred)
    fn = len(truth_ids) - tp
    stats["n_truth"] = int(len(truth_ids))
    unmatched = np.setdiff1d(np.arange(1, n_pred + 1, dtype=np.uint64), np.asarray(matched_pred, np.uint64))
    stats["collisions"] = int(np.count_nonzero(np.isin(unmatched, np.asarray(truth_ids, np.uint64))))
    # The official keeps distances in float32 (one per truth id, then one cap per unmatched pred).
    all_d = np.concatenate([np.asarray(distances, np.float32), np.full(fp, cap, np.float32)])
    norm_sum = float(np.sum(normalize_distances(all_d, voxel_size)))
    return {"tp": tp, "fp": fp, "fn": fn, "hausdorff_norm_sum": norm_sum, "n_hausdorff": int(all_d.size),
            "status": "scored"}


__all__ = ["MatchingParams", "max_distance", "normalize_distances", "as_component_input", "relabel", "remap_components", "narrow_ids",
           "count_truth_objects", "missing_instance", "score_instance"]
