"""Every GPU kernel with its blocks truly racing: the emulator's "threads" mode.

The other emulated tests run one GPU thread at a time. Here the blocks of each launch are
spread over several OS threads with real atomics, so hash-table inserts, union-find hooks,
atomic minima and maxima and per-thread partials collide as they do on a device. Inputs are
sized and the drivers' work spans shortened so that each launch has many blocks. The CPU
path is the oracle. Each comparison runs more than once: a result that depends on who wins
a race would differ between runs or from the CPU.
"""

from __future__ import annotations

import numpy as np
import pytest
from _emulator import EmulatedBackend, compiler, emulating
from _volumes import make_labels

from pycsc import ops
from pycsc.gpu import components as gpu_components
from pycsc.gpu import distance as gpu_distance
from pycsc.gpu import labels as gpu_labels

REPEATS = 3


@pytest.fixture
def racing(monkeypatch):
    if compiler() is None:
        pytest.skip("no C++ compiler for the kernel emulator")
    monkeypatch.setattr(gpu_components, "SEGMENT_ROWS", 3)  # many short column segments
    monkeypatch.setattr(gpu_labels, "SPAN", 7)  # many threads per hash table
    monkeypatch.setattr(gpu_labels, "MIN_CAPACITY", 16)  # tables regrow under contention
    monkeypatch.setattr(gpu_distance, "PAIRWISE_CHUNK", 64)
    backend = EmulatedBackend(order="threads", seed=11, workers=4)
    with emulating(backend):
        yield backend


def same(got, want):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            same(g, w)
    elif isinstance(want, np.ndarray):
        assert isinstance(got, np.ndarray) and got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
    elif hasattr(want, "__dataclass_fields__"):
        for name in want.__dataclass_fields__:
            same(getattr(got, name), getattr(want, name))
    else:
        assert got == want


def check(racing, fn, *args, **kwargs):
    want = fn(*args, device="cpu", **kwargs)
    for _ in range(REPEATS):
        racing.launches.clear()
        same(fn(*args, device="gpu", **kwargs), want)
        assert racing.launches


def blobs(rng, shape, values: int, fg: float) -> np.ndarray:
    """Smooth random regions (long boundaries, large trees) with `values` distinct ids."""
    from scipy import ndimage  # test oracle stack only

    field = ndimage.gaussian_filter(rng.random(shape), 2.0)
    cut = np.quantile(field, 1 - fg)
    ids = (rng.integers(1, values + 1, size=shape) if values > 1 else np.ones(shape, np.int64))
    ids = ndimage.maximum_filter(ids, size=5)
    return np.where(field > cut, ids, 0).astype(np.uint32)


@pytest.mark.parametrize("connectivity", [6, 18, 26])
def test_components_3d(racing, rng, connectivity):
    for a in (rng.random((24, 30, 34)) < 0.5, blobs(rng, (24, 30, 34), 3, 0.5)):
        check(racing, ops.connected_components, a, connectivity)


@pytest.mark.parametrize("connectivity", [4, 8])
def test_components_2d(racing, rng, connectivity):
    check(racing, ops.connected_components, rng.random((150, 170)) < 0.55, connectivity)


@pytest.mark.parametrize("dtype", ["uint16", "uint32", "uint64", "int32"])
def test_labels(racing, rng, dtype):
    a = make_labels((20, 24, 26), dtype, "max", "C", rng)
    check(racing, ops.unique, a, return_counts=True)
    check(racing, ops.voxel_counts, a)
    check(racing, ops.bounding_boxes, a)
    values = ops.unique(a)
    mapping = {int(v): int(i) * 3 + 1 for i, v in enumerate(values) if i % 3}
    check(racing, ops.remap, a, mapping, preserve_missing=True)


@pytest.mark.parametrize("dtypes", [("uint32", "uint32"), ("uint64", "uint16"), ("uint8", "uint64")])
def test_overlaps(racing, rng, dtypes):
    truth = make_labels((20, 24, 26), dtypes[0], "max", "C", rng)
    pred = make_labels((20, 24, 26), dtypes[1], "max", "C", rng)
    check(racing, ops.overlaps, truth, pred)


def test_matching(racing, rng):
    truth = blobs(rng, (20, 24, 26), 1, 0.4)
    truth = ops.connected_components(truth, 6, device="cpu")[0]
    pred = ops.connected_components(np.roll(truth, 2, axis=1), 26, device="cpu")[0]
    check(racing, ops.match_instances, truth, pred)


@pytest.mark.parametrize("method,percentile", [("standard", None), ("modified", None), ("percentile", 95.0)])
def test_hausdorff(racing, rng, method, percentile):
    truth = blobs(rng, (22, 26, 30), 12, 0.4)
    truth = ops.connected_components(truth, 6, device="cpu")[0]
    pred = np.roll(truth, 1, axis=2)
    pred[rng.random(pred.shape) < 0.02] = 5
    check(racing, ops.hausdorff_distances, truth, pred, (8.0, 4.0, 4.0), 50.0, method=method,
          percentile=percentile)


def test_distance_transform(racing, rng):
    check(racing, ops.distance_transform_edt, rng.random((20, 30, 40)) < 0.8, (2.0, 1.0, 3.0))


@pytest.mark.parametrize("order", [0, 1])
def test_rescale(racing, rng, order):
    image = blobs(rng, (21, 25, 29), 40, 0.6)
    if order == 1:
        image = image.astype(np.float32) / 7
    check(racing, ops.rescale, image, (0.5, 0.7, 1.3), order)
    # Without smoothing the input range comes from rescale_range, and the output is folded.
    check(racing, ops.rescale, image, (0.5, 0.7, 1.3), order, anti_aliasing=False)
    if order == 0:  # 64-bit ids above 2**53 change through float64: the gather's clip path
        check(racing, ops.rescale, image.astype(np.uint64) + np.uint64(2**60), (0.5, 0.7, 1.3), 0)
