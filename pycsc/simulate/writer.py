"""Write a synthetic dataset in the public layout, plus held-out test crops and their truth.

::

    <dest>/<name>/<name>.zarr/recon-1/em/fibsem-uint8/s0..sN          EM multiscale
    <dest>/<name>/<name>.zarr/recon-1/labels/groundtruth/crop<N>/<class>/s0..  training crops
    <dest>/<name>/<name>.zarr/recon-1/labels/groundtruth/crop<N>/all/s0..
    <dest>/ground_truth.zarr/crop<M>/<class>           hidden truth of test crops (single scale)
    <dest>/test_crop_manifest.csv  <dest>/train_crop_manifest.csv  (official CSV format)

Everything is derived from the seed: same seed and preset, byte-identical arrays.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..io.arrays import write_arrays
from ..io.geometry import VoxelGrid
from ..io.manifest import CropRow, write_manifest_csv
from ..io.ngff import Multiscale, ScaleLevel, pyramid, write_multiscale, write_multiscales
from .presets import CLASS_SETS, TEST_CROP_ID_BASE, DatasetSpec, Preset, get_preset
from .raster import all_volume, class_volume, rasterize
from .scene import Scene, build_scene
from .texture import downsample_mean, em_texture

ALIGNMENT = "recon-1"
RAW_NAME = "em/fibsem-uint8"
TRUTH_NAME = "ground_truth.zarr"
TEST_MANIFEST = "test_crop_manifest.csv"
TRAIN_MANIFEST = "train_crop_manifest.csv"
_SLAB_VOXELS = 1 << 19   # voxels rasterised at a time (bounds the per-seed float64 temporaries)


@dataclass
class SimulationResult:
    """What :func:`simulate` wrote."""

    dest: Path
    datasets: list[str] = field(default_factory=list)
    train_rows: list[CropRow] = field(default_factory=list)
    test_rows: list[CropRow] = field(default_factory=list)

    @property
    def truth_path(self) -> Path:
        return self.dest / TRUTH_NAME

    @property
    def test_manifest(self) -> Path:
        return self.dest / TEST_MANIFEST

    @property
    def train_manifest(self) -> Path:
        return self.dest / TRAIN_MANIFEST


def dataset_root(dest: Path, name: str) -> Path:
    return Path(dest) / name / f"{name}.zarr"


def _groups(path: Path, *names: str) -> None:
    """Create the v2 group at `path` and the groups `names` (paths relative to it, with
    every intermediate group)."""
    import zarr

    root = zarr.open_group(str(path), mode="a", zarr_format=2)
    for n in names:
        root.require_group(n)


def _rasterize_em(scene: Scene, grid: VoxelGrid) -> np.ndarray:
    slab = max(1, _SLAB_VOXELS // max(grid.shape[1] * grid.shape[2], 1))
    out = np.empty(grid.shape, np.uint8)
    for z0 in range(0, grid.shape[0], slab):
        sub = grid.subgrid((slice(z0, min(z0 + slab, grid.shape[0])), slice(None), slice(None)))
        out[z0:z0 + sub.shape[0]] = rasterize(scene, sub).atomic
    return out


def _write_em(root: Path, spec: DatasetSpec, grid: VoxelGrid, scene: Scene, rng) -> None:
    levels = [em_texture(_rasterize_em(scene, grid), rng)]
    while len(levels) < spec.n_levels and min(levels[-1].shape) >= 2:
        levels.append(downsample_mean(levels[-1]))
    ms = pyramid(spec.voxel_size, spec.translation, len(levels))
    write_multiscale(root / ALIGNMENT / RAW_NAME, levels, ms, spec.chunks)


def _place_crops(spec: DatasetSpec, em: VoxelGrid, rng) -> list[VoxelGrid]:
    """A grid per crop, aligned on its EM level, inside the EM, avoiding earlier crops."""
    placed: list[VoxelGrid] = []
    for crop in spec.crops:
        level = em.downsampled(2 ** crop.level)
        if any(c > s for c, s in zip(crop.shape, level.shape)):
            raise DataError(f"crop shape {crop.shape} does not fit EM level s{crop.level} "
                            f"of shape {level.shape}")
        best = None
        for _ in range(50):
            start = [int(rng.integers(0, s - c + 1)) for c, s in zip(crop.shape, level.shape)]
            grid = level.subgrid(tuple(slice(a, a + c) for a, c in zip(start, crop.shape)))
            best = grid
            if all(grid.box.intersect(p.box) is None for p in placed):
                break
        placed.append(best)
    return placed


def _label_levels(grid: VoxelGrid, max_levels: int) -> list[VoxelGrid]:
    grids = [grid]
    while len(grids) < max_levels and min(grids[-1].shape) >= 8:
        grids.append(grids[-1].downsampled(2))
    return grids


def _write_train_crop(crop_root: Path, classes, grids: list[VoxelGrid], scene: Scene,
                      chunks) -> None:
    rasters = [rasterize(scene, g) for g in grids]
    ms = Multiscale(tuple(ScaleLevel(f"s{k}", g.voxel_size, g.translation) for k, g in enumerate(grids)))
    items = [(crop_root / name, [class_volume(name, r) for r in rasters], ms) for name in classes]
    items.append((crop_root / "all", [all_volume(classes, r) for r in rasters], ms))
    write_multiscales(items, chunks)


def _write_truth(truth_root: Path, crop_id: int, classes, grid: VoxelGrid, scene: Scene,
                 chunks) -> None:
    raster = rasterize(scene, grid)
    _groups(truth_root, f"crop{crop_id}")
    attrs = {"voxel_size": list(grid.voxel_size), "translation": list(grid.translation),
             "shape": list(grid.shape)}
    write_arrays([(truth_root / f"crop{crop_id}" / name, class_volume(name, raster)) for name in classes],
                 chunks, attrs=[attrs] * len(classes))


def _rows(crop_id: int, dataset: str, classes, grid: VoxelGrid) -> list[CropRow]:
    return [CropRow(crop_id, dataset, c, grid.voxel_size, grid.translation, grid.shape) for c in classes]


def simulate_dataset(dest: Path, name: str, spec: DatasetSpec, preset: Preset, seed: int,
                     index: int, crop_ids: list[int], result: SimulationResult) -> None:
    """Write one dataset; `crop_ids` gives the id of each crop of `spec.crops`, in order."""
    root = dataset_root(dest, name)
    em = VoxelGrid(spec.voxel_size, spec.translation, spec.shape)
    scene = build_scene(em.box, np.random.default_rng([seed, index, 0]), preset.cell_spacing_nm)
    _groups(root, ALIGNMENT, f"{ALIGNMENT}/em", f"{ALIGNMENT}/labels/groundtruth")
    _write_em(root, spec, em, scene, np.random.default_rng([seed, index, 1]))
    grids = _place_crops(spec, em, np.random.default_rng([seed, index, 2]))
    gt_root = root / ALIGNMENT / "labels" / "groundtruth"
    for crop, grid, crop_id in zip(spec.crops, grids, crop_ids):
        classes = CLASS_SETS[crop.classes]
        if crop.test:
            _write_truth(dest / TRUTH_NAME, crop_id, classes, grid, scene, preset.label_chunks)
            result.test_rows += _rows(crop_id, name, classes, grid)
        else:
            _groups(gt_root, f"crop{crop_id}")
            _write_train_crop(gt_root / f"crop{crop_id}", classes,
                              _label_levels(grid, preset.label_levels), scene, preset.label_chunks)
            result.train_rows += _rows(crop_id, name, classes, grid)


def simulate(dest, preset: str = "tiny", seed: int = 0, name_prefix: str = "jrc_sim",
             overwrite: bool = False) -> SimulationResult:
    """Write the synthetic datasets of `preset` under `dest`.

    Parameters
    ----------
    dest : path
        Data root (like ``data/``): datasets go to ``<dest>/<name>/<name>.zarr``.
    preset : {"tiny", "small", "medium"}
        Size: ``tiny`` for tests (about a second), ``small`` for the demo, ``medium`` larger.
    seed : int
        Everything random derives from it; same seed, byte-identical arrays.
    name_prefix : str
        Datasets are named ``<name_prefix>-1``, ``<name_prefix>-2``, ...
    overwrite : bool
        Replace existing outputs; otherwise existing ones are an error.

    Returns
    -------
    SimulationResult
        Dataset names and the training and test manifest rows.

    Raises
    ------
    DataError
        If an output exists and `overwrite` is false.
    """
    spec = get_preset(preset)
    dest = Path(dest)
    names = [f"{name_prefix}-{i + 1}" for i in range(len(spec.datasets))]
    outputs = [dest / n for n in names] + [dest / TRUTH_NAME]
    existing = [p for p in outputs if p.exists()]
    if existing and not overwrite:
        raise DataError(f"{existing[0]} already exists; pass --overwrite to replace the simulated "
                        "data, or choose another --dest")
    for p in existing:
        shutil.rmtree(p)
    dest.mkdir(parents=True, exist_ok=True)
    _groups(dest / TRUTH_NAME)
    result = SimulationResult(dest, names)
    next_train, next_test = 1, TEST_CROP_ID_BASE + 1
    for index, (name, ds) in enumerate(zip(names, spec.datasets)):
        ids = []
        for crop in ds.crops:
            ids.append(next_test if crop.test else next_train)
            next_test, next_train = (next_test + 1, next_train) if crop.test else (next_test, next_train + 1)
        simulate_dataset(dest, name, ds, spec, seed, index, ids, result)
    write_manifest_csv(result.test_rows, result.test_manifest)
    write_manifest_csv(result.train_rows, result.train_manifest)
    return result


__all__ = ["SimulationResult", "simulate", "simulate_dataset", "dataset_root", "ALIGNMENT",
           "RAW_NAME", "TRUTH_NAME", "TEST_MANIFEST", "TRAIN_MANIFEST"]
