"""Resampling a read box along a drawn geometry (rotation, scaling, elastic displacement).

Every output voxel gets a world position (nm, about the patch centre); the source box is
read around the bounding box of those positions and sampled there with
``torch.nn.functional.grid_sample`` (trilinear for EM, nearest for label ids, which stay
exact as float32 up to 2**24). One position grid serves all the channels of a grid::

    output voxel i --(A @ offset(i) + elastic)--> world nm --(read box)--> source voxel

Labels on a stored level of the right voxel size skip the resampling kernel altogether:
:func:`gather_nearest` takes, by flat index, the stored voxel holding each position.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from . import _store
from .augment import Draw

_MEMO_LOCK = threading.Lock()


def offsets_nm(shape, voxel_size_nm) -> list[np.ndarray]:
    """Per axis, the voxel centres of a grid of `shape`, in nm from the grid's centre."""
    return [(np.arange(n) + 0.5 - n / 2) * float(v) for n, v in zip(shape, voxel_size_nm)]


def _elastic_field(d: Draw, half_extent_nm, planar: bool):
    """Coarse displacement lattice ``[1, 3, k, k, k]`` (nm) and its half-width (nm)."""
    import torch

    seed, magnitude, spacing = d.elastic
    k = int(math.ceil(float(max(half_extent_nm)) / spacing)) + 1
    rng = np.random.default_rng(seed)
    lattice = rng.normal(0.0, magnitude, (3, 2 * k + 1, 2 * k + 1, 2 * k + 1)).astype(np.float32)
    if planar:
        lattice[0] = 0.0
    return torch.from_numpy(lattice)[None], k * spacing


def world_positions(shape, voxel_size_nm, d: Draw, half_extent_nm):
    """``[*shape, 3]`` float32 torch tensor: world offsets (nm, z y x) of the output voxels.

    `half_extent_nm` must be the same for every grid of a patch (it anchors the elastic
    lattice), e.g. the largest half-extent of the input and target grids.
    """
    import torch
    import torch.nn.functional as F

    oz, oy, ox = (torch.from_numpy(o.astype(np.float32)) for o in offsets_nm(shape, voxel_size_nm))
    a = torch.from_numpy(d.matrix().astype(np.float32))
    pos = (oz[:, None, None, None] * a[:, 0] + oy[None, :, None, None] * a[:, 1]
           + ox[None, None, :, None] * a[:, 2])
    if d.elastic is not None:
        lattice, half = _elastic_field(d, half_extent_nm, planar=shape[0] == 1)
        g = torch.stack(torch.meshgrid(oz, oy, ox, indexing="ij"), dim=-1).flip(-1) / half
        disp = F.grid_sample(lattice, g[None], mode="bilinear", align_corners=True)[0]
        pos += disp.permute(1, 2, 3, 0)
    return pos


def bounding_box(positions) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest world offset (nm) per axis among `positions`."""
    flat = positions.reshape(-1, 3)
    return flat.amin(0).numpy().astype(float), flat.amax(0).numpy().astype(float)


def sample(volume: np.ndarray, lower_nm, voxel_size_nm, positions, nearest: bool) -> np.ndarray:
    """`volume` ``[C, z, y, x]`` whose lower edge is at offset `lower_nm`, sampled at
    `positions` (``[*out, 3]``); zeros outside. Returns float32 ``[C, *out]``."""
    import torch
    import torch.nn.functional as F

    n = torch.tensor(volume.shape[1:], dtype=torch.float32)
    lo = torch.tensor(np.asarray(lower_nm, np.float32))
    vs = torch.tensor(np.asarray(voxel_size_nm, np.float32))
    grid = ((positions - lo) / (vs * n) * 2.0 - 1.0).flip(-1)          # (x, y, z) in [-1, 1]
    src = np.ascontiguousarray(volume, dtype=np.float32)
    if not src.flags.writeable:   # a view of the in-memory crop cache: torch wants its own
        src = src.copy()
    src = torch.from_numpy(src)[None]
    out = F.grid_sample(src, grid[None], mode="nearest" if nearest else "bilinear",
                        padding_mode="zeros", align_corners=False)
    return out[0].numpy()


def gather_nearest(levels, centre, positions, lo, hi, vs, cache: bool, memo: dict) -> np.ndarray | None:
    """Labels at `positions` (world offsets from `centre`): each voxel takes the stored voxel
    containing its position, gathered by flat index from the level (no float conversion, no
    resampling kernel). The index depends only on the level's geometry, so the classes of
    a crop share it through `memo`. None when no level matches `vs` within 1 % (then the
    caller resamples)."""
    lv = _store.choose_level(levels, vs)
    lv_vs = np.asarray(lv.voxel_size, float)
    if not np.all(np.abs(lv_vs - vs) <= 0.01 * np.asarray(vs)):
        return None
    whole = _store._in_memory(lv) if cache else None
    start = np.floor((centre + lo - lv.edge) / lv_vs).astype(np.int64)
    stop = np.floor((centre + hi - lv.edge) / lv_vs).astype(np.int64) + 1
    if whole is None:
        box, offset = np.ascontiguousarray(_store.read_box(lv, start, stop - start)), start
    else:
        box, offset = whole, np.zeros(3, np.int64)
    key = (positions.data_ptr(), lv.edge.tobytes(), lv_vs.tobytes(), box.shape, offset.tobytes())
    with _MEMO_LOCK:   # the classes of a crop share one index: compute it once
        if key not in memo:
            memo[key] = _flat_index(positions, centre, lv, lv_vs, offset, box.shape)
    flat, beyond = memo[key]
    out = np.take(box.reshape(-1), flat)
    if beyond is not None:      # beyond the stored array: background (unknown: outside the crop)
        out[beyond] = 0
    return out


def _flat_index(positions, centre, lv, lv_vs, offset, box_shape):
    """Flat index into a box of `box_shape` of the stored voxel holding each position, and
    which positions fall beyond it (None if none)."""
    pos = positions.numpy()
    flat = np.zeros(pos.shape[:-1], np.intp)
    beyond = np.zeros(pos.shape[:-1], bool)
    for a in range(3):
        i = np.floor((pos[..., a] + np.float32(centre[a] - lv.edge[a] - offset[a] * lv_vs[a]))
                     / np.float32(lv_vs[a])).astype(np.intp)
        beyond |= (i < 0) | (i >= box_shape[a])
        np.clip(i, 0, box_shape[a] - 1, out=i)
        flat *= box_shape[a]
        flat += i
    return flat, (beyond if beyond.any() else None)
