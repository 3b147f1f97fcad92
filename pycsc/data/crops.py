"""The crops that predict, process and pack iterate over, and their deterministic sharding.

A :class:`Target` is one box to produce output for: a test crop of a manifest (its geometry
and scored classes), a local ground-truth crop, or a free region. Lists of targets are
sorted by (dataset, crop), so ``--shard i/N`` (:func:`select_shard`) picks the same
slice on every node of an array job and the N shards partition the work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, TypeVar

import numpy as np

from ..errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class Target:
    """A box to predict/process/pack, on a grid of voxel size `voxel_size` (zyx nm)."""

    dataset: str
    crop: str                          # "crop557" or "region0"
    classes: tuple[str, ...]           # classes wanted there (empty = any)
    voxel_size: tuple[float, float, float]
    translation: tuple[float, float, float]   # centre of voxel 0
    shape: tuple[int, int, int]

    @property
    def lower(self) -> np.ndarray:
        return np.asarray(self.translation) - np.asarray(self.voxel_size) / 2

    @property
    def upper(self) -> np.ndarray:
        return self.lower + np.asarray(self.shape) * np.asarray(self.voxel_size)


def crop_name(crop_id: int | str) -> str:
    text = str(crop_id)
    return text if text.startswith("crop") else f"crop{text}"


def read_manifest_rows(path: str | Path) -> list[tuple[str, str, str, tuple, tuple, tuple]]:
    """(crop, dataset, class, voxel_size, translation, shape) rows of a test-crop manifest
    (official CSV, or Parquet; read by :func:`pycsc.io.read_manifest`)."""
    from ..io import read_manifest

    return [(crop_name(r.crop_id), r.dataset, r.class_label, tuple(r.voxel_size), tuple(r.translation),
             tuple(int(n) for n in r.shape)) for r in read_manifest(path)]


def test_targets(manifest: str | Path) -> list[Target]:
    """One target per test crop: its scored classes and merged geometry (as the official
    ``get_test_crops``: smallest voxel size and translation, largest shape)."""
    merged: dict[tuple[str, str], list] = {}
    for crop, ds, label, vs, tr, shape in read_manifest_rows(manifest):
        m = merged.setdefault((ds, crop), [[], vs, tr, shape])
        m[0].append(label)
        m[1] = tuple(min(a, b) for a, b in zip(m[1], vs))
        m[2] = tuple(min(a, b) for a, b in zip(m[2], tr))
        m[3] = tuple(max(a, b) for a, b in zip(m[3], shape))
    return sort_targets([Target(ds, crop, tuple(labels), vs, tr, shape)
                         for (ds, crop), (labels, vs, tr, shape) in merged.items()])


def region_target(spec: str, index: int, voxel_size) -> Target:
    """A free box ``DATASET:z0,y0,x0:z1,y1,x1`` (nm) on a grid of `voxel_size`."""
    m = re.fullmatch(r"([^:]+):([-\d.eE]+(?:,[-\d.eE]+){2}):([-\d.eE]+(?:,[-\d.eE]+){2})", spec.strip())
    if not m:
        raise ConfigError(f"`regions` entries must look like 'DATASET:z0,y0,x0:z1,y1,x1' (nm); got {spec!r}")
    lo = np.array([float(v) for v in m.group(2).split(",")])
    hi = np.array([float(v) for v in m.group(3).split(",")])
    if np.any(hi <= lo):
        raise ConfigError(f"`regions` entry {spec!r}: every upper corner must exceed the lower one")
    vs = np.asarray(voxel_size, float)
    shape = np.maximum(1, np.ceil((hi - lo) / vs - 1e-6)).astype(int)
    return Target(m.group(1), f"region{index}", (), tuple(vs), tuple(lo + vs / 2), tuple(int(s) for s in shape))


def crop_sort_key(name: str) -> tuple:
    """Numeric order for ``crop<N>`` names (crop9 before crop10), other names after."""
    digits = name.removeprefix("crop")
    return (0, int(digits), name) if digits.isdigit() else (1, 0, name)


def sort_targets(targets: Sequence[Target]) -> list[Target]:
    return sorted(targets, key=lambda t: (t.dataset, crop_sort_key(t.crop)))


def select_shard(items: Sequence[T], shard: str | None) -> list[T]:
    """Shard ``"i/N"`` (1-based, like SLURM/LSF array indices and ``csc evaluate --shard``):
    items ``i-1, i-1+N, i-1+2N, ...``; all items when `shard` is None.

    Examples
    --------
    >>> select_shard(list("abcde"), "1/2"), select_shard(list("abcde"), "2/2")
    (['a', 'c', 'e'], ['b', 'd'])
    """
    if shard is None:
        return list(items)
    i, n = (int(v) for v in shard.split("/"))
    return list(items[i - 1::n])
