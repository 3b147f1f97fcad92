"""Geometry against brute force: which voxels a box touches is checked voxel by voxel."""

import itertools

import numpy as np
import pytest

from pycsc.errors import InputError
from pycsc.io.geometry import (Box, VoxelGrid, as_vector, choose_level, chunk_indices, crop_slices_in,
                               level_translation, map_index)


def brute_covering(grid: VoxelGrid, box: Box, pad: int):
    """Per axis, the index range of voxels whose extent overlaps the box (positive overlap)."""
    out = []
    for ax in range(grid.ndim):
        idx = np.arange(-pad - 50, grid.shape[ax] + pad + 50)
        lo = grid.translation[ax] + (idx - 0.5) * grid.voxel_size[ax]
        hi = lo + grid.voxel_size[ax]
        overlap = np.minimum(hi, box.stop[ax]) - np.maximum(lo, box.start[ax])
        hit = idx[overlap > 1e-9 * grid.voxel_size[ax]]
        a, b = (hit.min() - pad, hit.max() + 1 + pad) if hit.size else (0, 0)
        a, b = min(max(a, 0), grid.shape[ax]), min(max(b, 0), grid.shape[ax])
        out.append(slice(a, max(a, b)))
    return tuple(out)


@pytest.mark.parametrize("seed", range(40))
def test_slices_covering_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    vs = tuple(rng.choice([1.74, 2.0, 3.48, 4.0, 8.0, 13.92, 16.0], 3))
    grid = VoxelGrid(vs, tuple(rng.uniform(-100, 100, 3)), tuple(rng.integers(1, 40, 3)))
    start = np.asarray(grid.box.start) + rng.uniform(-30, 1.2, 3) * np.asarray(vs) * 4
    box = Box(tuple(start), tuple(start + rng.uniform(0.1, 20, 3) * np.asarray(vs)))
    pad = int(rng.integers(0, 3))
    assert grid.slices_covering(box, pad) == brute_covering(grid, box, pad)


def test_aligned_crop_maps_to_exact_raw_voxels():
    # Crop on the 16 nm grid of a 2 nm EM whose origin is -1 nm (test-manifest convention).
    raw = VoxelGrid((2, 2, 2), (-1, -1, -1), (1000, 1000, 1000))
    crop = VoxelGrid((16, 16, 16), level_translation((-1,) * 3, (2,) * 3, (16,) * 3), (10, 10, 10))
    assert crop.translation == (6.0, 6.0, 6.0)
    assert crop_slices_in(raw, crop) == (slice(0, 80),) * 3
    assert crop_slices_in(raw, crop, pad=3) == (slice(0, 83),) * 3
    # Real manifest floats (23837.13 nm at 1.74 nm) must not pull in a neighbour voxel.
    raw = VoxelGrid((1.74, 2, 2), (0.87, 1, 1), (20000, 5000, 5000))
    crop = VoxelGrid((1.74, 2, 2), (0.87 + 1.74 * 13699, 7599.0, 35999.0 - 31000), (96, 80, 80))
    assert crop_slices_in(raw, crop)[0] == slice(13699, 13699 + 96)


def test_downsampled_grid_follows_the_translation_formula():
    g = VoxelGrid((2.62, 2, 2), (10, 20, 30), (101, 64, 63))
    d = g.downsampled(2)
    assert d.voxel_size == (5.24, 4.0, 4.0) and d.shape == (50, 32, 31)
    assert np.allclose(d.translation, np.asarray(g.translation) + (np.asarray(d.voxel_size) - g.voxel_size) / 2)
    # a coarse voxel is centred on the centre of its 2x2x2 block of fine voxels
    assert np.allclose(map_index(d, g, (0, 0, 0)), 0.5)


@pytest.mark.parametrize("seed", range(20))
def test_chunk_indices_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    shape = rng.integers(1, 50, 3)
    chunks = rng.integers(1, 17, 3)
    lo = [int(rng.integers(0, s)) for s in shape]
    region = tuple(slice(a, int(rng.integers(a, s + 1))) for a, s in zip(lo, shape))
    expected = {tuple(i // c for i, c in zip(p, chunks))
                for p in itertools.product(*(range(s.start, s.stop) for s in region))}
    assert set(chunk_indices(region, chunks)) == expected


@pytest.mark.parametrize("seed", range(20))
def test_choose_level_rules_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    base = rng.choice([1.74, 2.0, 4.0], 3)
    sizes = [tuple(base * 2 ** k) for k in range(int(rng.integers(1, 6)))]
    target = tuple(rng.uniform(1.0, 40.0, 3))
    closest = min(range(len(sizes)), key=lambda i: (sum(abs(v - t) / t for v, t in zip(sizes[i], target)), i))
    assert choose_level(sizes, target, rule="closest") == closest
    fit = [i for i, s in enumerate(sizes) if all(v <= t * 1.01 for v, t in zip(s, target))]
    assert choose_level(sizes, target) == (max(fit, key=lambda i: np.prod(sizes[i])) if fit else 0)


def test_map_index_round_trip():
    a = VoxelGrid((3.48, 4, 4), (1.74, 2, 2), (10, 10, 10))
    b = VoxelGrid((8, 8, 8), (100, 50, 0), (5, 5, 5))
    pts = np.random.default_rng(0).uniform(-5, 20, (7, 3))
    assert np.allclose(map_index(b, a, map_index(a, b, pts)), pts)


@pytest.mark.parametrize("bad", [[1, 2], [np.nan, 1, 1], [0, 1, 1], [-2, 1, 1]])
def test_bad_voxel_sizes_raise(bad):
    with pytest.raises(InputError, match="voxel_size"):
        VoxelGrid(bad, (0, 0, 0), (1, 1, 1))


def test_bad_inputs_name_the_parameter():
    with pytest.raises(InputError, match="shape"):
        VoxelGrid((1, 1, 1), (0, 0, 0), (1.5, 2, 2))
    with pytest.raises(InputError, match="stop"):
        Box((0, 0, 0), (-1, 1, 1))
    with pytest.raises(InputError, match="rule"):
        choose_level([(1, 1, 1)], 1, rule="nearest")
    with pytest.raises(InputError, match="level_voxel_sizes"):
        choose_level([], 1)
    assert as_vector(2, "x") == (2.0, 2.0, 2.0)


def test_box_grow_and_intersect():
    b = Box((0, 0, 0), (10, 10, 10))
    assert b.grow(1) == Box((-1, -1, -1), (11, 11, 11))
    assert b.intersect(Box((5, 5, 5), (20, 20, 20))) == Box((5, 5, 5), (10, 10, 10))
    assert b.intersect(Box((10, 0, 0), (20, 10, 10))) is None
