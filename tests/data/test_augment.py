"""Every geometric augmentation keeps EM, labels and masks aligned.

The EM holds one world coordinate (nm) per dataset (z, y or x: linear ramps, which
trilinear sampling reproduces exactly) and the labels hold the id of their own voxel, so a
sample tells, for every voxel, where in the world its EM and its label were taken from.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from pycsc.config import AugmentConfig
from pycsc.data import augment
from pycsc.data.dataset import PatchReader, RandomPatches
from pycsc.data.datasplit import SplitRow
from pycsc.targets import registry
from pycsc.targets.registry import Target

_spec = importlib.util.spec_from_file_location("toy_for_augment", Path(__file__).with_name("_toy.py"))
_toy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_toy)

N = 32          # EM voxels per axis (8 nm, voxel i centred at 8 i nm)


class _Ids(Target):
    """Test-only target: the label ids themselves."""

    name = "test_ids"

    def make(self, labels, known, voxel_size_nm, **params):
        return np.where(known, labels, 0).astype(np.float32)[None], known.astype(np.float32)[None]


@pytest.fixture
def ids_target():
    registry._REGISTRY["test_ids"] = _Ids()
    yield
    del registry._REGISTRY["test_ids"]


def _dataset(tmp_path, label_vs):
    """Rows for EM = z, y, x world coordinate; a crop [32, 224) nm of voxel-id labels."""
    base = tmp_path / "data" / "a-1" / "a-1.zarr" / "recon-1"
    coords = np.indices((N,) * 3).astype(np.float32) * 8.0
    for a, name in enumerate("zyx"):
        _toy._write(base / "em" / name, [coords[a]], [8.0] * 3, [0.0] * 3)
    n = int(192 / label_vs)
    ids = 1 + np.arange(n ** 3, dtype=np.uint32).reshape((n,) * 3)
    _toy._write(base / "labels" / "groundtruth" / "crop1" / "mito", [ids], [label_vs] * 3,
                [32.0 + label_vs / 2] * 3)
    crop = str(base / "labels" / "groundtruth" / "crop1")
    return [[SplitRow("train", str(base / "em" / name), crop, ("mito",))] for name in "zyx"], n


def _label_positions(ids, n, vs):
    """World centre (nm) of the label voxel each id names: ``[3, *ids.shape]``."""
    idx = np.stack(np.unravel_index(ids.astype(np.int64) - 1, (n,) * 3))
    return idx * vs + 32.0 + vs / 2


def _samples(rows, n_rows, shape, ndim, cfg, seed, **grid):
    out = []
    for r in rows:
        reader = PatchReader(r, ("mito",), shape, (8.0,) * 3 if "vs" not in grid else grid["vs"],
                             targets={"mito": "test_ids"}, input_shape=grid.get("input_shape"),
                             input_voxel_size=grid.get("input_vs"))
        out.append(RandomPatches(reader, ndim, cfg)[(0, seed)])
    return out


GEOMETRY = dict(intensity_scale=0.0, intensity_shift=0.0, rotate_deg=180.0, rotate_axes=("z", "y", "x"),
                scale_prob=1.0, scale_range=(0.8, 1.25), anisotropic_scale=0.2, elastic_prob=1.0,
                elastic_magnitude_nm=12.0, elastic_spacing_nm=64.0)


@pytest.mark.parametrize("shape,ndim,extra", [
    ((16, 16, 16), 3, {}),
    ((16, 16, 16), 3, {"elastic_prob": 0.0, "scale_prob": 0.0}),     # rotations alone
    ((1, 16, 16), 2, {}),
])
def test_geometry_keeps_em_and_labels_on_the_same_world_position(tmp_path, ids_target, shape, ndim, extra):
    rows, n = _dataset(tmp_path, 8.0)
    cfg = AugmentConfig(**{**GEOMETRY, **extra})
    moved = 0
    for seed in range(4):
        sz, sy, sx = _samples(rows, n, shape, ndim, cfg, seed)
        raw = np.stack([s["raw"].numpy()[0] for s in (sz, sy, sx)])       # world nm of each voxel
        mask = sz["mask"].numpy()[0] > 0
        assert mask.mean() > 0.3
        for s in (sy, sx):
            np.testing.assert_array_equal(s["target"].numpy(), sz["target"].numpy())
        pos = _label_positions(sz["target"].numpy()[0][mask], n, 8.0)
        # nearest label voxel: within half a voxel of the EM's (exact) sampling position
        assert np.abs(raw[:, mask] - pos).max() <= 4.0 + 1e-3
        steps = np.diff(raw, axis=-1) / 8.0    # whole voxels only under mirrors and transposes
        moved += np.abs(steps - np.rint(steps)).max() > 0.05
        if ndim == 2:
            assert np.ptp(raw[0][mask]) < 1e-3          # a 2D patch stays in its z plane
    assert moved >= 3


def test_input_and_target_grids_stay_aligned(tmp_path, ids_target):
    """8 nm input with more context, 4 nm targets (setup_04's layout), under rotation and zoom."""
    rows, n = _dataset(tmp_path, 4.0)
    cfg = AugmentConfig(**{**GEOMETRY, "elastic_prob": 0.0})
    for seed in range(3):
        samples = _samples(rows, n, (16, 16, 16), 3, cfg, seed, vs=(4.0,) * 3,
                           input_shape=(12, 12, 12), input_vs=(8.0,) * 3)
        raw = np.stack([s["raw"].numpy()[0] for s in samples])              # [3, 12, 12, 12] at 8 nm
        ids = samples[0]["target"].numpy()[0]                                # [16, 16, 16] at 4 nm
        mask = samples[0]["mask"].numpy()[0] > 0
        assert raw.shape == (3, 12, 12, 12) and ids.shape == (16, 16, 16)
        # the 4 nm target block is the middle 8^3 input voxels; each input voxel is the mean of
        # the positions of its 2x2x2 target children (the geometry is linear)
        pos = _label_positions(np.where(mask, ids, 1), n, 4.0).reshape(3, 8, 2, 8, 2, 8, 2)
        whole = mask.reshape(8, 2, 8, 2, 8, 2).all(axis=(1, 3, 5))
        assert whole.mean() > 0.3
        mean = pos.mean(axis=(2, 4, 6))
        np.testing.assert_array_less(np.abs(raw[:, 2:10, 2:10, 2:10] - mean)[:, whole], 2.0 + 1e-3)


def test_mirror_probabilities_are_per_axis():
    rng = np.random.default_rng(0)
    cfg = AugmentConfig(mirror_prob=(0.0, 1.0, 0.5), transpose=False, rotate90=False)
    signs = np.array([np.diag(augment.draw(cfg, rng, [((8, 8, 8), (8, 8, 8))]).flip_perm) for _ in range(400)])
    assert (signs[:, 0] == 1).all() and (signs[:, 1] == -1).all()
    assert 0.4 < np.mean(signs[:, 2] == -1) < 0.6


def test_intensity_changes_touch_only_the_em(tmp_path):
    rows, _ = _dataset(tmp_path, 8.0)
    base = AugmentConfig(mirror=(), transpose=False, rotate90=False, intensity_scale=0.0, intensity_shift=0.0)
    noisy = AugmentConfig(mirror=(), transpose=False, rotate90=False, gamma_prob=1.0, blur_prob=1.0,
                          noise_std=0.1, intensity_scale=0.2, intensity_shift=0.2)
    a = RandomPatches(PatchReader(rows[0], ("mito",), (8, 8, 8), (8, 8, 8)), 3, base)[(0, 5)]
    b = RandomPatches(PatchReader(rows[0], ("mito",), (8, 8, 8), (8, 8, 8)), 3, noisy)[(0, 5)]
    assert not np.allclose(a["raw"].numpy(), b["raw"].numpy())
    np.testing.assert_array_equal(a["target"].numpy(), b["target"].numpy())
    np.testing.assert_array_equal(a["mask"].numpy(), b["mask"].numpy())
