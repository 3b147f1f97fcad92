"""Golden-style parity cases for NaN predictions and float truth ids (issue 15).

Each case is one (crop, class) with a seeded truth array, a submitted array (with its own
voxel size) and a test-manifest row. :func:`build` writes them all as one truth store, one
submission and one manifest. The expected official records live in
``data/parity_expected.json``; they were produced by ``tools/official_parity.py``, which runs
the official evaluator's ``score_label`` (janelia-cellmap/cellmap-segmentation-challenge at
6b9ad68) on exactly these files.

The "blocks" cases exercise the official block-wise (chunked) resampler, which the official
code only takes for sources above 131 M voxels; both evaluators are run with a block edge of
:data:`SMALL_BLOCK_EDGE` instead (see the tool and the test) so the case stays small.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Block edge used for the "blocks" cases (the official minimum is 32; odd on purpose: with a
#: 80-voxel source at x0.5 the third block lands at output 33 and plane 32 is never written).
SMALL_BLOCK_EDGE = 33
TARGET_VS = (8.0, 8.0, 8.0)


@dataclass(frozen=True)
class Case:
    crop: int
    label: str
    source_vs: tuple[float, float, float]
    blocks: bool = False
    float_truth: bool = False

    @property
    def shape(self) -> tuple[int, int, int]:
        return (40, 40, 40) if self.blocks else (24, 24, 24)


CASES = {
    "nan_semantic_native": Case(1, "ecs", (8.0, 8.0, 8.0)),
    "nan_semantic_down": Case(2, "ecs", (4.0, 4.0, 4.0)),
    "nan_semantic_up": Case(3, "ecs", (16.0, 16.0, 16.0)),
    "nan_semantic_blocks": Case(4, "ecs", (4.0, 4.0, 4.0), blocks=True),
    "nan_instance_native": Case(5, "mito", (8.0, 8.0, 8.0)),
    "nan_instance_down": Case(6, "mito", (4.0, 4.0, 4.0)),
    "nan_instance_up": Case(7, "mito", (16.0, 16.0, 16.0)),
    "nan_instance_blocks": Case(8, "mito", (4.0, 4.0, 4.0), blocks=True),
    "float_truth_instance": Case(9, "mito", (8.0, 8.0, 8.0), float_truth=True),
}


def _boxes(shape, n, rng, size=(4, 6)) -> np.ndarray:
    out = np.zeros(shape, np.uint32)
    for i in range(1, n + 1):
        e = rng.integers(size[0], size[1], 3)
        c = [int(rng.integers(1, s - k - 1)) for s, k in zip(shape, e)]
        out[c[0]:c[0] + e[0], c[1]:c[1] + e[1], c[2]:c[2] + e[2]] = i
    return out


def _upsample(a: np.ndarray, f: int) -> np.ndarray:
    return a.repeat(f, 0).repeat(f, 1).repeat(f, 2)


def case_arrays(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(truth, submitted prediction) of case `name` (seeded by its crop id)."""
    case = CASES[name]
    rng = np.random.default_rng(1000 + case.crop)
    truth_ids = _boxes(case.shape, 8 if case.blocks else 6, rng)
    factor = TARGET_VS[0] / case.source_vs[0]  # 2 (finer source), 1 or 0.5 (coarser source)
    if factor == 2:
        base = _upsample(truth_ids, 2)
    elif factor == 1:
        base = truth_ids.copy()
    else:
        base = truth_ids[1::2, 1::2, 1::2].copy()
    base = np.roll(base, 1, axis=2)  # a one-voxel shift: distances are not all zero
    if case.label == "mito":
        pred = base.astype(np.float32)
        pred[pred == 3] = 7.0  # ids need not be contiguous
        truth = truth_ids.astype(np.float32) if case.float_truth else truth_ids
    else:
        pred = np.where(base > 0, rng.uniform(0.55, 1.0, base.shape), rng.uniform(-0.5, 0.45, base.shape))
        pred = pred.astype(np.float32)
        truth = (truth_ids > 0).astype(np.uint8)
    if not case.float_truth:
        # NaN inside an object, on borders and in the background; few for instance labels
        # (each NaN voxel is an object of its own there, and the count gate must pass).
        nan = rng.random(pred.shape) < (0.002 if case.label == "ecs" else 0.0)
        nan[tuple(np.argwhere(base == 1)[0])] = True
        nan[tuple(np.argwhere(base > 0)[-1])] = True
        nan[0, -1, 0] = True
        pred[nan] = np.nan
    return truth, pred


def build(root: Path) -> tuple[Path, Path, Path]:
    """Write every case; return (truth store, submission folder, manifest CSV)."""
    from .conftest import grid, write_array, write_manifest

    truth_root, sub_root = root / "truth.zarr", root / "submission.zarr"
    rows = []
    for name, case in CASES.items():
        truth, pred = case_arrays(name)
        crop = f"crop{case.crop}"
        write_array(truth_root / crop / case.label, truth, grid(TARGET_VS))
        chunks = tuple(min(16, s) for s in pred.shape)
        write_array(sub_root / crop / case.label, pred, grid(case.source_vs), chunks=chunks)
        rows.append((case.crop, case.label, TARGET_VS, (0.0, 0.0, 0.0), case.shape))
    return truth_root, sub_root, write_manifest(root / "manifest.csv", rows)


__all__ = ["CASES", "Case", "SMALL_BLOCK_EDGE", "TARGET_VS", "case_arrays", "build"]
