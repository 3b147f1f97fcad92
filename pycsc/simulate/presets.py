"""Sizes of the synthetic datasets: from ``tiny`` (tests, about a second) to ``medium``.

A crop is annotated on the grid of one EM level (``level`` k: voxel size ``2^k`` times the
EM's finest), so crop and EM voxels line up as they do in the public data. Anisotropic
EM (z finer than y, x, as in many challenge datasets) gives anisotropic crops.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError
from ..io.classes import TESTED_CLASSES


@dataclass(frozen=True)
class CropSpec:
    level: int                      # EM level whose grid the crop is annotated on
    shape: tuple[int, int, int]     # voxels at that level
    classes: str = "all"            # key of CLASS_SETS
    test: bool = False              # held out: EM only in the dataset, truth in ground_truth.zarr


@dataclass(frozen=True)
class DatasetSpec:
    voxel_size: tuple[float, float, float]   # EM s0, nm
    translation: tuple[float, float, float]  # EM s0, nm (centre of voxel 0)
    shape: tuple[int, int, int]              # EM s0 voxels
    chunks: tuple[int, int, int]
    n_levels: int
    crops: tuple[CropSpec, ...]


@dataclass(frozen=True)
class Preset:
    name: str
    datasets: tuple[DatasetSpec, ...]
    cell_spacing_nm: float
    label_chunks: tuple[int, int, int] = (64, 64, 64)
    label_levels: int = 3           # s0..s2 per label group, fewer where the crop is small


#: Classes annotated per crop kind. "all" is every scored class (as the full test crops list).
CLASS_SETS: dict[str, tuple[str, ...]] = {
    "all": TESTED_CLASSES,
    "organelles": ("ecs", "cyto", "mito", "mito_mem", "mito_lum", "ves", "lyso", "ld", "perox",
                   "endo", "er", "cell"),
    "nucleus": ("nuc", "ne", "ne_mem", "np", "chrom", "hchrom", "echrom", "nucpl", "pm", "cyto",
                "ecs"),
}

_ANISO = (6.96, 8.0, 8.0)   # 1.74 x 2 x 2 nm (a real challenge voxel size) scaled by 4

PRESETS: dict[str, Preset] = {
    "tiny": Preset("tiny", (
        DatasetSpec((8.0, 8.0, 8.0), (4.0, 4.0, 4.0), (48, 64, 64), (16, 32, 32), 3, (
            CropSpec(0, (20, 24, 24), "all"),
            CropSpec(1, (10, 12, 12), "organelles"),
            CropSpec(0, (16, 20, 20), "all", test=True))),
        DatasetSpec(_ANISO, (1003.48, -396.0, 2004.0), (48, 64, 64), (16, 32, 32), 3, (
            CropSpec(0, (20, 24, 24), "organelles"),
            CropSpec(1, (12, 12, 12), "nucleus", test=True))),
    ), cell_spacing_nm=520.0, label_chunks=(32, 32, 32), label_levels=2),
    "small": Preset("small", (
        DatasetSpec((8.0, 8.0, 8.0), (4.0, 4.0, 4.0), (128, 192, 192), (64, 64, 64), 4, (
            CropSpec(0, (64, 96, 96), "all"), CropSpec(0, (48, 64, 64), "all"),
            CropSpec(1, (32, 48, 48), "organelles"), CropSpec(1, (40, 40, 40), "nucleus"),
            CropSpec(0, (64, 80, 80), "all", test=True),
            CropSpec(1, (32, 40, 40), "organelles", test=True))),
        DatasetSpec(_ANISO, (1003.48, -396.0, 2004.0), (144, 192, 192), (64, 64, 64), 4, (
            CropSpec(0, (72, 96, 96), "all"), CropSpec(1, (36, 48, 48), "all"),
            CropSpec(0, (56, 64, 64), "organelles"),
            CropSpec(0, (64, 64, 64), "all", test=True),
            CropSpec(1, (32, 40, 40), "nucleus", test=True))),
    ), cell_spacing_nm=1100.0),
    "medium": Preset("medium", (
        DatasetSpec((4.0, 4.0, 4.0), (2.0, 2.0, 2.0), (256, 384, 384), (128, 128, 128), 5, (
            CropSpec(0, (128, 160, 160), "all"), CropSpec(1, (96, 96, 96), "all"),
            CropSpec(1, (64, 96, 96), "organelles"), CropSpec(2, (48, 48, 48), "nucleus"),
            CropSpec(0, (128, 128, 128), "all", test=True),
            CropSpec(2, (40, 48, 48), "organelles", test=True))),
        DatasetSpec((3.48, 4.0, 4.0), (501.74, -198.0, 1002.0), (288, 384, 384), (128, 128, 128), 5, (
            CropSpec(0, (144, 160, 160), "all"), CropSpec(1, (96, 96, 96), "organelles"),
            CropSpec(2, (48, 48, 48), "all"),
            CropSpec(1, (64, 80, 80), "all", test=True))),
        DatasetSpec((8.0, 8.0, 8.0), (4.0, 4.0, 4.0), (160, 192, 192), (64, 64, 64), 4, (
            CropSpec(0, (64, 96, 96), "all"), CropSpec(1, (40, 48, 48), "nucleus"),
            CropSpec(0, (64, 64, 64), "all", test=True))),
    ), cell_spacing_nm=1300.0, label_chunks=(64, 64, 64)),
}

TEST_CROP_ID_BASE = 900


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise InputError(f"`preset` must be one of {sorted(PRESETS)}; got {name!r}") from None


__all__ = ["CropSpec", "DatasetSpec", "Preset", "CLASS_SETS", "PRESETS", "TEST_CROP_ID_BASE",
           "get_preset"]
