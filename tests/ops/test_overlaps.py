"""pycsc.ops.overlaps against NumPy: np.unique over (truth, pred) rows and per-volume counts."""

import dataclasses

import numpy as np
import pytest

from pycsc.errors import BackendUnavailableError, InputError, InputTypeError
from pycsc.ops import Overlaps, overlaps

DTYPES = ["uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "bool"]
SHAPES = [(0,), (0, 4), (1,), (1, 1, 1), (1, 300), (300, 1), (7, 13), (9, 9), (5, 6, 7), (6, 6, 6), (3, 17, 150)]


def blocky_labels(shape, n_ids, dtype, rng, id_offset=0):
    """Labels with long runs (blocks along the last axis), background, and isolated voxels."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape))
    if dtype == np.bool_:
        n_ids = 1
    run = rng.integers(1, 90, size=size // 4 + 2)
    values = rng.integers(0, n_ids + 1, size=run.size)
    values[rng.random(run.size) < 0.4] = 0
    flat = np.repeat(values, run)[:size]
    flat = np.concatenate([flat, np.zeros(size - flat.size, flat.dtype)])
    noise = rng.random(size) < 0.05
    flat[noise] = rng.integers(0, n_ids + 1, size=int(noise.sum()))
    if id_offset:
        flat = np.where(flat > 0, flat.astype(np.uint64) + np.uint64(id_offset), np.uint64(0))
    return flat.astype(dtype).reshape(shape)


def reference(truth, pred):
    """Pairs by np.unique(axis=0) over voxels where both are non-zero, sizes by np.unique."""
    g = truth.ravel().astype(np.uint64)
    p = pred.ravel().astype(np.uint64)
    both = (g > 0) & (p > 0)
    rows = np.stack([g[both], p[both]], axis=1)
    pairs, counts = np.unique(rows, axis=0, return_counts=True)
    pairs = pairs.reshape(-1, 2)
    tl, ts = np.unique(g[g > 0], return_counts=True)
    pl, ps = np.unique(p[p > 0], return_counts=True)
    return pairs[:, 0], pairs[:, 1], counts, tl, ts, pl, ps


def assert_matches(result, truth, pred):
    assert isinstance(result, Overlaps)
    expected = reference(truth, pred)
    names = ["truth_ids", "pred_ids", "counts", "truth_labels", "truth_sizes", "pred_labels", "pred_sizes"]
    dtypes = [np.uint64, np.uint64, np.int64, np.uint64, np.int64, np.uint64, np.int64]
    for name, dtype, want in zip(names, dtypes, expected):
        got = getattr(result, name)
        assert got.dtype == dtype, name
        np.testing.assert_array_equal(got, want, err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_matches_numpy_same_dtype(shape, dtype, rng):
    truth = blocky_labels(shape, 6, dtype, rng)
    pred = blocky_labels(shape, 9, dtype, rng)
    assert_matches(overlaps(truth, pred), truth, pred)


@pytest.mark.parametrize(
    "truth_dtype, pred_dtype",
    [("uint8", "uint64"), ("bool", "uint32"), ("int16", "uint8"), ("uint64", "int32"), ("uint32", "uint16"), ("int64", "bool")],
)
def test_mixed_dtypes(truth_dtype, pred_dtype, rng):
    truth = blocky_labels((4, 21, 70), 5, truth_dtype, rng)
    pred = blocky_labels((4, 21, 70), 12, pred_dtype, rng)
    assert_matches(overlaps(truth, pred), truth, pred)


@pytest.mark.parametrize("offset", [2**32, 2**40 + 7, 2**63 + 3])
def test_ids_above_32_bits(offset, rng):
    truth = blocky_labels((5, 9, 80), 20, np.uint64, rng, id_offset=offset)
    pred = blocky_labels((5, 9, 80), 20, np.uint64, rng, id_offset=offset // 2)
    result = overlaps(truth, pred)
    assert result.truth_labels.min() > offset
    assert_matches(result, truth, pred)


def test_int64_ids_above_32_bits(rng):
    truth = blocky_labels((3, 10, 90), 30, np.int64, rng, id_offset=2**35)
    pred = blocky_labels((3, 10, 90), 30, np.uint32, rng)
    assert_matches(overlaps(truth, pred), truth, pred)


@pytest.mark.parametrize("layout", ["F/F", "C/F", "F/C", "strided/C", "strided/strided", "transposed/F"])
@pytest.mark.parametrize("shape", [(9, 9), (6, 6, 6), (5, 8, 11)])
def test_memory_layouts(layout, shape, rng):
    big = [blocky_labels(tuple(2 * s for s in shape), 7, np.uint32, rng) for _ in range(2)]

    def make(kind, src):
        c = np.ascontiguousarray(src[tuple(slice(0, s) for s in shape)])
        if kind == "F":
            return np.asfortranarray(c)
        if kind == "strided":
            return src[tuple(slice(0, 2 * s, 2) for s in shape)]
        if kind == "transposed":
            return np.ascontiguousarray(c.T).T  # F-contiguous view of a C array
        return c

    kinds = layout.split("/")
    truth, pred = make(kinds[0], big[0]), make(kinds[1], big[1])
    assert_matches(overlaps(truth, pred), truth, pred)


def test_identical_and_disjoint_volumes(rng):
    truth = blocky_labels((4, 5, 200), 10, np.uint16, rng)
    same = overlaps(truth, truth)
    np.testing.assert_array_equal(same.truth_ids, same.pred_ids)
    np.testing.assert_array_equal(same.counts, same.truth_sizes)
    shifted = np.where(truth > 0, 0, 3).astype(np.uint8)
    disjoint = overlaps(truth, shifted)
    assert disjoint.counts.size == 0 and disjoint.pred_labels.tolist() == [3]


def test_large_volume_uses_threads(rng):
    # More than 2**21 voxels, so the two-thread path (and its merge) runs.
    shape = (40, 256, 256)
    truth = blocky_labels(shape, 3000, np.uint32, rng)
    pred = blocky_labels(shape, 5000, np.uint32, rng)
    result = overlaps(truth, pred)
    g, p = truth.ravel().astype(np.uint64), pred.ravel().astype(np.uint64)
    both = (g > 0) & (p > 0)
    keys, counts = np.unique(g[both] * np.uint64(1 << 32) + p[both], return_counts=True)
    np.testing.assert_array_equal(result.truth_ids, keys >> np.uint64(32))
    np.testing.assert_array_equal(result.pred_ids, keys & np.uint64(0xFFFFFFFF))
    np.testing.assert_array_equal(result.counts, counts)
    np.testing.assert_array_equal(result.truth_sizes, np.bincount(g.astype(np.int64))[result.truth_labels.astype(np.int64)])
    assert result.truth_sizes.sum() == np.count_nonzero(g)
    assert result.pred_sizes.sum() == np.count_nonzero(p)


def test_result_is_frozen(rng):
    result = overlaps(np.ones((2, 2), np.uint8), np.ones((2, 2), np.uint8))
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.counts = None
    assert result.counts.tolist() == [4]


@pytest.mark.parametrize("which", ["truth", "pred"])
@pytest.mark.parametrize("dtype", ["int8", "int32", "int64"])
def test_negative_ids_rejected(which, dtype):
    good = np.array([[0, 1], [2, 3]], dtype=dtype)
    bad = np.array([[0, 1], [-2, 3]], dtype=dtype)
    args = (bad, good) if which == "truth" else (good, bad)
    with pytest.raises(InputError, match=f"`{which}`.*negative"):
        overlaps(*args)


def test_mismatched_shapes():
    with pytest.raises(ValueError, match="`truth` and `pred`.*same shape"):
        overlaps(np.zeros((3, 4), np.uint8), np.zeros((4, 3), np.uint8))


@pytest.mark.parametrize("which", ["truth", "pred"])
def test_bad_dtype_and_type(which):
    ok = np.zeros((3, 3), np.uint8)
    for bad, err in [(np.zeros((3, 3), np.float32), InputTypeError), ([[0, 1]], InputTypeError), (np.zeros((3, 3), complex), InputTypeError)]:
        args = (bad, ok) if which == "truth" else (ok, bad)
        with pytest.raises(err, match=f"`{which}`"):
            overlaps(*args)
    assert issubclass(InputTypeError, TypeError)


def test_bad_ndim_and_device():
    with pytest.raises(InputError, match="`truth`"):
        overlaps(np.zeros((2, 2, 2, 2), np.uint8), np.zeros((2, 2, 2, 2), np.uint8))
    with pytest.raises(InputError, match="`device`"):
        overlaps(np.zeros(3, np.uint8), np.zeros(3, np.uint8), device="tpu")
    with pytest.raises(BackendUnavailableError):
        overlaps(np.zeros(3, np.uint8), np.zeros(3, np.uint8), device="gpu")
