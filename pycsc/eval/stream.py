"""Semantic counts block by block while reading, skipping chunks that are not stored.

For a semantic label submitted on the crop grid (no resampling, no shift, same shape, no
mask) the official counts are sums over voxels of ``pred > 0`` and ``truth > 0`` (evaluation.md
§5.6, §6), so they can be taken one truth chunk at a time::

    truth chunk grid   [s][ ][ ][s]      s = chunk file stored, blank = fill value
    pred chunks        [s][s][ ][ ]      block 2: neither stored -> counted from the two
                                         fill values, nothing read or allocated

Peak memory is one block pair per thread instead of both whole arrays, and absent chunks
(most of a sparse label) are never decompressed. The result equals ``semantic_counts`` on
the aligned arrays exactly (integer counts).
"""

from __future__ import annotations

import itertools
import math
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .align import Source, _last, check_size_ratio, snap_shift
from .manifest import CropGeometry
from .semantic import _foreground
from .store import ZArray


def stored_chunks(arr: ZArray) -> set[tuple[int, ...]]:
    """Grid positions of the chunk files present in `arr` (absent ones hold the fill value)."""
    grid = [math.ceil(s / c) for s, c in zip(arr.shape, arr.chunks)]
    found: set[tuple[int, ...]] = set()
    if arr.separator == "/":
        base = len(arr.path.parts)
        for here, dirs, files in os.walk(arr.path):
            prefix = Path(here).parts[base:]
            for name in files:
                key = (*prefix, name)
                if len(key) == arr.ndim and all(k.isdigit() for k in key):
                    found.add(tuple(int(k) for k in key))
            dirs[:] = [d for d in dirs if d.isdigit()] if len(prefix) < arr.ndim - 1 else []
    else:
        for name in os.listdir(arr.path):
            parts = name.split(".")
            if len(parts) == arr.ndim and all(p.isdigit() for p in parts):
                found.add(tuple(int(p) for p in parts))
    return {k for k in found if all(i < g for i, g in zip(k, grid))}


def streamable(source: Source, target: CropGeometry, max_ratio: float) -> bool:
    """True when the official alignment of `source` is the identity (native grid, no shift)."""
    arr = source.array
    if arr.ndim != 3 or len(target.shape) != 3 or tuple(arr.shape) != tuple(target.shape):
        return False
    check_size_ratio(arr, target, max_ratio)  # ratio 1 here; keeps the official error path
    if source.voxel_size is not None:
        in_vs = _last(np.asarray(source.voxel_size, float), 3)
        if not (np.all(np.isfinite(in_vs)) and np.all(in_vs > 0)):
            return False  # the aligner raises the proper error
        if not np.allclose(in_vs, np.asarray(target.voxel_size, float)):
            return False
    return not any(snap_shift(source.translation, target))


def _overlapping(region: tuple[slice, ...], chunks: tuple[int, ...]) -> list[range]:
    return [range(r.start // c, (r.stop - 1) // c + 1) for r, c in zip(region, chunks)]


def _constant_fg(arr: ZArray) -> bool:
    return bool(_foreground(np.asarray(arr.fill_value).astype(arr.dtype)))


def stream_semantic_counts(truth: ZArray, pred: ZArray, threads: int | None = None) -> dict:
    """Official ``{tp, fp, fn, status}`` of `pred` against `truth` (same shape), chunk by chunk."""
    if truth.shape != pred.shape:
        raise ValueError(f"aligned prediction shape {pred.shape} differs from the truth shape {truth.shape}")
    t_stored, p_stored = stored_chunks(truth), stored_chunks(pred)
    t_fill, p_fill = _constant_fg(truth), _constant_fg(pred)
    blocks = list(np.ndindex(*[math.ceil(s / c) for s, c in zip(truth.shape, truth.chunks)]))

    def count(block: tuple[int, ...]) -> tuple[int, int, int]:
        region = tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(block, truth.chunks, truth.shape))
        n = math.prod(r.stop - r.start for r in region)
        has_t = block in t_stored
        has_p = any(k in p_stored for k in itertools.product(*_overlapping(region, pred.chunks)))
        if not has_t and not has_p:
            return (n if t_fill and p_fill else 0), (n if p_fill else 0), (n if t_fill else 0)
        p = _foreground(pred.read(region, threads=1)) if has_p else None
        t = _foreground(truth.read(region, threads=1)) if has_t else None
        if t is None:
            n_p = int(np.count_nonzero(p))
            return (n_p if t_fill else 0), n_p, (n if t_fill else 0)
        n_t = int(np.count_nonzero(t))
        if p is None:
            return (n_t if p_fill else 0), (n if p_fill else 0), n_t
        return int(np.count_nonzero(p & t)), int(np.count_nonzero(p)), n_t

    workers = max(1, min(threads or os.cpu_count() or 1, len(blocks)))
    if workers == 1:
        parts = [count(b) for b in blocks]
    else:
        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(count, blocks, chunksize=16))
    tp = sum(p[0] for p in parts)
    n_pred = sum(p[1] for p in parts)
    n_truth = sum(p[2] for p in parts)
    return {"tp": tp, "fp": n_pred - tp, "fn": n_truth - tp, "status": "scored"}


__all__ = ["stored_chunks", "streamable", "stream_semantic_counts"]
