"""Training patches: exact reads, unknown/true-negative targets, resampling, augmentation."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from pycsc.config import AugmentConfig
from pycsc.data import _store, augment
from pycsc.data.dataset import GridPatches, PatchReader, RandomPatches, read_resampled
from pycsc.data.datasplit import SplitRow

_spec = importlib.util.spec_from_file_location("toy_for_dataset", Path(__file__).with_name("_toy.py"))
_toy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_toy)


def _rows(toy):
    base = toy["data_root"] / "toy-1" / "toy-1.zarr" / "recon-1"
    return [SplitRow("train", str(base / "em" / "fibsem-uint8"), str(base / "labels" / "groundtruth" / f"crop{i}"),
                     ("mito", "nuc")) for i in (1, 2)]


def _read(reader, i, lower, shape):
    """(raw, target with NaN where the mask is 0) of the box with lower edge `lower`."""
    centre = np.asarray(lower) + np.asarray(shape) * reader.voxel_size / 2
    p = reader.read(i, centre)
    return p.raw, np.where(p.mask > 0, p.target, np.nan)


@pytest.mark.parametrize("corner", [(0, 0, 0), (3, 5, 7), (40, 40, 40), (-3, 2, 45)])
def test_raw_is_read_exactly_with_zero_padding(toy, corner):
    reader = PatchReader(_rows(toy), ("mito",), (8, 8, 8), (8, 8, 8))
    lower = np.asarray(corner) * 8.0 - 4.0          # EM voxel 0 is centred at 0 nm
    raw, _ = _read(reader, 0, lower, (8, 8, 8))
    em = np.pad(toy["em"], 16)
    c = np.asarray(corner) + 16
    expected = em[c[0]:c[0] + 8, c[1]:c[1] + 8, c[2]:c[2] + 8] / 255.0
    np.testing.assert_allclose(raw, expected, rtol=0, atol=1e-6)


def test_targets_unknown_outside_crop_and_for_unannotated_classes(toy):
    reader = PatchReader(_rows(toy), ("mito", "ecs", "nuc", "mito_mem"), (16, 8, 8), (8, 8, 8))
    lower = np.array([16, 10, 20]) * 8.0 - 4.0      # crop1 covers z 0..24: rows 0..8 known
    _, t = _read(reader, 0, lower, (16, 8, 8))
    mito = toy["labels"]["mito"][16:32, 10:18, 20:28] > 0
    nuc = toy["labels"]["nuc"][16:32, 10:18, 20:28] > 0
    np.testing.assert_array_equal(t[0, :8], mito[:8])
    np.testing.assert_array_equal(t[2, :8], nuc[:8])
    assert np.isnan(t[:, 8:]).all()
    # ecs is excluded by mito and nuc: a known negative there, unknown elsewhere
    ecs = t[1, :8]
    np.testing.assert_array_equal(ecs == 0, mito[:8] | nuc[:8])
    assert np.isnan(ecs[~(mito[:8] | nuc[:8])]).all()
    # mito_mem overlaps mito (no information) but excludes nuc
    np.testing.assert_array_equal(t[3, :8] == 0, nuc[:8])
    plain = PatchReader(_rows(toy), ("mito", "ecs"), (16, 8, 8), (8, 8, 8), true_negatives=False)
    assert np.isnan(_read(plain, 0, lower, (16, 8, 8))[1][1]).all()


def test_level_choice_and_resampling(toy):
    levels = _store.read_levels(toy["data_root"] / "toy-1" / "toy-1.zarr" / "recon-1" / "em" / "fibsem-uint8")
    # 16 nm exists (s1): read verbatim, no resampling
    box = read_resampled(levels, np.array([0.0, 0.0, 0.0]), (8, 8, 8), (16, 16, 16), order=1)
    np.testing.assert_array_equal(box, toy["em"][::2, ::2, ::2][:8, :8, :8])
    assert _store.choose_level(levels, (16.2, 16, 16)).voxel_size == (16, 16, 16)   # within 1 %
    assert _store.choose_level(levels, (12, 12, 12)).voxel_size == (8, 8, 8)        # finer one
    assert _store.choose_level(levels, (4, 4, 4)).voxel_size == (8, 8, 8)           # finest
    # 4 nm: no such level, 8 nm is up-sampled with the native rescale (skimage semantics)
    skimage_transform = pytest.importorskip("skimage.transform")
    up = read_resampled(levels, np.array([-4.0, -4.0, -4.0]), (8, 8, 8), (4, 4, 4), order=1)
    src = toy["em"][:4, :4, :4].astype(np.float32)
    expected = skimage_transform.rescale(src, 2, order=1, mode="constant", preserve_range=True)
    np.testing.assert_allclose(up, expected, rtol=1e-5, atol=1e-3)


def _coupled_dataset(tmp_path):
    """EM random; the label is exactly EM > 128, so any geometric transform must keep them equal."""
    rng = np.random.default_rng(1)
    em = rng.integers(0, 256, (24, 24, 24), dtype=np.uint8)
    base = tmp_path / "data" / "c-1" / "c-1.zarr" / "recon-1"
    _toy._write(base / "em" / "fibsem-uint8", [em], [8.0] * 3, [0.0] * 3)
    _toy._write(base / "labels" / "groundtruth" / "crop1" / "mito", [(em > 128).astype(np.uint8)], [8.0] * 3, [0.0] * 3)
    return [SplitRow("train", str(base / "em" / "fibsem-uint8"), str(base / "labels" / "groundtruth" / "crop1"), ("mito",))]


@pytest.mark.parametrize("shape,ndim", [((16, 16, 16), 3), ((8, 16, 12), 3), ((1, 16, 16), 2)])
def test_flips_and_transposes_move_raw_and_labels_together(tmp_path, shape, ndim):
    rows = _coupled_dataset(tmp_path)
    cfg = AugmentConfig(intensity_scale=0.0, intensity_shift=0.0)
    ds = RandomPatches(PatchReader(rows, ("mito",), shape, (8, 8, 8)), ndim, cfg)
    seen = set()
    for seed in range(12):
        s = ds[(0, seed)]
        raw, target, mask = s["raw"].numpy()[0], s["target"].numpy()[0], s["mask"].numpy()[0]
        assert raw.shape == (shape[1:] if ndim == 2 else shape) and target.shape == raw.shape
        assert (mask == 1).all()
        np.testing.assert_array_equal(target == 1, np.rint(raw * 255) > 128)
        seen.add(raw.tobytes())
        again = ds[(0, seed)]
        assert np.array_equal(again["raw"].numpy(), s["raw"].numpy())   # deterministic per key
    assert len(seen) > 6


def test_transpose_only_swaps_matching_axes():
    rng = np.random.default_rng(0)
    cfg = AugmentConfig(mirror=())

    def perms(shape, vs, n):
        out = set()
        for _ in range(n):
            m = augment.draw(cfg, rng, [(shape, vs)]).flip_perm
            out.add(tuple(int(np.flatnonzero(m[:, a])[0]) for a in range(3)))
        return out
    assert perms((8, 16, 16), (8, 8, 8), 50) == {(0, 1, 2), (0, 2, 1)}
    assert all(p[0] == 0 for p in perms((16, 16, 16), (10, 8, 8), 50))   # z has another voxel size
    assert len(perms((16, 16, 16), (8, 8, 8), 200)) == 6


def test_grid_patches_tile_every_crop(toy):
    reader = PatchReader(_rows(toy), ("mito", "nuc"), (16, 16, 16), (8, 8, 8))
    grid = GridPatches(reader, 3)
    assert len(grid) == 2 * (2 * 3 * 3)    # 24x48x48 crops, 16^3 tiles
    assert len(GridPatches(reader, 3, limit=5)) == 5
    assert grid[0]["target"].shape == grid[0]["mask"].shape == (2, 16, 16, 16)


def test_loader_targets_follow_the_layout_and_match_whole_crop_references(toy):
    """sdt of nuc and boundaries of mito, read through the loader, against scipy/skimage on
    the whole crop (crop1: z 0..24 of the 48^3 toy); values the loader keeps must agree."""
    from scipy import ndimage as ndi
    find_boundaries = pytest.importorskip("skimage.segmentation").find_boundaries

    scale = 24.0
    reader = PatchReader(_rows(toy), ("mito", "nuc"), (8, 16, 16), (8, 8, 8),
                         targets={"nuc": {"kind": "sdt", "scale_nm": scale}, "mito": "boundary"})
    assert [c.label for c in reader.layout] == ["mito/fg", "mito/boundary", "nuc"]
    assert reader.margin == (9, 9, 9)                   # 3 * 24 nm of context at 8 nm
    nuc = toy["labels"]["nuc"][:24] > 0
    mito = toy["labels"]["mito"][:24]
    inside = ndi.distance_transform_edt(nuc, sampling=8.0)
    outside = ndi.distance_transform_edt(~nuc, sampling=8.0)
    ref_sdt = np.tanh(np.where(nuc, inside, -outside) / scale)
    ref_boundary = find_boundaries(mito, connectivity=1, mode="inner")
    kept = 0
    for corner in [(8, 16, 16), (0, 0, 0), (16, 32, 32)]:
        z, y, x = corner
        p = reader.read(0, (np.asarray(corner) + np.array([4, 8, 8])) * 8.0 - 4.0)
        sl = np.s_[z:z + 8, y:y + 16, x:x + 16]
        m = p.mask[2] > 0
        np.testing.assert_allclose(p.target[2][m], ref_sdt[sl][m], atol=6e-3)   # saturated: within 0.5 %
        kept += m.sum()
        np.testing.assert_array_equal(p.target[0], mito[sl] > 0)
        mb = p.mask[1] > 0
        np.testing.assert_array_equal(p.target[1][mb] > 0, ref_boundary[sl][mb])
    assert kept > 0.25 * 3 * 8 * 16 * 16      # a 24-voxel-thick crop: its z faces are unknown beyond
