"""Physical boxes, voxel grids and the mapping between crops and raw EM levels.

All vectors are in axis order z, y, x and all lengths in nanometres. A grid's
``translation`` is the world position of the *centre* of voxel 0 (OME-NGFF convention, as
the challenge data uses), so voxel ``i`` covers ``[t + (i - 1/2) v, t + (i + 1/2) v)``::

    world (nm) ->   t - v/2      t + v/2      t + 3v/2
                      |    i=0     |    i=1     |   ...
                            ^ t (translation = centre of voxel 0)

A crop and the raw EM are different grids over the same world; a crop box maps to the
raw voxels that intersect it, grown by ``pad`` raw voxels per side and clamped::

    raw level k   |...|...|...|...|...|...|...|...|
    crop box            [=============]
    covered            |...|...|...|...|            (intersecting raw voxels)
    pad = 1        |...|...|...|...|...|...|        (one more voxel each side)

A level made by 2x average-downsampling has ``v_k = 2^k v_0`` and
``t_k = t_0 + (v_k - v_0) / 2`` (:func:`level_translation`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from ..errors import InputError

# Tolerance, in voxels, under which a box edge counts as lying on a voxel edge: float noise
# in manifests (e.g. 23837.13 nm) must not pull in a neighbouring voxel.
_EDGE_EPS = 1e-6


def as_vector(value, name: str, ndim: int = 3, *, positive: bool = False,
              integer: bool = False) -> tuple:
    """Validate a per-axis vector (a scalar is broadcast) and return it as a tuple.

    Examples
    --------
    >>> as_vector(8, "voxel_size", positive=True)
    (8.0, 8.0, 8.0)
    >>> as_vector([1, 2, 3], "shape", integer=True)
    (1, 2, 3)
    """
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(ndim, float(arr))
    if arr.shape != (ndim,):
        raise InputError(f"`{name}` must have {ndim} entries (z, y, x); got {list(np.atleast_1d(value))}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"`{name}` must be finite; got {arr.tolist()}")
    if positive and np.any(arr <= 0):
        raise InputError(f"`{name}` must be positive on every axis; got {arr.tolist()}")
    if integer:
        if np.any(arr != np.round(arr)) or np.any(arr < 0):
            raise InputError(f"`{name}` must hold non-negative integers; got {arr.tolist()}")
        return tuple(int(v) for v in arr)
    return tuple(float(v) for v in arr)


@dataclass(frozen=True)
class Box:
    """A half-open physical box ``[start, stop)`` in nm, zyx."""

    start: tuple[float, ...]
    stop: tuple[float, ...]

    def __post_init__(self):
        start = as_vector(self.start, "start", len(self.start))
        stop = as_vector(self.stop, "stop", len(self.start))
        if any(b < a for a, b in zip(start, stop)):
            raise InputError(f"box `stop` must be >= `start` on every axis; got {start} .. {stop}")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "stop", stop)

    @property
    def size(self) -> tuple[float, ...]:
        return tuple(b - a for a, b in zip(self.start, self.stop))

    def grow(self, margin_nm) -> "Box":
        """The box grown by `margin_nm` on each side (per axis or scalar)."""
        m = as_vector(margin_nm, "margin_nm", len(self.start))
        return Box(tuple(a - d for a, d in zip(self.start, m)), tuple(b + d for b, d in zip(self.stop, m)))

    def intersect(self, other: "Box") -> "Box | None":
        """The common part of two boxes, or None where they do not overlap."""
        lo = tuple(max(a, b) for a, b in zip(self.start, other.start))
        hi = tuple(min(a, b) for a, b in zip(self.stop, other.stop))
        return None if any(h <= l for l, h in zip(lo, hi)) else Box(lo, hi)


@dataclass(frozen=True)
class VoxelGrid:
    """A regular grid: voxel size (nm), translation (nm, centre of voxel 0) and shape.

    Examples
    --------
    >>> g = VoxelGrid((8, 8, 8), (4, 4, 4), (10, 10, 10))
    >>> g.box
    Box(start=(0.0, 0.0, 0.0), stop=(80.0, 80.0, 80.0))
    >>> g.slices_covering(Box((16, 16, 16), (40, 40, 40)))
    (slice(2, 5, None), slice(2, 5, None), slice(2, 5, None))
    """

    voxel_size: tuple[float, ...]
    translation: tuple[float, ...]
    shape: tuple[int, ...]

    def __post_init__(self):
        n = len(self.shape)
        object.__setattr__(self, "voxel_size", as_vector(self.voxel_size, "voxel_size", n, positive=True))
        object.__setattr__(self, "translation", as_vector(self.translation, "translation", n))
        object.__setattr__(self, "shape", as_vector(self.shape, "shape", n, integer=True))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def box(self) -> Box:
        """Physical extent: from the low edge of voxel 0 to the high edge of the last voxel."""
        return Box(tuple(t - v / 2 for t, v in zip(self.translation, self.voxel_size)),
                   tuple(t + (s - 0.5) * v for t, v, s in zip(self.translation, self.voxel_size, self.shape)))

    def centres(self, axis: int) -> np.ndarray:
        """World coordinates (nm) of the voxel centres along `axis`."""
        return self.translation[axis] + self.voxel_size[axis] * np.arange(self.shape[axis], dtype=np.float64)

    def to_index(self, world_nm) -> np.ndarray:
        """Continuous voxel index of world positions (voxel centres are integers)."""
        w = np.asarray(world_nm, dtype=np.float64)
        return (w - np.asarray(self.translation)) / np.asarray(self.voxel_size)

    def to_world(self, index) -> np.ndarray:
        """World position (nm) of continuous voxel indices."""
        i = np.asarray(index, dtype=np.float64)
        return np.asarray(self.translation) + i * np.asarray(self.voxel_size)

    def slices_covering(self, box: Box, pad=0, *, clamp: bool = True) -> tuple[slice, ...]:
        """Index slices of the voxels intersecting `box`, grown by `pad` voxels per side."""
        pad_v = as_vector(pad, "pad", self.ndim, integer=True)
        out = []
        for ax in range(self.ndim):
            t, v, n = self.translation[ax], self.voxel_size[ax], self.shape[ax]
            lo = math.floor((box.start[ax] - t) / v - 0.5 + _EDGE_EPS) + 1 - pad_v[ax]
            hi = math.ceil((box.stop[ax] - t) / v + 0.5 - _EDGE_EPS) + pad_v[ax]
            if clamp:
                lo, hi = min(max(lo, 0), n), min(max(hi, 0), n)
                hi = max(hi, lo)
            out.append(slice(lo, hi))
        return tuple(out)

    def subgrid(self, slices: Sequence[slice]) -> "VoxelGrid":
        """The grid of ``array[slices]`` (unit steps only)."""
        starts, shape = [], []
        for ax, s in enumerate(slices):
            lo, hi, step = s.indices(self.shape[ax])
            if step != 1:
                raise InputError(f"`slices` must have unit steps; got {s} on axis {ax}")
            starts.append(lo)
            shape.append(max(hi - lo, 0))
        return VoxelGrid(self.voxel_size, tuple(self.to_world(starts)), tuple(shape))

    def downsampled(self, factor=2) -> "VoxelGrid":
        """The grid of a ``factor``-times average-downsampled level (floor of the shape)."""
        f = as_vector(factor, "factor", self.ndim, integer=True)
        vs = tuple(v * k for v, k in zip(self.voxel_size, f))
        return VoxelGrid(vs, level_translation(self.translation, self.voxel_size, vs),
                         tuple(s // k for s, k in zip(self.shape, f)))


def level_translation(translation0, voxel_size0, voxel_size_k) -> tuple[float, ...]:
    """Translation of a downsampled level: ``t_k = t_0 + (v_k - v_0) / 2``.

    Examples
    --------
    >>> level_translation((-1, -1, -1), (2, 2, 2), (16, 16, 16))
    (6.0, 6.0, 6.0)
    """
    return tuple(float(t + (vk - v0) / 2) for t, v0, vk in zip(translation0, voxel_size0, voxel_size_k))


def crop_slices_in(raw: VoxelGrid, crop: VoxelGrid, pad=0) -> tuple[slice, ...]:
    """Slices of `raw` covering the box of `crop`, grown by `pad` raw voxels and clamped."""
    return raw.slices_covering(crop.box, pad)


def map_index(src: VoxelGrid, dst: VoxelGrid, index) -> np.ndarray:
    """Continuous index in `dst` of the world point at (continuous) `index` of `src`.

    Examples
    --------
    >>> raw = VoxelGrid((4, 4, 4), (2, 2, 2), (100, 100, 100))
    >>> crop = VoxelGrid((8, 8, 8), (84, 84, 84), (10, 10, 10))
    >>> map_index(crop, raw, (0, 0, 0)).tolist()   # crop voxel 0 is centred between raw 20 and 21
    [20.5, 20.5, 20.5]
    """
    return dst.to_index(src.to_world(index))


def chunk_indices(slices: Sequence[slice], chunks: Sequence[int]) -> Iterator[tuple[int, ...]]:
    """Every chunk grid index touched by the region `slices` (unit-step, non-negative).

    Examples
    --------
    >>> list(chunk_indices((slice(30, 70), slice(0, 10)), (32, 64)))
    [(0, 0), (1, 0), (2, 0)]
    """
    ranges = []
    for s, c in zip(slices, chunks):
        if s.stop <= s.start:
            return iter(())
        ranges.append(range(s.start // c, (s.stop - 1) // c + 1))
    return itertools.product(*ranges)


def choose_level(level_voxel_sizes: Sequence[Sequence[float]], target_nm,
                 rule: str = "not_coarser") -> int:
    """Index of the multiscale level to read for a target voxel size.

    ``rule="not_coarser"``: the coarsest level no coarser than the target on any axis
    (within 1 %), else the finest level. ``rule="closest"``: the level minimising
    ``sum_axis |v_level - target| / target``, first minimum wins (cellmap-data's rule, which
    the official evaluator uses for multiscale submissions; it may pick a coarser level).

    Examples
    --------
    >>> choose_level([(4, 4, 4), (8, 8, 8), (16, 16, 16)], 10)
    1
    >>> choose_level([(4, 4, 4), (10, 10, 10)], 8, rule="closest")
    1
    """
    if not level_voxel_sizes:
        raise InputError("`level_voxel_sizes` is empty; a multiscale group needs at least one level")
    ndim = len(level_voxel_sizes[0])
    target = np.asarray(as_vector(target_nm, "target_nm", ndim, positive=True))
    sizes = np.asarray([as_vector(v, "level_voxel_sizes", ndim, positive=True) for v in level_voxel_sizes])
    if rule == "closest":
        return int(np.argmin(np.sum(np.abs(sizes - target) / target, axis=1)))
    if rule != "not_coarser":
        raise InputError(f"`rule` must be 'not_coarser' or 'closest'; got {rule!r}")
    fits = np.all(sizes <= target * 1.01, axis=1)
    if not fits.any():
        return int(np.argmin(np.prod(sizes, axis=1)))
    candidates = np.flatnonzero(fits)
    return int(candidates[np.argmax(np.prod(sizes[candidates], axis=1))])


__all__ = [
    "Box", "VoxelGrid", "as_vector", "level_translation", "crop_slices_in", "map_index",
    "chunk_indices", "choose_level",
]
