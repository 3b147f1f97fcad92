"""Blockwise thresholding and connected-component labelling of volumes larger than memory.

Labelling in three passes over blocks of `block_shape` voxels:

1. label each block's foreground on its own (:func:`pycsc.ops.connected_components`) and
   store provisional ids offset to be unique (a temporary uint64 array), with their sizes;
2. read the two planes on either side of every block boundary and record which
   provisional ids touch across it (respecting 6/18/26-connectivity, so diagonal contacts
   across block edges and corners are found from the face planes alone); union-find the
   pairs;
3. map provisional ids to final consecutive ids (objects smaller than `min_size` -> 0).

The result equals whole-volume connected components up to a renumbering of the objects::

       block A        |        block B
     . . 1 1 . .      |      . 7 7 . .        1 touches 7 across the face
     . . 1 1 . .      |      . 7 . . .        (26-connectivity also matches
                  plane k-1 | plane k          diagonal neighbours): 1 == 7
"""

from __future__ import annotations

import itertools
from typing import Callable

import numpy as np


def blocks(shape, block_shape):
    """Slices of the blocks tiling `shape`, z-major."""
    ranges = [range(0, int(n), int(b)) for n, b in zip(shape, block_shape)]
    for corner in itertools.product(*ranges):
        yield tuple(slice(c, min(c + int(b), int(n))) for c, b, n in zip(corner, block_shape, shape))


def _shifts(connectivity: int):
    """In-plane offsets (d1, d2) linking voxels of adjacent planes."""
    allowed = {6: 0, 18: 1, 26: 2}[connectivity]
    return [(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1) if abs(a) + abs(b) <= allowed]


def _shifted_pairs(lo: np.ndarray, hi: np.ndarray, shifts) -> np.ndarray:
    """Pairs of non-zero ids at (p) in `lo` and (p + shift) in `hi` (2D planes)."""
    out = []
    n1, n2 = lo.shape
    for d1, d2 in shifts:
        a = lo[max(0, -d1):n1 - max(0, d1), max(0, -d2):n2 - max(0, d2)]
        b = hi[max(0, d1):n1 - max(0, -d1), max(0, d2):n2 - max(0, -d2)]
        keep = (a != 0) & (b != 0)
        if keep.any():
            out.append(np.stack([a[keep], b[keep]], axis=1))
    if not out:
        return np.zeros((0, 2), np.uint64)
    return np.unique(np.concatenate(out).astype(np.uint64), axis=0)


def _find(parent: np.ndarray, i: int) -> int:
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:
        parent[i], i = root, parent[i]
    return root


def union_pairs(n: int, pairs: np.ndarray) -> np.ndarray:
    """Root of every id 0..n after joining each pair (0 stays 0)."""
    parent = np.arange(n + 1, dtype=np.int64)
    for a, b in pairs.tolist():
        ra, rb = _find(parent, a), _find(parent, b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    while True:  # pointer jumping until every id points at its root
        nxt = parent[parent]
        if np.array_equal(nxt, parent):
            return parent
        parent = nxt


def label_blockwise(read_mask: Callable, shape, block_shape, connectivity: int, min_size: int,
                    provisional) -> tuple[int, np.ndarray]:
    """Passes 1 and 2: provisional ids into `provisional`; returns (objects kept, id table).

    `read_mask(slices) -> bool array`; `provisional` is a writable uint64 array of `shape`
    (zarr or NumPy). ``table[provisional id]`` is the final id (0 = removed / background);
    apply it with :func:`relabel_blocks`.
    """
    from ..ops import connected_components, voxel_counts

    sizes = [np.zeros(1, np.int64)]
    offset = 0
    for sl in blocks(shape, block_shape):
        local, n = connected_components(np.ascontiguousarray(read_mask(sl), dtype=np.uint8),
                                        connectivity=connectivity)
        local = local.astype(np.uint64)
        counts = np.zeros(n + 1, np.int64)
        if n:
            ids, cnt = voxel_counts(local)
            counts[np.asarray(ids, np.int64)] = cnt
            local[local > 0] += np.uint64(offset)
        provisional[sl] = local
        sizes.append(counts[1:])
        offset += int(n)
    size = np.concatenate(sizes)
    shifts = _shifts(connectivity)
    pairs = [np.zeros((0, 2), np.uint64)]
    for axis in range(3):
        for k in range(int(block_shape[axis]), int(shape[axis]), int(block_shape[axis])):
            lo = np.asarray(provisional[tuple(slice(k - 1, k) if a == axis else slice(None) for a in range(3))])
            hi = np.asarray(provisional[tuple(slice(k, k + 1) if a == axis else slice(None) for a in range(3))])
            pairs.append(_shifted_pairs(lo.squeeze(axis), hi.squeeze(axis), shifts))
    roots = union_pairs(offset, np.concatenate(pairs))
    root_size = np.bincount(roots, weights=size, minlength=offset + 1)
    keep = (roots > 0) & (root_size[roots] >= max(1, min_size))
    kept_roots = np.unique(roots[keep])
    final_of_root = np.zeros(offset + 1, np.uint64)
    final_of_root[kept_roots] = np.arange(1, kept_roots.size + 1, dtype=np.uint64)
    return int(kept_roots.size), np.where(keep, final_of_root[roots], 0).astype(np.uint64)


def relabel_blocks(provisional, table: np.ndarray, shape, block_shape, write: Callable) -> None:
    """Pass 3: ``write(slices, table[provisional[slices]])`` block by block."""
    for sl in blocks(shape, block_shape):
        write(sl, table[np.asarray(provisional[sl]).astype(np.int64)])
