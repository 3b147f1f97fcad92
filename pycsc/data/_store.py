"""The pipeline's narrow view of storage: OME-NGFF levels, boxed reads, prediction groups.

Every pipeline module reaches the arrays only through these few functions (built on
:mod:`pycsc.io`), so that the training loader, predict, process and pack share one geometry
convention:

* positions are zyx nanometres; a level's ``translation`` is the centre of its voxel 0, so
  voxel ``i`` covers ``[t + (i - 1/2) v, t + (i + 1/2) v)`` and the level's lower *edge* is
  ``t - v/2``;
* a box is given by its lower edge and its shape on a grid of voxel size ``v``.

Read handles are tensorstore arrays, opened once per process and cached.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import io
from ..io import s3_arrays

_ARRAYS: dict[str, Any] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Level:
    """One scale level of an OME-NGFF multiscale group."""

    path: str                 # the array's folder
    voxel_size: tuple[float, float, float]
    translation: tuple[float, float, float]
    shape: tuple[int, int, int]

    @property
    def edge(self) -> np.ndarray:
        """World position of the lower edge of voxel 0."""
        return np.asarray(self.translation) - np.asarray(self.voxel_size) / 2


def read_attrs(path: str | Path) -> dict:
    """User attributes of a zarr node (empty when it has none or is not a zarr node)."""
    if s3_arrays.is_s3(path):
        return s3_arrays.read_attrs(path)
    p = Path(path)
    if (p / ".zattrs").is_file() and ((p / ".zgroup").is_file() or (p / ".zarray").is_file()):
        return json.loads((p / ".zattrs").read_bytes())   # zarr v2: the file is the attributes
    if not ((p / ".zattrs").is_file() or (p / "zarr.json").is_file()):
        return {}
    return io.read_attrs(p)


def _write_v2_attrs(group: Path, attrs: dict) -> None:
    # One atomic file write: what zarr-python does for a v2 node, without its event-loop
    # round trips (a few ms each, which dominate for small volumes).
    from .._atomic import atomic_write_bytes

    atomic_write_bytes(group / ".zattrs", json.dumps(attrs).encode())    # C encoder: no indent


def read_levels(group: str | Path) -> list[Level]:
    """The levels of the OME-NGFF multiscale group at `group`, in the order listed."""
    ms = (s3_arrays.read_multiscale(group) if s3_arrays.is_s3(group)
          else io.ngff.parse_multiscales(read_attrs(group), str(group)))
    levels = []
    for lv in ms.levels:
        path = os.path.join(str(group), lv.path)
        levels.append(Level(path, tuple(lv.voxel_size[-3:]), tuple(lv.translation[-3:]),
                            tuple(int(n) for n in open_array(path).shape[-3:])))
    return levels


def choose_level(levels: list[Level], voxel_size: np.ndarray) -> Level:
    """The level to read for a target voxel size.

    A level within 1 % of the target wins; else the coarsest level that is finer than the
    target on every axis (down-sampling it loses least); else the finest level (up-sampled).
    """
    target = np.asarray(voxel_size, float)
    for lv in levels:
        if np.all(np.abs(np.asarray(lv.voxel_size) - target) <= 0.01 * target):
            return lv
    finer = [lv for lv in levels if np.all(np.asarray(lv.voxel_size) <= target)]
    if finer:
        return max(finer, key=lambda lv: float(np.prod(lv.voxel_size)))
    return min(levels, key=lambda lv: float(np.prod(lv.voxel_size)))


def open_array(path: str) -> Any:
    """A cached read-only tensorstore handle (one per process; handles are thread-safe)."""
    handle = _ARRAYS.get(path)
    if handle is None:
        handle = s3_arrays.open_array(path) if s3_arrays.is_s3(path) else io.open_array(path)
        with _LOCK:
            _ARRAYS[path] = handle
    return handle


# Decoded whole arrays kept in memory by the training loader (per process, least recently
# used first out). Crops are read thousands of times per epoch; decompressing the same
# chunks again dominated a patch's cost. Arrays larger than a quarter of the budget (whole
# EM datasets) are never held and are read through tensorstore each time.
_MEMORY: "OrderedDict[str, np.ndarray]" = OrderedDict()
_MEMORY_BYTES = [0, 1 << 30]      # [held, budget]


def set_memory_budget(n_bytes: int) -> None:
    """Bytes of decoded arrays each process may keep for :func:`read_box` ``(cache=True)``."""
    _MEMORY_BYTES[1] = int(n_bytes)
    while _MEMORY and _MEMORY_BYTES[0] > _MEMORY_BYTES[1]:
        _MEMORY_BYTES[0] -= _MEMORY.popitem(last=False)[1].nbytes


def _in_memory(level: Level) -> np.ndarray | None:
    held = _MEMORY.get(level.path)
    if held is not None:
        _MEMORY.move_to_end(level.path)
        return held
    arr = open_array(level.path)
    n_bytes = int(np.prod(level.shape)) * arr.dtype.numpy_dtype.itemsize
    if n_bytes > _MEMORY_BYTES[1] // 4:
        return None
    held = arr.read().result()
    held.setflags(write=False)
    with _LOCK:
        _MEMORY[level.path] = held
        _MEMORY_BYTES[0] += n_bytes
        set_memory_budget(_MEMORY_BYTES[1])
    return held


def read_box(level: Level, start, shape, *, cache: bool = False) -> np.ndarray:
    """Voxels ``[start, start + shape)`` of `level`; parts outside the array read as 0.

    With `cache`, a small enough array is decoded once per process and kept in memory
    (:func:`set_memory_budget`); a box inside the array is then a read-only view of it.
    """
    start = np.asarray(start, dtype=np.int64)
    stop = start + np.asarray(shape, dtype=np.int64)
    lo = np.clip(start, 0, level.shape)
    hi = np.clip(stop, 0, level.shape)
    # Streamed (s3://) arrays keep to the bounded chunk cache of their S3 settings (cache_mb):
    # holding whole remote volumes would defeat the bound and hide retries from the reader.
    arr = (_in_memory(level) if cache and not s3_arrays.is_s3(level.path) else None)
    if arr is None:
        store = open_array(level.path)
        dtype = store.dtype.numpy_dtype

        def read(box):
            return store[box].read().result()
    else:
        dtype = arr.dtype

        def read(box):  # a read-only view: callers copy when they need to write
            return arr[box]
    inner = tuple(slice(a, b) for a, b in zip(lo, hi))
    if np.all(lo == start) and np.all(hi == stop):
        return read(inner)
    out = np.zeros(tuple(int(s) for s in shape), dtype=dtype)
    if np.all(hi > lo):
        out[tuple(slice(a - s, b - s) for a, b, s in zip(lo, hi, start))] = read(inner)
    return out


def level_box(level: Level) -> tuple[np.ndarray, np.ndarray]:
    """World lower and upper edges of a level."""
    edge = level.edge
    return edge, edge + np.asarray(level.shape) * np.asarray(level.voxel_size)


# ---- writing ---------------------------------------------------------------------------------

def create_volume(group: str | Path, shape, dtype, voxel_size, translation, chunks,
                  attrs: dict | None = None) -> Any:
    """Create (replacing) an OME-NGFF single-level group ``group`` with array ``s0``.

    Returns the writable tensorstore of ``s0`` (Zarr v2, zstd, chunk separator ``/``).
    """
    group = Path(group)
    shutil.rmtree(group, ignore_errors=True)
    _ARRAYS.pop(str(group / "s0"), None)
    held = _MEMORY.pop(str(group / "s0"), None)
    if held is not None:
        _MEMORY_BYTES[0] -= held.nbytes
    ms = io.Multiscale((io.ScaleLevel("s0", tuple(float(v) for v in voxel_size),
                                      tuple(float(t) for t in translation)),), name=group.name)
    group.mkdir(parents=True, exist_ok=True)
    (group / ".zgroup").write_text('{\n    "zarr_format": 2\n}')
    _write_v2_attrs(group, {**(attrs or {}), **io.ngff.to_attrs(ms)})
    return io.create_array(group / "s0", tuple(int(s) for s in shape), dtype, chunks)


def ensure_parent_groups(group: str | Path) -> None:
    """Give every folder from the ``*.zarr`` root down to `group`'s parent a ``.zgroup``."""
    p = Path(group)
    parts = p.parts
    roots = [i for i, part in enumerate(parts) if part.endswith(".zarr")]
    start = roots[0] if roots else len(parts) - 1
    for i in range(start, len(parts)):
        folder = Path(*parts[: i + 1])
        folder.mkdir(parents=True, exist_ok=True)
        marker = folder / ".zgroup"
        if not marker.exists() and not (folder / ".zarray").exists():
            marker.write_text('{\n    "zarr_format": 2\n}')


def mark_complete(group: str | Path, info: dict) -> None:
    """Record in the group's attributes that it was written to the end (resume marker)."""
    group = Path(group)
    if (group / ".zgroup").is_file():
        _write_v2_attrs(group, {**read_attrs(group), "pycsc": {"complete": True, **info}})
    else:
        io.arrays.write_attrs(group, {"pycsc": {"complete": True, **info}})


def is_complete(group: str | Path) -> bool:
    return bool(read_attrs(group).get("pycsc", {}).get("complete", False))
