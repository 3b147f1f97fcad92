"""Scene sampling is grid-independent; blur and pyramid match SciPy / scikit-image."""

import numpy as np
import pytest
from scipy import ndimage
from skimage.measure import block_reduce

from pycsc.io.classes import CLASS_IDS
from pycsc.io.geometry import VoxelGrid
from pycsc.simulate.raster import class_volume, rasterize
from pycsc.simulate.scene import build_scene
from pycsc.simulate.texture import box_blur, downsample_mean, em_texture


@pytest.fixture(scope="module")
def scene_and_grid():
    grid = VoxelGrid((8.0, 8.0, 8.0), (4.0, 4.0, 4.0), (40, 48, 48))
    return build_scene(grid.box, np.random.default_rng(5), 420.0), grid


def test_subgrid_sampling_equals_slicing(scene_and_grid):
    scene, grid = scene_and_grid
    full = rasterize(scene, grid)
    for sl in [(slice(0, 7), slice(None), slice(None)), (slice(13, 29), slice(5, 40), slice(17, 18))]:
        part = rasterize(scene, grid.subgrid(sl))
        for name in ("atomic", "cell", "organelle", "pore"):
            np.testing.assert_array_equal(getattr(part, name), getattr(full, name)[sl])


def test_scene_covers_the_cell_basics(scene_and_grid):
    scene, grid = scene_and_grid
    r = rasterize(scene, grid)
    present = set(np.unique(r.atomic).tolist())
    assert {CLASS_IDS[c] for c in ("ecs", "pm", "cyto")} <= present
    assert len(present) >= 10
    assert (r.cell[r.atomic == CLASS_IDS["ecs"]] == 0).all() and (r.cell[r.atomic != CLASS_IDS["ecs"]] > 0).all()
    cells = class_volume("cell", r)
    assert cells.max() >= 2


@pytest.mark.parametrize("radius", [1, 2, 3])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_box_blur_matches_scipy(radius, axis):
    a = np.random.default_rng(radius).random((9, 10, 11)).astype(np.float32)
    expected = ndimage.uniform_filter1d(a.astype(np.float64), 2 * radius + 1, axis=axis, mode="nearest")
    np.testing.assert_allclose(box_blur(a, radius, axis), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(2, 2, 2), (5, 6, 7), (16, 9, 4)])
def test_downsample_mean_matches_block_reduce(shape):
    a = np.random.default_rng(0).integers(0, 256, shape).astype(np.uint8)
    cropped = a[: shape[0] // 2 * 2, : shape[1] // 2 * 2, : shape[2] // 2 * 2]
    expected = np.floor(block_reduce(cropped.astype(np.float64), (2, 2, 2), np.mean) + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(downsample_mean(a), expected)


def test_texture_is_deterministic_and_uint8():
    atomic = np.full((8, 9, 10), CLASS_IDS["cyto"], np.uint8)
    atomic[2:5] = CLASS_IDS["mito_mem"]
    a = em_texture(atomic, np.random.default_rng(1))
    b = em_texture(atomic, np.random.default_rng(1))
    assert a.dtype == np.uint8 and np.array_equal(a, b)
    assert a[3].mean() < a[7].mean() - 30
