"""Training patches: EM and per-class targets read at the training voxel size.

A patch is a box of ``patch_shape`` voxels of size ``voxel_size`` (zyx nm) given by its lower
world edge. For each source (EM, each class of the crop) the level closest to that voxel size
is read (:func:`pycsc.data._store.choose_level`); only when no level matches within 1 % is
the read resampled, with the native :func:`pycsc.ops.rescale` (linear for EM, nearest for
labels). Targets are float32: 1 foreground, 0 background, NaN unknown (class not annotated
in the crop, or outside the crop), except that with ``true_negatives`` an unannotated class
is 0 wherever a mutually exclusive annotated class is 1::

    world z/y/x -->
    EM    |=========================================================|
    crop            |-----------------------|     targets known here
    patch        [.......]      (parts outside the crop are NaN in the targets)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..config import AugmentConfig
from . import _store, augment
from .classes import exclusive_classes
from .datasplit import SplitRow


def read_resampled(levels: list[_store.Level], lower_edge, shape, voxel_size, order: int) -> np.ndarray:
    """The box ``[lower_edge, lower_edge + shape * voxel_size)`` sampled at `voxel_size`."""
    vs = np.asarray(voxel_size, float)
    lv = _store.choose_level(levels, vs)
    lv_vs = np.asarray(lv.voxel_size)
    start = np.round((np.asarray(lower_edge) - lv.edge) / lv_vs).astype(np.int64)
    if np.all(np.abs(lv_vs - vs) <= 0.01 * vs):
        return _store.read_box(lv, start, shape)
    n_read = np.maximum(1, np.round(np.asarray(shape) * vs / lv_vs)).astype(np.int64)
    data = _store.read_box(lv, start, n_read)
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
    return out


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


class PatchReader:
    """Reads (EM, targets) for a patch box from a list of crops."""

    def __init__(self, rows: Sequence[SplitRow], classes: Sequence[str], patch_shape,
                 voxel_size, *, true_negatives: bool = True):
        self.rows = list(rows)
        self.classes = tuple(classes)
        self.patch_shape = tuple(int(s) for s in patch_shape)
        self.voxel_size = np.asarray(voxel_size, float)
        self.exclusive = exclusive_classes(self.classes) if true_negatives else {}
        self._crops: dict[int, Crop] = {}

    def crop(self, i: int) -> Crop:
        if i not in self._crops:
            self._crops[i] = Crop.open(self.rows[i])
        return self._crops[i]

    def __getstate__(self):  # workers reopen crops lazily
        state = dict(self.__dict__)
        state["_crops"] = {}
        return state

    def read(self, i: int, lower_edge, shape) -> tuple[np.ndarray, np.ndarray]:
        """EM as float32 in 0..1, shape `shape`; targets ``[C, *shape]`` float32 with NaN."""
        crop = self.crop(i)
        raw = read_resampled(crop.raw_levels, lower_edge, shape, self.voxel_size, order=1)
        raw = raw.astype(np.float32) * np.float32(crop.raw_scale)
        target = np.full((len(self.classes), *shape), np.nan, np.float32)
        known = self._inside_crop(crop, lower_edge, shape)
        if known is None:
            return raw, target
        annotated = {}
        for k, c in enumerate(self.classes):
            if c in crop.label_levels:
                lab = read_resampled(crop.label_levels[c], lower_edge, shape, self.voxel_size, order=0)
                target[k][known] = lab[known] > 0
                annotated[c] = target[k]
        for k, c in enumerate(self.classes):
            if c in annotated:
                continue
            region = target[k][known]   # a view: writes land in `target`
            for other in self.exclusive.get(c, ()):
                if other in annotated:
                    region[annotated[other][known] == 1] = 0
        return raw, target

    def _inside_crop(self, crop: Crop, lower_edge, shape) -> tuple[slice, ...] | None:
        centres0 = np.asarray(lower_edge) + 0.5 * self.voxel_size
        lo = np.ceil((crop.lower - centres0) / self.voxel_size - 1e-9).astype(int)
        hi = np.floor((crop.upper - centres0) / self.voxel_size - 1e-9).astype(int) + 1
        lo, hi = np.clip(lo, 0, shape), np.clip(hi, 0, shape)
        if np.any(hi <= lo):
            return None
        return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))


def _as_sample(raw: np.ndarray, target: np.ndarray, ndim: int) -> dict:
    import torch

    if ndim == 2:  # (1, y, x) patches -> 2D images
        raw, target = raw[0], target[:, 0]
    return {"raw": torch.from_numpy(np.ascontiguousarray(raw)[None]),
            "target": torch.from_numpy(np.ascontiguousarray(target))}


class RandomPatches:
    """Map-style dataset indexed by ``(crop_index, seed)`` pairs from a sampler.

    The patch box is uniform inside the crop (centred on the crop along axes where the crop
    is smaller than the patch); the augmentation draw comes from the same seed.
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
        d = augment.draw(self.augment, rng, r.patch_shape, r.voxel_size)
        extent = np.asarray(r.patch_shape) * r.voxel_size
        room = (crop.upper - crop.lower) - extent
        offset = np.where(room > 0, rng.uniform(0, 1, 3) * np.maximum(room, 0), room / 2)
        centre = crop.lower + offset + extent / 2
        shape = augment.read_shape(d, r.patch_shape)
        lower = centre - np.asarray(shape) * r.voxel_size / 2
        raw, target = r.read(crop_index, lower, shape)
        raw = augment.rotate(raw, d, r.patch_shape, nearest=False)
        target = augment.rotate(target, d, r.patch_shape, nearest=True)
        raw = augment.apply_intensity(np.array(augment.apply_geometry(raw, d), np.float32), d, rng)
        target = augment.apply_geometry(target, d)
        return _as_sample(raw, target, self.ndim)


class GridPatches:
    """Non-overlapping patches tiling each crop (validation), in a fixed order."""

    def __init__(self, reader: PatchReader, ndim: int, limit: int | None = None):
        self.reader, self.ndim = reader, ndim
        self.items: list[tuple[int, np.ndarray]] = []
        extent = np.asarray(reader.patch_shape) * reader.voxel_size
        for i in range(len(reader.rows)):
            crop = reader.crop(i)
            counts = [max(1, math.ceil((u - l) / e - 1e-6)) for l, u, e in zip(crop.lower, crop.upper, extent)]
            for idx in np.ndindex(*counts):
                self.items.append((i, crop.lower + np.asarray(idx) * extent))
        if limit is not None and len(self.items) > limit:
            pick = np.linspace(0, len(self.items) - 1, limit).round().astype(int)
            self.items = [self.items[k] for k in pick]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, k: int) -> dict:
        i, lower = self.items[k]
        raw, target = self.reader.read(i, lower, self.reader.patch_shape)
        return _as_sample(raw, target, self.ndim)
