"""Training patches: EM on the input grid, per-class targets and masks on the target grid.

A patch is centred on a world position (zyx nm). The network input is a box of
``input_shape`` voxels of ``input_voxel_size``; the targets a box of ``patch_shape`` voxels
of ``voxel_size`` around the same centre (the same grid unless the config sets the input
grid apart, e.g. 8 nm input with more context and 4 nm targets as COSEM's setup_04)::

    world z/y/x -->
    EM      |===========================================================|
    crop              |-------------------------|   labels known here
    input          [..........................]        (8 nm, more context)
    target              [..............]               (4 nm)

For each source (EM, each class) the level closest to its grid's voxel size is read
(:func:`pycsc.data._store.choose_level`); only when no level matches within 1 % is the read
resampled with the native :func:`pycsc.ops.rescale` (linear for EM, nearest for labels).

Targets come from :mod:`pycsc.targets`, one or more channels per class in
:func:`pycsc.targets.channel_layout` order, each with a mask: 0 where the value is unknown
(outside the crop, class not annotated), except that with ``true_negatives`` an
unannotated class is known to be background wherever a mutually exclusive annotated class
is foreground. Targets needing context (signed distances) read labels around the patch.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from ..config import AugmentConfig
from ..targets import channel_layout, class_targets, get_target
from . import _store, augment, warp
from ._memory import keep_freed_memory
from .classes import exclusive_classes
from .datasplit import SplitRow

_EXACT_FLOAT_IDS = 1 << 24     # label ids beyond this are renumbered before float resampling


def read_region(levels: list[_store.Level], lower_edge, shape, voxel_size, order: int,
                cache: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The box of `shape` voxels of `voxel_size` nearest to `lower_edge`, and its actual
    lower edge (the request snapped to the chosen level's grid)."""
    vs = np.asarray(voxel_size, float)
    lv = _store.choose_level(levels, vs)
    lv_vs = np.asarray(lv.voxel_size)
    start = np.round((np.asarray(lower_edge) - lv.edge) / lv_vs).astype(np.int64)
    actual = lv.edge + start * lv_vs
    if np.all(np.abs(lv_vs - vs) <= 0.01 * vs):
        return _store.read_box(lv, start, shape, cache=cache), actual
    n_read = np.maximum(1, np.round(np.asarray(shape) * vs / lv_vs)).astype(np.int64)
    data = _store.read_box(lv, start, n_read, cache=cache)
    if order > 0:  # interpolate in float32 at the stored range (no dtype rescaling)
        data = data.astype(np.float32)
    from ..ops import rescale

    factors = tuple(float(s) / float(n) for s, n in zip(shape, n_read))
    out = rescale(data, factors, order=order)
    if out.shape != tuple(shape):  # a factor rounding to one voxel less: pad the end
        fixed = np.zeros(shape, out.dtype)
        common = tuple(slice(0, min(a, b)) for a, b in zip(out.shape, shape))
        fixed[common] = out[common]
        out = fixed
    return out, actual


def read_resampled(levels: list[_store.Level], lower_edge, shape, voxel_size, order: int) -> np.ndarray:
    """The box ``[lower_edge, lower_edge + shape * voxel_size)`` sampled at `voxel_size`."""
    return read_region(levels, lower_edge, shape, voxel_size, order)[0]


def intensity_scale(levels: list[_store.Level]) -> float:
    """Factor bringing the EM's stored intensities to 0..1 (1/255 for uint8)."""
    dtype = _store.open_array(levels[0].path).dtype.numpy_dtype
    return 1.0 / np.iinfo(dtype).max if np.issubdtype(dtype, np.unsignedinteger) else 1.0


@dataclass
class Crop:
    """One datasplit row, opened: EM levels, label levels per class, crop extent in nm."""

    row: SplitRow
    raw_levels: list
    label_levels: dict
    lower: np.ndarray
    upper: np.ndarray
    raw_scale: float

    @classmethod
    def open(cls, row: SplitRow) -> "Crop":
        raw = _store.read_levels(row.raw)
        labels = {c: _store.read_levels(f"{row.crop}/{c}") for c in row.classes}
        boxes = [_store.level_box(lv[0]) for lv in labels.values()] or [_store.level_box(raw[0])]
        lower = np.max([b[0] for b in boxes], axis=0)
        upper = np.min([b[1] for b in boxes], axis=0)
        return cls(row, raw, labels, lower, upper, intensity_scale(raw))

    @property
    def volume_nm3(self) -> float:
        return float(np.prod(np.maximum(self.upper - self.lower, 0)))


@dataclass
class Patch:
    """One training sample as numpy arrays (before the torch conversion)."""

    raw: np.ndarray       # float32 input_shape, 0..1
    target: np.ndarray    # float32 [C, *patch_shape]
    mask: np.ndarray      # float32 [C, *patch_shape], 1 = known


class PatchReader:
    """Reads (EM, targets, masks) around a world centre from a list of crops.

    Parameters
    ----------
    rows : sequence of SplitRow
    classes : sequence of str
    patch_shape, voxel_size : sequence
        The target grid (voxels, nm; z y x).
    true_negatives : bool
        An unannotated class is background where a mutually exclusive class is foreground.
    targets : mapping, optional
        ``[train.targets]``: class -> kind name or ``{kind = ..., <params>}``; binary when absent.
    input_shape, input_voxel_size : sequence, optional
        The input grid; the target grid when omitted.
    cache : bool
        Keep decoded crops in memory (:func:`pycsc.data._store.set_memory_budget`).
    """

    def __init__(self, rows: Sequence[SplitRow], classes: Sequence[str], patch_shape, voxel_size, *,
                 true_negatives: bool = True, targets: Mapping[str, Any] | None = None,
                 input_shape=None, input_voxel_size=None, cache: bool = True):
        self.rows = list(rows)
        self.classes = tuple(classes)
        self.patch_shape = tuple(int(s) for s in patch_shape)
        self.voxel_size = np.asarray(voxel_size, float)
        self.input_shape = tuple(int(s) for s in (input_shape or patch_shape))
        self.input_voxel_size = np.asarray(input_voxel_size if input_voxel_size is not None else voxel_size, float)
        self.exclusive = exclusive_classes(self.classes) if true_negatives else {}
        ndim = 2 if self.patch_shape[0] == 1 else 3
        self.kinds = class_targets(self.classes, targets)
        self.layout = channel_layout(self.classes, targets, ndim)
        context = max(get_target(k).context_nm(self.voxel_size, **p) for k, p in self.kinds.values())
        self.margin = tuple(0 if n == 1 else int(math.ceil(context / v - 1e-9))
                            for n, v in zip(self.patch_shape, self.voxel_size))
        self.cache = cache
        self._crops: dict[int, Crop] = {}

    @classmethod
    def from_config(cls, rows: Sequence[SplitRow], cfg) -> "PatchReader":
        """The reader a :class:`pycsc.config.TrainConfig` describes."""
        (t_shape, t_vs), (i_shape, i_vs) = cfg.target_grid(), cfg.input_grid()
        return cls(rows, cfg.classes, t_shape, t_vs, true_negatives=cfg.true_negatives,
                   targets=cfg.targets, input_shape=i_shape, input_voxel_size=i_vs)

    @property
    def grids(self) -> list[tuple[tuple[int, ...], np.ndarray]]:
        """``[(input_shape, input_voxel_size), (patch_shape, voxel_size)]``."""
        return [(self.input_shape, self.input_voxel_size), (self.patch_shape, self.voxel_size)]

    def crop(self, i: int) -> Crop:
        if i not in self._crops:
            self._crops[i] = Crop.open(self.rows[i])
        return self._crops[i]

    def __getstate__(self):  # workers reopen crops lazily
        state = dict(self.__dict__)
        state["_crops"] = {}
        return state

    def read(self, i: int, centre_nm, d: augment.Draw | None = None) -> Patch:
        """The patch of crop `i` centred on world position `centre_nm`, moved by the draw `d`."""
        keep_freed_memory()
        d = d or augment.Draw()
        crop = self.crop(i)
        centre = np.asarray(centre_nm, float)
        shape = tuple(n + 2 * m for n, m in zip(self.patch_shape, self.margin))
        # anchors the elastic lattice: the same for every grid of the patch, labels' context included
        half = np.maximum(np.asarray(self.input_shape) * self.input_voxel_size,
                          np.asarray(shape) * self.voxel_size) / 2
        self._positions = {}
        if d.warps:   # computed once, before the threads share them
            self._warped_grid(self.input_shape, self.input_voxel_size, d, half)
            self._warped_grid(shape, self.voxel_size, d, half)
        inside = self._inside(crop, centre, shape, d, half)
        core = tuple(slice(m, m + n) for m, n in zip(self.margin, self.patch_shape))
        target = np.empty((len(self.layout), *self.patch_shape), np.float32)
        mask = np.empty_like(target)
        first, k = {}, 0
        for c in self.classes:
            first[c] = k
            k += len(get_target(self.kinds[c][0]).channels(2 if self.patch_shape[0] == 1 else 3))

        def make(c, labels, known):
            kind, params = self.kinds[c]
            t = get_target(kind)
            n = len(t.channels(2 if self.patch_shape[0] == 1 else 3))
            k = first[c]
            t.make_into(labels, known, self.voxel_size, target[k:k + n], mask[k:k + n], core, **params)

        def annotated(c):
            labels = self._sample(crop.label_levels[c], centre, shape, self.voxel_size, d, half, order=0,
                                  ids=get_target(self.kinds[c][0]).needs_ids)[0]
            make(c, labels, inside)
            return labels

        def em():
            raw = self._sample(crop.raw_levels, centre, self.input_shape, self.input_voxel_size, d, half,
                               order=1)[0]
            return np.multiply(raw, np.float32(crop.raw_scale), dtype=np.float32, order="C")

        present = [c for c in self.classes if c in crop.label_levels]
        pool = _pool()
        if pool is None:
            raw = em()
            ids = {c: annotated(c) for c in present}
        else:   # numpy and the gathers release the GIL: the sources load side by side
            raw_job = pool.submit(em)
            jobs = {c: pool.submit(annotated, c) for c in present}
            ids = {c: job.result() for c, job in jobs.items()}
            raw = raw_job.result()
        for c in self.classes:
            if c in ids:
                continue
            known = np.zeros(shape, bool)
            for other in self.exclusive.get(c, ()):
                if other in ids:
                    known |= ids[other] != 0
            make(c, np.zeros(shape, np.uint8), known & inside)
        return Patch(raw, target, mask)

    def _sample(self, levels, centre, shape, vs, d, half, order, ids=True):
        """A source on an output grid around `centre`, moved by `d`; and its world offsets.

        Without resampling the result is a contiguous copy of the mirrored and transposed
        read, labels reduced to foreground booleans first when the object ids are not needed:
        comparing contiguously, then copying one byte per voxel along the permuted strides
        was the fastest of the orders measured (numpy's strided casts are 5-20x slower).
        """
        if not d.warps:
            lower = centre - np.asarray(shape) * vs / 2
            data, _ = read_region(levels, lower, shape, vs, order, cache=self.cache)
            if order == 0 and not ids:
                data = data != 0
            return np.ascontiguousarray(augment.apply_flip_perm(data, d.flip_perm)), None
        positions, lo, hi = self._warped_grid(shape, vs, d, half)
        if order == 0:
            gathered = warp.gather_nearest(levels, centre, positions, lo, hi, vs, self.cache, self._positions)
            if gathered is not None:
                return gathered, positions
        n_read = np.ceil((hi - lo) / vs).astype(np.int64) + 3
        data, actual = read_region(levels, centre + lo - 1.5 * vs, n_read, vs, order, cache=self.cache)
        if order == 0 and data.dtype.itemsize >= 4 and int(data.max(initial=0)) >= _EXACT_FLOAT_IDS:
            data = np.unique(data, return_inverse=True)[1].reshape(data.shape)
        return warp.sample(data[None], actual - centre, vs, positions, nearest=order == 0)[0], positions

    def _inside(self, crop: Crop, centre, shape, d, half) -> np.ndarray:
        """Whether each output voxel's world position lies inside the crop."""
        lo, hi = crop.lower - centre, crop.upper - centre
        if not d.warps:  # a box: one 1D test per output axis, broadcast (a view when all inside)
            offs = warp.offsets_nm(shape, self.voxel_size)
            axis_masks = []
            for a in range(3):
                k = int(np.flatnonzero(d.flip_perm[:, a])[0])
                w = d.flip_perm[k, a] * offs[a]
                sl = [None, None, None]
                sl[a] = slice(None)
                axis_masks.append(((w >= lo[k]) & (w < hi[k]))[tuple(sl)])
            if all(m.all() for m in axis_masks):
                return np.broadcast_to(np.True_, shape)
            return axis_masks[0] & axis_masks[1] & axis_masks[2]
        pos = self._warped_grid(shape, self.voxel_size, d, half)[0].numpy()
        inside = (pos[..., 0] >= lo[0]) & (pos[..., 0] < hi[0])
        for a in (1, 2):
            inside &= (pos[..., a] >= lo[a]) & (pos[..., a] < hi[a])
        return inside

    def _warped_grid(self, shape, vs, d, half):
        """World offsets of a grid's voxels under `d` and their bounding box, computed once
        per grid and patch (EM, every class and the crop test share them)."""
        key = (tuple(shape), tuple(np.asarray(vs, float)))
        if key not in self._positions:
            positions = warp.world_positions(shape, vs, d, half)
            if d.elastic is None:   # linear: the extreme positions are among the 8 corners
                corners = np.array(np.meshgrid(*[o[[0, -1]] for o in warp.offsets_nm(shape, vs)],
                                               indexing="ij")).reshape(3, -1)
                moved = d.matrix() @ corners
                lo, hi = moved.min(axis=1), moved.max(axis=1)
            else:
                lo, hi = warp.bounding_box(positions)
            self._positions[key] = (positions, lo, hi)
        return self._positions[key]


_POOL: list = []


def _pool():
    """Threads for one patch's sources in the loading process (None inside DataLoader
    workers, which are already one per core)."""
    import torch.utils.data

    if torch.utils.data.get_worker_info() is not None or (os.cpu_count() or 1) < 2:
        return None
    if not _POOL:
        _POOL.append(ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)))
    return _POOL[0]


def _as_sample(p: Patch, ndim: int) -> dict:
    import torch

    raw, target, mask = p.raw, p.target, p.mask
    if ndim == 2:  # (1, y, x) patches -> 2D images
        raw, target, mask = raw[0], target[:, 0], mask[:, 0]
    return {"raw": torch.from_numpy(np.ascontiguousarray(raw)[None]),
            "target": torch.from_numpy(np.ascontiguousarray(target)),
            "mask": torch.from_numpy(np.ascontiguousarray(mask))}


class RandomPatches:
    """Map-style dataset indexed by ``(crop_index, seed)`` pairs from a sampler.

    The target box is uniform inside the crop (centred on the crop along axes where the
    crop is smaller than the box); the augmentation draw comes from the same seed.
    """

    def __init__(self, reader: PatchReader, ndim: int, augment_cfg: AugmentConfig | None):
        self.reader, self.ndim, self.augment = reader, ndim, augment_cfg

    def __len__(self) -> int:
        return len(self.reader.rows)

    def __getitem__(self, key: tuple[int, int]) -> dict:
        crop_index, seed = key
        rng = np.random.default_rng(seed)
        r = self.reader
        crop = r.crop(crop_index)
        extent = np.asarray(r.patch_shape) * r.voxel_size
        room = (crop.upper - crop.lower) - extent
        offset = np.where(room > 0, rng.uniform(0, 1, 3) * np.maximum(room, 0), room / 2)
        centre = crop.lower + offset + extent / 2
        d = augment.draw(self.augment, rng, r.grids)
        p = r.read(crop_index, centre, d)
        augment.apply_intensity(p.raw, d, rng, r.input_voxel_size)
        return _as_sample(p, self.ndim)


class GridPatches:
    """Non-overlapping target boxes tiling each crop (validation), in a fixed order."""

    def __init__(self, reader: PatchReader, ndim: int, limit: int | None = None):
        self.reader, self.ndim = reader, ndim
        self.items: list[tuple[int, np.ndarray]] = []
        extent = np.asarray(reader.patch_shape) * reader.voxel_size
        for i in range(len(reader.rows)):
            crop = reader.crop(i)
            counts = [max(1, math.ceil((u - l) / e - 1e-6)) for l, u, e in zip(crop.lower, crop.upper, extent)]
            for idx in np.ndindex(*counts):
                self.items.append((i, crop.lower + (np.asarray(idx) + 0.5) * extent))
        if limit is not None and len(self.items) > limit:
            pick = np.linspace(0, len(self.items) - 1, limit).round().astype(int)
            self.items = [self.items[k] for k in pick]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, k: int) -> dict:
        i, centre = self.items[k]
        return _as_sample(self.reader.read(i, centre), self.ndim)
