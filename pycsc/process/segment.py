"""Probabilities -> foreground mask -> objects, for volumes (or blocks) held in memory.

The numbering is cc3d's: ``label_objects`` equals ``cc3d.connected_components`` of the mask,
then ``cc3d.dust`` (objects below `min_size` voxels removed) and ``fastremap.renumber``, i.e.
the kept objects numbered 1..n in the C-order raster order of their first voxels; the labels
come back in the smallest unsigned dtype that holds n (uint8, uint16, uint32 or uint64).

Thresholding follows ``decode_probabilities(stored) > threshold`` exactly: for uint8
predictions (``round(255 p)``) that is ``stored >= cutoff`` for one integer cutoff, found by
decoding all 256 values once, so the kernel compares bytes and never builds a float volume.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _core
from ..predict.run import decode_probabilities


# One zero-filled id buffer kept from the last volume labelled with `reuse_ids`: on large
# volumes first touching fresh pages costs more than labelling them.
_IDS_POOL: dict[tuple, np.ndarray] = {}


def release_buffers() -> None:
    """Drop the id buffer kept between volumes (call when a run is over)."""
    _IDS_POOL.clear()


@dataclass(frozen=True)
class Foreground:
    """Foreground voxels as ``data >= cutoff`` (uint8 `data`, 1 <= cutoff <= 256)."""

    data: np.ndarray
    cutoff: int

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    def as_mask(self) -> np.ndarray:
        """The foreground as a uint8 0/1 array."""
        if self.cutoff > 255:
            return np.zeros(self.data.shape, np.uint8)
        return np.greater_equal(self.data, self.cutoff).view(np.uint8)


def uint8_cutoff(threshold: float) -> int:
    """Least stored uint8 value whose decoded probability exceeds `threshold` (256: none)."""
    above = decode_probabilities(np.arange(256, dtype=np.uint8)) > threshold
    return int(np.argmax(above)) if above.any() else 256


def foreground(stored: np.ndarray, threshold: float) -> Foreground:
    """The voxels of a stored prediction block whose probability exceeds `threshold`.

    Examples
    --------
    >>> fg = foreground(np.array([[[0, 127, 128, 255]]], np.uint8), 0.5)
    >>> fg.cutoff, fg.as_mask().tolist()
    (128, [[[0, 0, 1, 1]]])
    """
    stored = np.asarray(stored)
    if stored.dtype == np.uint8:
        return Foreground(stored, uint8_cutoff(threshold))
    probs = stored if stored.dtype == np.float32 else decode_probabilities(stored)
    return Foreground(np.greater(probs, threshold).view(np.uint8), 1)


def id_dtype(n: int) -> np.dtype:
    """Smallest unsigned dtype holding ids 0..n."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if n <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.uint64)


def components(fg: Foreground, connectivity: int, core: tuple[int, int, int] | None = None,
               in_place: bool = False, ids_out: np.ndarray | None = None
               ) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """Connected components of the foreground: (ids, n, voxels per id, first voxel per id).

    ids are uint32 (uint64 beyond 2**32 - 1 voxels) numbered 1..n in raster order; the two
    tables are int64 of length n + 1 (entry 0: background). Both count only the voxels of the
    leading box `core` (default: all); the second holds the C-order linear index (in that box)
    of each object's first voxel there, ``iinfo(int64).max`` for objects outside it. With
    `in_place`, ``fg.data`` (C-contiguous, writable) is overwritten by the 0/1 mask, which
    saves allocating one (fresh pages cost more than the pass over them). `ids_out`, a
    zero-filled array of the ids' shape and dtype, receives the ids instead of a new array.
    """
    data = fg.data if in_place else np.ascontiguousarray(fg.data)
    core = tuple(data.shape) if core is None else tuple(int(c) for c in core)
    if fg.cutoff > 255 or data.size == 0:
        empty = np.zeros(1, np.int64)
        return np.zeros(data.shape, np.uint32), 0, np.array([np.prod(core)], np.int64), empty - 1
    ids, n, sizes, first = _core.threshold_components(data, int(fg.cutoff), int(connectivity), core,
                                                      in_place=in_place, ids_out=ids_out)
    return ids, int(n), sizes, first


def keep_table(sizes: np.ndarray, min_size: int) -> tuple[np.ndarray, int]:
    """Id table dropping objects below `min_size` voxels and numbering the rest 1..k in id
    order: (table in the smallest dtype for k, k)."""
    keep = sizes >= max(1, int(min_size))
    keep[0] = False
    kept = int(np.count_nonzero(keep))
    table = np.zeros(sizes.size, id_dtype(kept))
    table[keep] = np.arange(1, kept + 1, dtype=table.dtype)
    return table, kept


def label_objects(fg: Foreground, connectivity: int, min_size: int, in_place: bool = False,
                  reuse_ids: bool = False) -> tuple[np.ndarray, int]:
    """Objects of the foreground with at least `min_size` voxels, numbered 1..n in raster
    order, in the smallest unsigned dtype for n; returns (labels, n). `in_place` as for
    :func:`components` (then the mask also guides the id lookup past background);
    `reuse_ids` labels into the id buffer kept from the previous call and keeps it (zeroed
    again) for the next (see :func:`release_buffers`).

    Examples
    --------
    >>> fg = foreground(np.array([[[200, 0, 200, 200]]], np.uint8), 0.5)
    >>> labels, n = label_objects(fg, 26, min_size=2)
    >>> labels.tolist(), labels.dtype.name, n
    ([[[0, 0, 1, 1]]], 'uint8', 1)
    """
    key = (tuple(fg.shape), int(np.prod(fg.shape)) > np.iinfo(np.uint32).max)
    ids_out = _IDS_POOL.pop(key, None) if reuse_ids else None
    ids, n, sizes, _ = components(fg, connectivity, in_place=in_place, ids_out=ids_out)
    table, kept = keep_table(sizes, min_size)
    if kept == n and table.dtype == ids.dtype:
        return ids, n                       # nothing removed, ids already in the right dtype
    mask = fg.data if in_place and fg.cutoff <= 255 and ids.size else None
    labels = _core.apply_id_table(ids, table, mask, clear_ids=reuse_ids)
    if reuse_ids:
        _IDS_POOL.clear()
        _IDS_POOL[key] = ids                # zero-filled again by apply_id_table
    return labels, kept
