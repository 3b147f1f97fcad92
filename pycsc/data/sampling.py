"""Which crop each training patch comes from, and per-class foreground statistics.

A sampler yields ``(crop_index, patch_seed)`` pairs; the dataset turns a pair into a patch
deterministically, so a run is reproducible and a resumed run draws what the killed run
would have drawn.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from . import _store
from .datasplit import SplitRow

_MAX_COUNT_VOXELS = 1 << 24   # count foreground on the finest level at most this large


def class_matrix(rows: Sequence[SplitRow], classes: Sequence[str]) -> np.ndarray:
    """Boolean ``[crop, class]``: whether the crop annotates the class."""
    return np.array([[c in r.classes for c in classes] for r in rows], dtype=bool).reshape(
        len(rows), len(classes))


class ClassBalancedSampler:
    """Each draw serves the least-seen class: a random crop annotating it.

    After a crop is drawn, every class it annotates counts as seen once, so frequent and
    rare classes are visited about equally often. Classes no crop annotates are ignored.
    """

    def __init__(self, annotated: np.ndarray, n_samples: int, seed: int, epoch: int = 0):
        self.annotated = np.asarray(annotated, bool)
        self.n_samples = int(n_samples)
        self.seed, self.epoch = int(seed), int(epoch)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n_samples

    def __iter__(self) -> Iterator[tuple[int, int]]:
        rng = np.random.default_rng((self.seed, self.epoch, 1))
        usable = np.flatnonzero(self.annotated.any(axis=0))
        seen = np.zeros(self.annotated.shape[1], np.int64)
        for _ in range(self.n_samples):
            if usable.size == 0:
                crop = int(rng.integers(self.annotated.shape[0]))
            else:
                least = usable[seen[usable] == seen[usable].min()]
                cls = int(rng.choice(least))
                crop = int(rng.choice(np.flatnonzero(self.annotated[:, cls])))
                seen += self.annotated[crop]
            yield crop, int(rng.integers(1 << 62))


class UniformSampler:
    """Crops drawn with probability proportional to their volume."""

    def __init__(self, volumes: Sequence[float], n_samples: int, seed: int, epoch: int = 0):
        v = np.asarray(volumes, float)
        self.p = v / v.sum()
        self.n_samples, self.seed, self.epoch = int(n_samples), int(seed), int(epoch)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n_samples

    def __iter__(self) -> Iterator[tuple[int, int]]:
        rng = np.random.default_rng((self.seed, self.epoch, 2))
        for _ in range(self.n_samples):
            yield int(rng.choice(len(self.p), p=self.p)), int(rng.integers(1 << 62))


def _count_level(levels: list[_store.Level]) -> _store.Level:
    small = [lv for lv in levels if np.prod(lv.shape) <= _MAX_COUNT_VOXELS]
    return small[0] if small else levels[-1]


def foreground_fraction(group: str | Path) -> float:
    """Fraction of a label group's volume that is foreground (non-zero).

    Counted on the finest level of at most 2**24 voxels (read in z-slabs), so very large
    crops are estimated from a coarser level.
    """
    lv = _count_level(_store.read_levels(group))
    arr = _store.open_array(lv.path)
    fg = 0
    step = max(1, _MAX_COUNT_VOXELS // max(1, lv.shape[1] * lv.shape[2]))
    for z in range(0, lv.shape[0], step):
        fg += int(np.count_nonzero(arr[z:min(z + step, lv.shape[0])].read().result()))
    return fg / max(1, int(np.prod(lv.shape)))


def positive_weights(rows: Sequence[SplitRow], classes: Sequence[str], voxel_size,
                     cache: str | Path | None = None) -> np.ndarray:
    """``pos_weight[c] = background / foreground`` voxels of class c, pooled over `rows`.

    Volumes are measured in training voxels (crop volume / prod(`voxel_size`)). A class no
    crop annotates gets 1; a class annotated but never present gets ``background / 1``.
    Fractions are cached in the JSON file `cache` (keyed by label group path).
    """
    known: dict[str, list[float]] = {}
    if cache is not None and Path(cache).is_file():
        known = json.loads(Path(cache).read_text())
    fg = np.zeros(len(classes))
    total = np.zeros(len(classes))
    vox = float(np.prod(voxel_size))
    for r in rows:
        for i, c in enumerate(classes):
            if c not in r.classes:
                continue
            group = os.path.join(r.crop, c)
            if group not in known:
                s0 = _store.read_levels(group)[0]
                known[group] = [foreground_fraction(group), float(np.prod(s0.shape) * np.prod(s0.voxel_size))]
            frac, volume_nm3 = known[group]
            n = volume_nm3 / vox
            fg[i] += frac * n
            total[i] += n
    if cache is not None:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(cache).with_name(f".{Path(cache).name}.tmp")
        tmp.write_text(json.dumps(known, indent=1))
        os.replace(tmp, cache)
    weights = np.where(total > 0, (total - fg) / np.maximum(fg, 1.0), 1.0)
    return weights.astype(np.float32)
