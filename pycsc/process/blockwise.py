"""Exact connected components of volumes larger than memory, block by block.

Two passes over blocks of `block_shape` voxels; nothing but the input is stored in between.

1. Each block is read with a one-voxel halo on its high side in every axis and labelled on
   its own (:func:`pycsc.process.segment.components`), its ids offset to be unique
   (provisional ids). Sizes and first voxels are counted over the block's own voxels (its
   core) only. Every halo voxel belongs to the core of a later block; when that block is
   labelled, the two ids each voxel got are joined (union-find). Any two touching voxels
   (6, 18 or 26 neighbours) lie together in the halo-extended block of the lower of the two
   along every axis, so every contact, also across block edges and corners, is seen by some
   block's own labelling::

         block A (core) |h|  block B           A is labelled over A + h; the voxels of h
       . . 1 1 . . . . .|1|  7 7 . .           belong to B's core. Each voxel of h has an
       . . 1 1 . . . . .|.|  7 . . .           id from A (1) and one from B (7): 1 == 7
                        halo

2. Objects whose core voxels total fewer than `min_size` are dropped; the rest are numbered
   1..n in the raster order of their first voxels, so the labels equal whole-volume
   ``cc3d.connected_components`` + ``cc3d.dust`` + ``fastremap.renumber`` exactly. Each
   block is read and labelled again (labelling is deterministic, so it gets the same
   provisional ids) and its core written through the id table, in the smallest dtype.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import _core
from .segment import Foreground, components, id_dtype

_NONE = np.iinfo(np.int64).max


def blocks(shape, block_shape):
    """Slices of the blocks tiling `shape`, z-major."""
    ranges = [range(0, int(n), int(b)) for n, b in zip(shape, block_shape)]
    for corner in itertools.product(*ranges):
        yield tuple(slice(c, min(c + int(b), int(n))) for c, b, n in zip(corner, block_shape, shape))


def _with_halo(sl, shape):
    """`sl` grown by one voxel on the high side of every axis that has more volume there."""
    return tuple(slice(s.start, min(s.stop + 1, int(n))) for s, n in zip(sl, shape))


def _find(parent: np.ndarray, i: int) -> int:
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:
        parent[i], i = root, parent[i]
    return root


def union_pairs(n: int, pairs: np.ndarray) -> np.ndarray:
    """Root of every id 0..n after joining each pair (0 stays 0); a root is its set's least id."""
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


@dataclass(frozen=True)
class BlockLabels:
    """Pass 1's result: where each block's provisional ids start, and their final ids."""

    shape: tuple[int, int, int]
    block_shape: tuple[int, int, int]
    offsets: tuple[int, ...]      # per block in `blocks` order: provisional id of local id 0
    counts: tuple[int, ...]       # per block: its number of local ids
    table: np.ndarray             # provisional id -> final id (0: background or removed)
    n: int                        # objects kept


def _halo_parts(core_shape, ext_shape):
    """(offset d in {0,1}^3, region in the extended block, region in the owner's core) for
    each part of the halo; d is the owner's position relative to this block, in blocks."""
    for d in itertools.product((0, 1), repeat=3):
        if not any(d) or any(dd and e == c for dd, e, c in zip(d, ext_shape, core_shape)):
            continue
        here = tuple(slice(c, c + 1) if dd else slice(0, c) for dd, c in zip(d, core_shape))
        there = tuple(slice(0, 1) if dd else slice(0, c) for dd, c in zip(d, core_shape))
        yield d, here, there


def _global_first(first: np.ndarray, core_shape, corner, shape) -> np.ndarray:
    """Core-box linear indices (``_NONE`` kept) -> linear indices in the whole volume."""
    out = np.full(first.shape, _NONE, np.int64)
    found = first != _NONE
    if found.any():
        local = np.unravel_index(first[found], core_shape)
        out[found] = np.ravel_multi_index(tuple(l + c for l, c in zip(local, corner)), shape)
    return out


def _final_table(sizes, first, pairs, min_size: int) -> tuple[np.ndarray, int]:
    n = sizes.size - 1
    roots = union_pairs(n, np.unique(pairs, axis=0) if len(pairs) else pairs)
    root_size = np.bincount(roots, weights=sizes, minlength=n + 1)
    root_first = np.full(n + 1, _NONE, np.int64)
    np.minimum.at(root_first, roots, first)
    keep = (roots > 0) & (root_size[roots] >= max(1, min_size))
    kept_roots = np.unique(roots[keep])
    kept_roots = kept_roots[np.argsort(root_first[kept_roots], kind="stable")]   # raster order
    dtype = id_dtype(kept_roots.size)
    final_of_root = np.zeros(n + 1, dtype)
    final_of_root[kept_roots] = np.arange(1, kept_roots.size + 1, dtype=dtype)
    return np.where(keep, final_of_root[roots], 0).astype(dtype), int(kept_roots.size)


def label_blockwise(read_fg: Callable[[tuple], Foreground], shape, block_shape, connectivity: int,
                    min_size: int, progress: Callable[[], None] | None = None) -> BlockLabels:
    """Pass 1: label every block and join ids across blocks; see the module docstring.

    ``read_fg(slices) -> Foreground`` reads any box of the volume; `progress` is called once
    per block.
    """
    shape, block_shape = tuple(int(s) for s in shape), tuple(int(b) for b in block_shape)
    sizes, firsts, pairs = [np.zeros(1, np.float64)], [np.full(1, -1, np.int64)], []
    offsets, counts = [], []
    pending: dict[tuple, list] = {}     # owner block corner -> [(owner core region, ids)]
    offset = 0
    for sl in blocks(shape, block_shape):
        corner = tuple(s.start for s in sl)
        core_shape = tuple(s.stop - s.start for s in sl)
        ids, n, block_sizes, first = components(read_fg(_with_halo(sl, shape)), connectivity, core_shape)

        def provisional(region, ids=ids, offset=offset):
            local = ids[region].astype(np.int64)
            return np.where(local != 0, local + offset, 0)

        for region, theirs in pending.pop(corner, ()):
            mine = provisional(region)
            both = (mine != 0) & (theirs != 0)
            if both.any():
                pairs.append(np.stack([mine[both], theirs[both]], axis=1))
        for d, here, there in _halo_parts(core_shape, ids.shape):
            owner = tuple(c + dd * b for c, dd, b in zip(corner, d, block_shape))
            pending.setdefault(owner, []).append((there, provisional(here)))
        sizes.append(block_sizes[1:].astype(np.float64))
        firsts.append(_global_first(first[1:], core_shape, corner, shape))
        offsets.append(offset)
        counts.append(n)
        offset += n
        if progress is not None:
            progress()
    all_pairs = np.concatenate(pairs) if pairs else np.zeros((0, 2), np.int64)
    table, kept = _final_table(np.concatenate(sizes), np.concatenate(firsts), all_pairs, min_size)
    return BlockLabels(shape, block_shape, tuple(offsets), tuple(counts), table, kept)


def write_blockwise(read_fg: Callable[[tuple], Foreground], labels: BlockLabels, connectivity: int,
                    write: Callable[[tuple, np.ndarray], None],
                    progress: Callable[[], None] | None = None) -> None:
    """Pass 2: ``write(slices, final labels of the block)`` for every block holding objects."""
    for sl, offset, n in zip(blocks(labels.shape, labels.block_shape), labels.offsets, labels.counts):
        core = tuple(s.stop - s.start for s in sl)
        table = labels.table[offset:offset + n + 1].copy()
        table[0] = 0
        if table.any():     # else nothing to write: a new array reads as 0 where never written
            ids = components(read_fg(_with_halo(sl, labels.shape)), connectivity)[0]
            if ids.shape != core:
                ids = np.ascontiguousarray(ids[tuple(slice(0, c) for c in core)])
            write(sl, _core.apply_id_table(ids, table))
        if progress is not None:
            progress()
