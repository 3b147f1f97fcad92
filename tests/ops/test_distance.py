"""pycsc.ops.distance against independent oracles.

EDT: scipy.ndimage.distance_transform_edt (bitwise, rtol=0) and a brute-force minimum over
all zero voxels of scipy's own rounded formula. Hausdorff: brute force over all voxel pairs
(numpy) and the official padded-ROI method (scipy EDT per id, evaluation.md 7.5).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi

from pycsc.errors import InputError, InputTypeError
from pycsc.ops import distance_transform_edt, hausdorff_distances

# ---------------------------------------------------------------- oracles


def scipy_sq(offsets: np.ndarray, spacing) -> np.ndarray:
    """Squared distances from integer offsets (..., ndim) formed as scipy forms them."""
    q = np.zeros(offsets.shape[:-1])
    spacing = np.broadcast_to(np.asarray(spacing, np.float64), (offsets.shape[-1],))
    for a in range(offsets.shape[-1]):
        t = offsets[..., a].astype(np.float64) * spacing[a]
        q = q + t * t
    return q


def edt_brute(mask: np.ndarray, spacing) -> np.ndarray:
    """Exact minimum of scipy's rounded distance over all zero voxels."""
    fg = np.argwhere(mask != 0)
    zeros = np.argwhere(mask == 0)
    out = np.zeros(mask.shape)
    for start in range(0, len(fg), 256):
        block = fg[start : start + 256]
        q = scipy_sq(zeros[None, :, :] - block[:, None, :], spacing)
        out[tuple(block.T)] = np.sqrt(q.min(axis=1))
    return out


def stat(d: np.ndarray, method: str, pct):
    if method == "standard":
        return d.max(initial=0.0)
    if method == "modified":
        return d.mean()
    return float(np.percentile(d, pct))


def hausdorff_brute(truth, pred, vs, cap, method="standard", pct=None):
    ids = np.unique(truth)
    ids = ids[ids != 0]
    out = []
    for t in ids:
        a, b = np.argwhere(truth == t), np.argwhere(pred == t)
        if len(b) == 0:
            out.append(cap)
            continue
        q = scipy_sq(b[None, :, :] - a[:, None, :], vs)
        fwd, bwd = np.sqrt(q.min(axis=1)), np.sqrt(q.min(axis=0))
        out.append(float(min(max(stat(fwd, method, pct), stat(bwd, method, pct)), cap)))
    return ids.astype(np.uint64), np.array(out)


def hausdorff_official(truth, pred, vs, cap, method="standard", pct=None):
    """compute_hausdorff_distance_roi: union bbox padded by ceil(D / vs) + 2, scipy EDT."""
    ids = np.unique(truth)
    ids = ids[ids != 0]
    vs = np.asarray(vs, np.float64)
    pad = np.minimum(np.ceil(cap / vs).astype(int), truth.shape) + 2
    out = []
    for t in ids:
        both = np.argwhere((truth == t) | (pred == t))
        lo, hi = np.maximum(both.min(0) - pad, 0), np.minimum(both.max(0) + 1 + pad, truth.shape)
        roi = tuple(slice(lo_, hi_) for lo_, hi_ in zip(lo, hi))
        a, b = truth[roi] == t, pred[roi] == t
        if not b.any():
            out.append(cap)
            continue
        fwd = ndi.distance_transform_edt(~b, sampling=vs)[a]
        bwd = ndi.distance_transform_edt(~a, sampling=vs)[b]
        out.append(float(min(max(stat(fwd, method, pct), stat(bwd, method, pct)), cap)))
    return ids.astype(np.uint64), np.array(out)


def as_order(a: np.ndarray, order: str) -> np.ndarray:
    if order == "F":
        return np.asfortranarray(a)
    if order == "view":  # non-contiguous: every other element along the last axis of a wider array
        wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
        wide[..., ::2] = a
        return wide[..., ::2]
    return np.ascontiguousarray(a)


# ---------------------------------------------------------------- EDT

EDT_SHAPES = [(1, 1), (1, 17), (17, 1), (5, 7), (64, 33), (1, 1, 1), (1, 1, 9), (3, 1, 5), (9, 11, 13), (20, 24, 17)]
SAMPLINGS = [None, 2.5, "iso1", (1.74, 2, 2), (5.3, 3.7, 3.7), "random"]


def make_sampling(kind, ndim, rng):
    if kind == "iso1":
        return (1.0,) * ndim
    if kind == "random":
        return tuple(rng.uniform(0.3, 7.0, ndim))
    if isinstance(kind, tuple):
        return kind[-ndim:]
    return kind


def full_spacing(sampling, ndim):
    if sampling is None:
        return (1.0,) * ndim
    return tuple(np.broadcast_to(np.asarray(sampling, np.float64), (ndim,)))


@pytest.mark.parametrize("shape", EDT_SHAPES)
@pytest.mark.parametrize("sampling", SAMPLINGS)
@pytest.mark.parametrize("fg", [0.0, 0.6, 0.97, 1.0])
def test_edt_matches_scipy_and_brute_force(shape, sampling, fg, rng):
    mask = rng.random(shape) < fg
    s = make_sampling(sampling, len(shape), rng)
    out = distance_transform_edt(mask, s)
    ref = ndi.distance_transform_edt(mask, sampling=s)
    assert out.dtype == np.float64 and out.shape == mask.shape
    np.testing.assert_array_equal(out, ref)  # rtol = 0
    if 0 < mask.sum() < mask.size:
        np.testing.assert_array_equal(out, edt_brute(mask, full_spacing(s, mask.ndim)))


@pytest.mark.parametrize("dtype", [bool, np.uint8, np.int8, np.int16, np.uint32, np.int64, np.uint64,
                                   np.float16, np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F", "view"])
def test_edt_dtypes_and_layouts(dtype, order, rng):
    values = rng.integers(0, 3, (7, 12, 10)) * (rng.random((7, 12, 10)) < 0.8)
    mask = as_order(values.astype(dtype), order)
    if np.dtype(dtype).kind == "f":
        mask[0, 0, 0] = np.nan  # NaN is non-zero: foreground, as in scipy
        mask[1, 1, 1] = -0.0
    ref = ndi.distance_transform_edt(mask, sampling=(1.74, 2, 2))
    np.testing.assert_array_equal(distance_transform_edt(mask, (1.74, 2, 2)), ref)


@pytest.mark.parametrize("sampling", [(3.24, 3.24), (3.7, 3.7), (5.3, 3.7), (1.0, 1.0)])
def test_edt_many_ties_is_the_exact_rounded_minimum(sampling, rng):
    """Sparse zeros give long distances with many equal-length offsets. The result is the exact
    minimum of scipy's rounded formula; scipy's own feature transform misses it by one ulp in
    rare near-ties (about 3 voxels per million here), which is the only difference allowed."""
    mask = rng.random((160, 170)) > 0.004
    out = distance_transform_edt(mask, sampling)
    np.testing.assert_array_equal(out, edt_brute(mask, sampling))
    ref = ndi.distance_transform_edt(mask, sampling=sampling)
    np.testing.assert_array_max_ulp(out, ref, maxulp=1)
    assert np.count_nonzero(out != ref) <= 3


def test_edt_threaded_volume(rng):
    """Large enough for every pass to split across threads."""
    mask = ndi.gaussian_filter(rng.standard_normal((70, 90, 90)), 2) > -0.3
    for s in [(1.74, 2, 2), None]:
        np.testing.assert_array_equal(distance_transform_edt(mask, s), ndi.distance_transform_edt(mask, sampling=s))


def test_edt_all_foreground_matches_scipy():
    for shape, s in [((3, 4), None), ((2, 3, 4), (1.5, 2.0, 3.0)), ((1, 1), 2.0), ((1, 1, 1), None)]:
        m = np.ones(shape, np.uint8)
        np.testing.assert_array_equal(distance_transform_edt(m, s), ndi.distance_transform_edt(m, sampling=s))


def test_edt_empty_extent():
    assert distance_transform_edt(np.zeros((0, 5), bool)).shape == (0, 5)


def test_edt_bad_inputs():
    with pytest.raises(InputError, match="mask"):
        distance_transform_edt(np.ones(5, bool))
    with pytest.raises(InputError, match="mask"):
        distance_transform_edt(np.ones((2, 2, 2, 2), bool))
    with pytest.raises(InputTypeError, match="mask"):
        distance_transform_edt([[0, 1]])
    with pytest.raises(InputTypeError, match="mask"):
        distance_transform_edt(np.ones((2, 2), complex))
    for bad in [(1.0, 2.0, 3.0), 0.0, -1.0, np.nan, (1.0, np.inf)]:
        with pytest.raises(InputError, match="sampling"):
            distance_transform_edt(np.ones((2, 2), bool), bad)
    with pytest.raises(InputError, match="device"):
        distance_transform_edt(np.ones((2, 2), bool), device="tpu")


# ---------------------------------------------------------------- Hausdorff

METHODS = [("standard", None), ("modified", None), ("percentile", 95.0), ("percentile", 50.0),
           ("percentile", 100.0), ("percentile", 0.5)]


def random_pair(rng, shape, n_ids):
    """Blobby truth labels and a shifted, partly relabelled, noisy prediction."""
    truth = rng.integers(0, n_ids + 1, shape) * (rng.random(shape) < rng.uniform(0.1, 0.9))
    if rng.random() < 0.6:
        truth = ndi.median_filter(truth, 2)
    pred = np.roll(truth, tuple(rng.integers(-2, 3, len(shape))), axis=tuple(range(len(shape))))
    noise = rng.random(shape) < 0.08
    pred[noise] = rng.integers(0, n_ids + 3, int(noise.sum()))  # includes ids absent from truth
    return truth, pred


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("method,pct", METHODS)
def test_hausdorff_matches_brute_force(seed, method, pct):
    rng = np.random.default_rng(seed)
    nd = 2 + seed % 2
    shape = tuple(int(v) for v in rng.integers(1, 13 if nd == 3 else 36, nd))
    truth, pred = random_pair(rng, shape, int(rng.integers(1, 7)))
    vs = [(1.0,) * nd, (1.74, 2, 2)[-nd:], (5.3, 3.7, 3.7)[-nd:], tuple(rng.uniform(0.5, 6, nd))][seed % 4]
    cap = float(rng.choice([1.5, 6.0, 25.0, 1e6]))
    tdt, pdt = [(np.uint8, np.uint16), (np.int32, np.int64), (np.uint64, np.uint8), (np.int16, np.uint32)][seed % 4]
    ids, dist = hausdorff_distances(truth.astype(tdt), pred.astype(pdt), vs, cap, method=method, percentile=pct)
    ref_ids, ref = hausdorff_brute(truth, pred, vs, cap, method, pct)
    assert ids.dtype == np.uint64 and dist.dtype == np.float64
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_array_equal(dist, ref)  # bitwise


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("method,pct", METHODS[:3])
def test_hausdorff_without_cap_matches_brute_force(seed, method, pct):
    """max_distance = inf (the official accepts it): exact distances; an absent id gets inf."""
    rng = np.random.default_rng(100 + seed)
    nd = 2 + seed % 2
    shape = tuple(int(v) for v in rng.integers(1, 11 if nd == 3 else 30, nd))
    truth, pred = random_pair(rng, shape, int(rng.integers(1, 6)))
    vs = tuple(rng.uniform(0.5, 6, nd))
    ids, dist = hausdorff_distances(truth.astype(np.uint16), pred, vs, np.inf, method=method, percentile=pct)
    ref_ids, ref = hausdorff_brute(truth, pred, vs, np.inf, method, pct)
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_array_equal(dist, ref)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hausdorff_float_truth_with_whole_ids(dtype, rng):
    truth, pred = random_pair(rng, (9, 10, 11), 5)
    ids, dist = hausdorff_distances(truth.astype(dtype), pred, (1.74, 2.0, 2.0), 40.0)
    ref_ids, ref = hausdorff_brute(truth, pred, (1.74, 2.0, 2.0), 40.0)
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_array_equal(dist, ref)


def ellipsoids(rng, shape, count, rmax=5.0):
    lab = np.zeros(shape, np.uint32)
    grid = np.indices(shape)
    for i in range(1, count + 1):
        c = rng.uniform(0, shape)
        r = rng.uniform(1.0, rmax, len(shape))
        inside = sum(((g - cc) / rr) ** 2 for g, cc, rr in zip(grid, c, r)) <= 1
        lab[inside] = i
    return lab


@pytest.mark.parametrize("method,pct", METHODS[:3])
@pytest.mark.parametrize("vs", [(8.0, 8.0, 8.0), (1.74, 2.0, 2.0), (5.3, 3.7, 3.7)])
def test_hausdorff_matches_official_padded_roi(method, pct, vs):
    """Realistic objects, a shifted prediction with split objects, extra objects and ids that
    collide with unrelated truth objects (the evaluator's quirk B3)."""
    rng = np.random.default_rng(7)
    shape = (24, 30, 28)
    truth = ellipsoids(rng, shape, 25)
    pred = np.roll(truth, (1, 0, 1), axis=(0, 1, 2))
    pred[(pred == 3) & (np.indices(shape)[0] > 12)] = 40  # a split half, unmatched id
    extra = ellipsoids(rng, shape, 6)
    pred[(pred == 0) & (extra > 0)] = extra[(pred == 0) & (extra > 0)] + 2  # colliding ids
    cap = min(v * s for v, s in zip(vs, shape)) / 2
    ids, dist = hausdorff_distances(truth, pred, vs, cap, method=method, percentile=pct)
    ref_ids, ref = hausdorff_official(truth, pred, vs, cap, method, pct)
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_array_equal(dist, ref)


@pytest.mark.parametrize("method,pct", METHODS[:3])
def test_hausdorff_threaded_slabs(method, pct):
    """Over 2 * 2^20 voxels: the bucketing splits into slabs whose lists must join in raster order
    (the modified mean depends on it); objects straddle the slab boundary."""
    rng = np.random.default_rng(3)
    shape = (66, 180, 180)
    truth = np.zeros(shape, np.uint32)
    sub = ellipsoids(rng, (20, 60, 60), 12, rmax=8.0)
    truth[23:43, 30:90, 30:90] = sub
    pred = np.roll(truth, (2, 1, 0), axis=(0, 1, 2))
    pred[(pred == 5) & (np.indices(shape)[0] > 33)] = 0
    ids, dist = hausdorff_distances(truth, pred, (5.3, 3.7, 3.7), 150.0, method=method, percentile=pct)
    ref_ids, ref = hausdorff_brute(truth, pred, (5.3, 3.7, 3.7), 150.0, method, pct)
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_array_equal(dist, ref)


def test_official_test_vectors():
    """evaluation.md section 14."""
    one = np.zeros((5, 5), np.uint8)
    one[2, 2] = 1
    assert hausdorff_distances(one, one, (1, 1), 10.0)[1].tolist() == [0.0]
    a = np.zeros((1, 10), np.uint8)
    b = np.zeros((1, 10), np.uint8)
    a[0, 2], b[0, 5] = 1, 1
    for method in ("standard", "modified"):
        assert hausdorff_distances(a, b, 1.0, 100.0, method=method)[1].tolist() == [3.0]
    b2 = np.zeros((1, 10), np.uint8)
    b2[0, 4] = 1  # 2-voxel x shift at voxel size (2, 0.5)
    assert hausdorff_distances(a, b2, (2.0, 0.5), 100.0)[1].tolist() == [1.0]
    a20, far = np.zeros((1, 20), np.uint8), np.zeros((1, 20), np.uint8)
    a20[0, 2], far[0, 12] = 1, 1  # true distance 10, cap 3
    assert hausdorff_distances(a20, far, 1.0, 3.0)[1].tolist() == [3.0]


def test_id_collision_quirk_b3():
    """GT {2 at x0-2, 1 at x10-12}; remapped pred keeps an unmatched component at x6 with id 2."""
    truth = np.array([[2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1]], np.uint8)
    pred = np.array([[2, 2, 2, 0, 0, 0, 2, 0, 0, 0, 1, 1, 1]], np.uint8)
    ids, dist = hausdorff_distances(truth, pred, 1.0, 100.0)
    assert ids.tolist() == [1, 2] and dist.tolist() == [0.0, 4.0]


def test_empty_prediction_and_background_only():
    truth = np.zeros((4, 5, 6), np.uint16)
    truth[1, 1:3, 2] = 7
    truth[3, 4, 5] = 9
    ids, dist = hausdorff_distances(truth, np.zeros_like(truth), (1, 2, 3), 4.5)
    assert ids.tolist() == [7, 9] and dist.tolist() == [4.5, 4.5]
    ids, dist = hausdorff_distances(np.zeros((3, 3), np.uint8), np.ones((3, 3), np.uint8), 1.0, 1.0)
    assert ids.size == 0 and dist.size == 0 and ids.dtype == np.uint64


@pytest.mark.parametrize("offset", [2**20 + 5, 2**33, 2**64 - 40])
def test_large_id_values(offset, rng):
    """Ids past the histogram limit (table path) and past the table limit (sorted path)."""
    truth, pred = random_pair(rng, (9, 10, 11), 4)
    t = np.where(truth > 0, truth.astype(np.uint64) + np.uint64(offset), 0).astype(np.uint64)
    p = np.where(pred > 0, pred.astype(np.uint64) + np.uint64(offset), 0).astype(np.uint64)
    for method, pct in METHODS[:3]:
        ids, dist = hausdorff_distances(t, p, (1.74, 2, 2), 9.0, method=method, percentile=pct)
        ref_ids, ref = hausdorff_brute(t, p, (1.74, 2, 2), 9.0, method, pct)
        np.testing.assert_array_equal(ids, ref_ids)
        np.testing.assert_array_equal(dist, ref)


def test_signed_dtypes_and_negative_prediction_values(rng):
    truth, pred = random_pair(rng, (8, 9, 10), 3)
    pred = pred.astype(np.int8)
    pred[rng.random(pred.shape) < 0.1] = -1  # never equal to a truth id (e.g. 255 as uint8)
    truth_u8 = truth.astype(np.uint8)
    truth_u8[truth_u8 == 3] = 255
    ref_ids, ref = hausdorff_brute(truth_u8, pred.astype(np.int64), (1, 1, 1), 20.0)
    ids, dist = hausdorff_distances(truth_u8, pred, (1, 1, 1), 20.0)
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_array_equal(dist, ref)
    with pytest.raises(InputError, match="truth"):
        hausdorff_distances(np.array([[-1, 1]], np.int16), np.array([[1, 1]], np.int16), 1.0, 1.0)


@pytest.mark.parametrize("order", ["F", "view"])
def test_hausdorff_layouts_and_bool(order, rng):
    truth, pred = random_pair(rng, (7, 9, 12), 3)
    ref = hausdorff_brute(truth, pred, (2, 1, 1), 30.0, "modified")
    got = hausdorff_distances(as_order(truth, order), as_order(pred, order), (2, 1, 1), 30.0, method="modified")
    np.testing.assert_array_equal(got[1], ref[1])
    tb, pb = truth > 0, pred > 0
    ref = hausdorff_brute(tb.astype(np.uint8), pb.astype(np.uint8), 1.0, 30.0)
    np.testing.assert_array_equal(hausdorff_distances(tb, pb, 1.0, 30.0)[1], ref[1])


def test_hausdorff_bad_inputs():
    t = np.zeros((3, 4), np.uint8)
    with pytest.raises(InputError, match="shape"):
        hausdorff_distances(t, np.zeros((4, 3), np.uint8), 1.0, 1.0)
    with pytest.raises(InputError, match="truth"):
        hausdorff_distances(np.zeros(4, np.uint8), np.zeros(4, np.uint8), 1.0, 1.0)
    with pytest.raises(InputError, match="whole, non-negative, finite"):
        hausdorff_distances(t.astype(np.float32) + 0.5, t, 1.0, 1.0)
    with pytest.raises(InputTypeError, match="pred"):
        hausdorff_distances(t, t.tolist(), 1.0, 1.0)
    for bad in [(1.0, 2.0, 3.0), 0.0, (-1.0, 1.0), np.nan]:
        with pytest.raises(InputError, match="voxel_size"):
            hausdorff_distances(t, t, bad, 1.0)
    with pytest.raises(InputTypeError, match="voxel_size"):
        hausdorff_distances(t, t, None, 1.0)
    for bad in [0.0, -2.0, -np.inf, np.nan]:
        with pytest.raises(InputError, match="max_distance"):
            hausdorff_distances(t, t, 1.0, bad)
    for bad in ["3", None, True]:
        with pytest.raises(InputTypeError, match="max_distance"):
            hausdorff_distances(t, t, 1.0, bad)
    with pytest.raises(InputError, match="method"):
        hausdorff_distances(t, t, 1.0, 1.0, method="mean")
    with pytest.raises(InputTypeError, match="method"):
        hausdorff_distances(t, t, 1.0, 1.0, method=1)
    with pytest.raises(InputError, match="percentile"):
        hausdorff_distances(t, t, 1.0, 1.0, method="percentile")
    for bad in [0.0, -5.0, 100.5, np.nan]:
        with pytest.raises(InputError, match="percentile"):
            hausdorff_distances(t, t, 1.0, 1.0, method="percentile", percentile=bad)
    with pytest.raises(InputTypeError, match="percentile"):
        hausdorff_distances(t, t, 1.0, 1.0, method="percentile", percentile="95")
    with pytest.raises(InputError, match="percentile"):
        hausdorff_distances(t, t, 1.0, 1.0, percentile=95.0)
