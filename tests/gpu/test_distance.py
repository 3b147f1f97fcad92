"""GPU paths of pycsc.ops.distance against the CPU path (itself tested against scipy and brute
force in tests/ops/test_distance.py): equal float64 bits, same ids, same errors.

Emulated tests (fixture ``emu``) run the driver and the CUDA sources on the host; the
``gpu``-marked ones (fixture ``cp``) repeat the comparisons with CuPy input at larger sizes.
The Hausdorff tests force each per-instance strategy (boundary search, box EDTs, the cost
model's mix) and split numpy-order sums into several chunks, so every kernel is exercised.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi

from pycsc import ops
from pycsc.errors import InputError, InputTypeError
from pycsc.gpu import distance as gd
from pycsc.ops._dispatch import to_host

METHODS = [("standard", None), ("modified", None), ("percentile", 95.0), ("percentile", 50.0),
           ("percentile", 100.0), ("percentile", 0.5)]
STRATEGIES = {"mixed": gd.EDT_COST_PER_VOXEL, "boxes": 0.0, "search": 1e300}


def as_order(a: np.ndarray, order: str) -> np.ndarray:
    if order == "F":
        return np.asfortranarray(a)
    if order == "view":  # every other element along the last axis of a wider array
        wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
        wide[..., ::2] = a
        return wide[..., ::2]
    return np.ascontiguousarray(a)


def assert_same(got, ref) -> None:
    got, ref = (got if isinstance(got, tuple) else (got,)), (ref if isinstance(ref, tuple) else (ref,))
    for g, r in zip(got, ref, strict=True):
        assert isinstance(g, np.ndarray) and g.dtype == r.dtype and g.shape == r.shape
        np.testing.assert_array_equal(g, r)  # bitwise for floats: same values, rtol = 0


# ---------------------------------------------------------------- EDT


def compare_edt(mask, sampling) -> None:
    ref = ops.distance_transform_edt(mask, sampling, device="cpu")
    assert_same(ops.distance_transform_edt(mask, sampling, device="gpu"), ref)

EDT_SHAPES = [(1, 1), (1, 17), (17, 1), (5, 7), (33, 21), (1, 1, 1), (1, 1, 9), (3, 1, 5), (9, 11, 13), (6, 14, 10)]
SAMPLINGS = [None, 2.5, (1.74, 2, 2), (5.3, 3.7, 3.7), "random"]


def sampling_for(kind, ndim, rng):
    if kind == "random":
        return tuple(rng.uniform(0.3, 7.0, ndim))
    return kind[-ndim:] if isinstance(kind, tuple) else kind


@pytest.mark.parametrize("shape", EDT_SHAPES)
@pytest.mark.parametrize("fg", [0.0, 0.6, 0.97, 1.0])
def test_edt_equals_cpu(emu, shape, fg, rng):
    mask = rng.random(shape) < fg
    for kind in SAMPLINGS:
        s = sampling_for(kind, len(shape), rng)
        compare_edt(mask, s)
    assert emu.launches


@pytest.mark.parametrize("dtype", [bool, np.uint8, np.int8, np.int16, np.uint16, np.uint32, np.int64, np.uint64,
                                   np.float16, np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F", "view"])
def test_edt_dtypes_and_layouts(emu, dtype, order, rng):
    values = rng.integers(0, 3, (7, 12, 10)) * (rng.random((7, 12, 10)) < 0.8)
    mask = as_order(values.astype(dtype), order)
    if np.dtype(dtype).kind == "f":
        mask[0, 0, 0] = np.nan  # foreground
        mask[1, 1, 1] = -0.0  # background
        mask[2, 2, 2] = np.finfo(dtype).smallest_subnormal  # foreground (a GPU flushing to zero would miss it)
        mask[4, 4, 4] = -np.finfo(dtype).smallest_subnormal
    elif np.dtype(dtype) != bool:
        mask[2, 2, 2] = np.iinfo(dtype).max
        if np.dtype(dtype).kind == "i":
            mask[3, 3, 3] = np.iinfo(dtype).min
    compare_edt(mask, (1.74, 2, 2))


@pytest.mark.parametrize("sampling", [(3.24, 3.24, 3.24), (5.3, 3.7, 3.7), (1.0, 1.0, 1.0)])
def test_edt_sparse_zeros_many_ties(emu, sampling, rng):
    """Long distances with many equal-length offsets that round differently: the envelope's
    tie handling decides the last bit here."""
    mask2 = rng.random((160, 170)) > 0.004
    mask3 = rng.random((40, 30, 35)) > 0.002
    for mask, s in ((mask2, sampling[1:]), (mask3, sampling)):
        compare_edt(mask, s)


def test_edt_smooth_volume(emu, rng):
    mask = ndi.gaussian_filter(rng.standard_normal((12, 30, 26)), 2) > -0.3
    for s in [(1.74, 2, 2), None, (0.7, 5.1, 1.3)]:
        compare_edt(mask, s)


def test_edt_empty_extent(emu):
    out = ops.distance_transform_edt(np.zeros((0, 5), bool), device="gpu")
    assert out.shape == (0, 5) and out.dtype == np.float64


def test_edt_bad_inputs_raise_the_cpu_errors(emu):
    for device in ("cpu", "gpu"):
        with pytest.raises(InputError, match="mask"):
            ops.distance_transform_edt(np.ones(5, bool), device=device)
        with pytest.raises(InputTypeError, match="mask"):
            ops.distance_transform_edt([[0, 1]], device=device)
        with pytest.raises(InputTypeError, match="mask"):
            ops.distance_transform_edt(np.ones((2, 2), complex), device=device)
        for bad in [(1.0, 2.0, 3.0), 0.0, -1.0, np.nan]:
            with pytest.raises(InputError, match="sampling"):
                ops.distance_transform_edt(np.ones((2, 2), bool), bad, device=device)


# ---------------------------------------------------------------- Hausdorff


def random_pair(rng, shape, n_ids):
    """Blobby truth labels and a shifted, partly relabelled, noisy prediction."""
    truth = rng.integers(0, n_ids + 1, shape) * (rng.random(shape) < rng.uniform(0.1, 0.9))
    if rng.random() < 0.6:
        truth = ndi.median_filter(truth, 2)
    pred = np.roll(truth, tuple(rng.integers(-2, 3, len(shape))), axis=tuple(range(len(shape))))
    noise = rng.random(shape) < 0.08
    pred[noise] = rng.integers(0, n_ids + 3, int(noise.sum()))  # includes ids absent from truth
    return truth, pred


def ellipsoids(rng, shape, count, rmax=5.0):
    lab = np.zeros(shape, np.uint32)
    grid = np.indices(shape)
    for i in range(1, count + 1):
        c, r = rng.uniform(0, shape), rng.uniform(1.0, rmax, len(shape))
        lab[sum(((g - cc) / rr) ** 2 for g, cc, rr in zip(grid, c, r)) <= 1] = i
    return lab


def compare(truth, pred, vs, cap, method="standard", pct=None):
    ref = ops.hausdorff_distances(truth, pred, vs, cap, method=method, percentile=pct, device="cpu")
    got = ops.hausdorff_distances(truth, pred, vs, cap, method=method, percentile=pct, device="gpu")
    assert_same(got, ref)


@pytest.fixture(params=sorted(STRATEGIES))
def strategy(request, monkeypatch):
    monkeypatch.setattr(gd, "EDT_COST_PER_VOXEL", STRATEGIES[request.param])
    monkeypatch.setattr(gd, "PAIRWISE_CHUNK", 128)  # several chunks per instance already at small sizes
    return request.param


@pytest.mark.parametrize("seed", range(16))
def test_hausdorff_random_pairs(emu, strategy, seed):
    rng = np.random.default_rng(seed)
    nd = 2 + seed % 2
    shape = tuple(int(v) for v in rng.integers(1, 13 if nd == 3 else 36, nd))
    truth, pred = random_pair(rng, shape, int(rng.integers(1, 7)))
    vs = [(1.0,) * nd, (1.74, 2, 2)[-nd:], (5.3, 3.7, 3.7)[-nd:], tuple(rng.uniform(0.5, 6, nd))][seed % 4]
    tdt, pdt = [(np.uint8, np.uint16), (np.int32, np.int64), (np.uint64, np.uint8), (np.int16, np.uint32)][seed % 4]
    for method, pct in METHODS:
        cap = float(rng.choice([1.5, 6.0, 25.0, 1e6]))
        compare(truth.astype(tdt), pred.astype(pdt), vs, cap, method, pct)
    assert any(name == "hd_finish" for name, *_ in emu.launches)


@pytest.mark.parametrize("vs", [(8.0, 8.0, 8.0), (1.74, 2.0, 2.0), (5.3, 3.7, 3.7)])
def test_hausdorff_objects_with_colliding_ids(emu, strategy, vs):
    """Shifted objects, a split half, and unrelated prediction objects carrying truth ids (B3)."""
    rng = np.random.default_rng(7)
    shape = (16, 22, 20)
    truth = ellipsoids(rng, shape, 14)
    pred = np.roll(truth, (1, 0, 2), axis=(0, 1, 2))
    pred[(pred == 3) & (np.indices(shape)[0] > 8)] = 40  # a split half, unmatched id
    extra = ellipsoids(rng, shape, 5)
    pred[(pred == 0) & (extra > 0)] = extra[(pred == 0) & (extra > 0)] + 2  # colliding ids
    cap = min(v * s for v, s in zip(vs, shape)) / 2
    for method, pct in METHODS[:3]:
        compare(truth, pred, vs, cap, method, pct)
    compare(truth, pred, vs, 9.0)  # a cap that many instances reach


def test_hausdorff_realistic_crop(emu):
    """A few hundred objects at anisotropic spacing with the default cost model."""
    rng = np.random.default_rng(3)
    shape = (40, 48, 44)
    truth = ellipsoids(rng, shape, 120, rmax=7.0)
    pred = np.roll(truth, (1, 1, 0), axis=(0, 1, 2))
    pred[(pred % 5 == 1) & (np.indices(shape)[2] > 20)] = 0
    extra = ellipsoids(rng, shape, 30, rmax=5.0)
    pred[(pred == 0) & (extra > 0)] = extra[(pred == 0) & (extra > 0)] + 60
    vs = (5.3, 3.7, 3.7)
    cap = min(v * s for v, s in zip(vs, shape)) / 2
    for method, pct in METHODS:
        compare(truth, pred, vs, cap, method, pct)


def test_hausdorff_large_instance_and_box_batches(emu, monkeypatch):
    """One instance past the numpy pairwise block sizes, eroded and shifted by two voxels (every
    boundary source is pending); box EDTs in batches of bounded volume."""
    truth = np.zeros((22, 24, 23), np.uint16)
    truth[1:21, 2:22, 1:22] = 5
    truth[3:6, 3:6, 3:6] = 9
    pred = np.zeros_like(truth)
    pred[3:19, 4:20, 3:20] = 5
    pred[6:9, 6:9, 5:8] = 9
    monkeypatch.setattr(gd, "EDT_BATCH_VOXELS", 300)
    for cost in (0.0, 1e300):
        monkeypatch.setattr(gd, "EDT_COST_PER_VOXEL", cost)
        for method, pct in METHODS[:3]:
            compare(truth, pred, (1.74, 2.0, 2.0), 100.0, method, pct)


@pytest.mark.parametrize("offset", [2**20 + 5, 2**33, 2**64 - 40])
def test_hausdorff_large_id_values(emu, offset, rng):
    """Ids past the flag-table limit take the sort + binary search path."""
    truth, pred = random_pair(rng, (7, 9, 8), 4)
    t = np.where(truth > 0, truth.astype(np.uint64) + np.uint64(offset), 0).astype(np.uint64)
    p = np.where(pred > 0, pred.astype(np.uint64) + np.uint64(offset), 0).astype(np.uint64)
    p[0, 0, :3] = [1, 2, 3]  # small prediction values that are no truth id
    for method, pct in METHODS[:3]:
        compare(t, p, (1.74, 2, 2), 9.0, method, pct)


@pytest.mark.parametrize("table", [True, False])
def test_hausdorff_signed_and_negative_values(emu, table, rng, monkeypatch):
    truth, pred = random_pair(rng, (6, 8, 9), 3)
    t8 = truth.astype(np.uint8)
    t8[t8 == 3] = 255  # equals int8 -1 seen as uint8
    p8 = pred.astype(np.int8)
    p8[rng.random(p8.shape) < 0.15] = -1
    p8[0, 0, 0] = np.iinfo(np.int8).min
    if not table:  # the sort + binary search path for small ids as well
        monkeypatch.setattr(gd, "_table_limit", lambda n: 0)
    compare(t8, p8, (1, 1, 1), 20.0)
    compare(t8.astype(np.int16), p8.astype(np.int64), (1, 2, 1), 20.0, "modified")
    for device in ("cpu", "gpu"):
        with pytest.raises(InputError, match="truth"):
            ops.hausdorff_distances(np.array([[-1, 1]], np.int16), np.array([[1, 1]], np.int16), 1.0, 1.0,
                                    device=device)


@pytest.mark.parametrize("order", ["F", "view"])
def test_hausdorff_layouts_and_bool(emu, order, rng):
    truth, pred = random_pair(rng, (7, 9, 12), 3)
    compare(as_order(truth, order), as_order(pred, order), (2, 1, 1), 30.0, "modified")
    compare(truth > 0, as_order(pred > 0, order), 1.0, 30.0)
    compare(truth.astype(np.uint32), np.full(truth.shape, np.iinfo(np.uint64).max, np.uint64), 1.0, 3.0)


def test_hausdorff_small_and_degenerate(emu):
    one = np.zeros((5, 5), np.uint8)
    one[2, 2] = 1
    compare(one, one, (1, 1), 10.0)
    a, b = np.zeros((1, 10), np.uint8), np.zeros((1, 10), np.uint8)
    a[0, 2], b[0, 5] = 1, 1
    for method, pct in METHODS:
        compare(a, b, 1.0, 100.0, method, pct)
        compare(a, b, (2.0, 0.5), 1.0, method, pct)
    compare(np.ones((1, 1), np.uint8), np.ones((1, 1), np.uint8), 1.0, 1.0)
    compare(np.ones((1, 1, 1), np.uint8), np.zeros((1, 1, 1), np.uint8), 1.0, 1.0)
    truth = np.array([[2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1]], np.uint8)
    pred = np.array([[2, 2, 2, 0, 0, 0, 2, 0, 0, 0, 1, 1, 1]], np.uint8)  # quirk B3
    compare(truth, pred, 1.0, 100.0)
    truth = np.zeros((4, 5, 6), np.uint16)
    truth[1, 1:3, 2], truth[3, 4, 5] = 7, 9
    compare(truth, np.zeros_like(truth), (1, 2, 3), 4.5)  # empty prediction
    compare(truth, np.full_like(truth, 8), (1, 2, 3), 4.5)  # ids only in the prediction
    ids, dist = ops.hausdorff_distances(np.zeros((3, 3), np.uint8), np.ones((3, 3), np.uint8), 1.0, 1.0,
                                        device="gpu")
    assert ids.dtype == np.uint64 and ids.size == 0 and dist.dtype == np.float64 and dist.size == 0
    ids, dist = ops.hausdorff_distances(np.zeros((0, 4), np.uint8), np.zeros((0, 4), np.uint8), 1.0, 1.0,
                                        device="gpu")
    assert ids.size == 0 and dist.size == 0


def test_hausdorff_bad_inputs_raise_the_cpu_errors(emu):
    t = np.zeros((3, 4), np.uint8)
    for device in ("cpu", "gpu"):
        with pytest.raises(InputError, match="shape"):
            ops.hausdorff_distances(t, np.zeros((4, 3), np.uint8), 1.0, 1.0, device=device)
        with pytest.raises(InputError, match="truth"):
            ops.hausdorff_distances(np.zeros(4, np.uint8), np.zeros(4, np.uint8), 1.0, 1.0, device=device)
        with pytest.raises(InputError, match="truth"):   # float truth must hold whole ids
            ops.hausdorff_distances(t.astype(np.float32) + 0.5, t, 1.0, 1.0, device=device)
        with pytest.raises(InputTypeError, match="pred"):
            ops.hausdorff_distances(t, t.tolist(), 1.0, 1.0, device=device)
        with pytest.raises(InputError, match="voxel_size"):
            ops.hausdorff_distances(t, t, (1.0, 2.0, 3.0), 1.0, device=device)
        with pytest.raises(InputError, match="max_distance"):
            ops.hausdorff_distances(t, t, 1.0, np.nan, device=device)
        with pytest.raises(InputError, match="percentile"):
            ops.hausdorff_distances(t, t, 1.0, 1.0, method="percentile", device=device)
        long = np.zeros((1, 2**19 + 1), np.uint8)
        with pytest.raises(InputError, match="extent"):
            ops.hausdorff_distances(long, long, 1.0, 1.0, device=device)


# ---------------------------------------------------------------- on a device


def _is_cupy(x) -> bool:
    return type(x).__module__.split(".")[0] == "cupy"


@pytest.mark.gpu
@pytest.mark.parametrize("shape,fg", [((160, 170, 150), 0.5), ((96, 96, 96), 0.999), ((300, 280), 0.9),
                                      ((64, 64, 64), 1.0)])
def test_device_edt(cp, shape, fg, rng):
    smooth = ndi.gaussian_filter(rng.standard_normal(shape), 2)
    mask = smooth > np.quantile(smooth, 1 - fg) if fg < 1 else np.ones(shape, bool)
    for s in [(1.74, 2, 2)[-len(shape):], None, (5.3, 3.7, 3.7)[-len(shape):]]:
        got = ops.distance_transform_edt(cp.asarray(mask), s)
        assert _is_cupy(got)
        np.testing.assert_array_equal(to_host(got), ops.distance_transform_edt(mask, s, device="cpu"))
    as_f32 = np.asfortranarray(mask.astype(np.float32))
    assert_same(ops.distance_transform_edt(as_f32, 2.0, device="gpu"), ops.distance_transform_edt(as_f32, 2.0, device="cpu"))
    as_f32 *= np.finfo(np.float32).smallest_subnormal  # every foreground voxel subnormal (CuPy's -ftz=true)
    assert_same(ops.distance_transform_edt(as_f32, 2.0, device="gpu"), ops.distance_transform_edt(as_f32, 2.0, device="cpu"))


@pytest.mark.gpu
@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
@pytest.mark.parametrize("method,pct", METHODS[:3])
def test_device_hausdorff(cp, strategy, method, pct, monkeypatch):
    monkeypatch.setattr(gd, "EDT_COST_PER_VOXEL", STRATEGIES[strategy])
    rng = np.random.default_rng(11)
    shape = (64, 96, 80)
    truth = ellipsoids(rng, shape, 150, rmax=9.0)
    pred = np.roll(truth, (1, 0, 2), axis=(0, 1, 2))
    pred[(pred % 7 == 3) & (np.indices(shape)[0] > 30)] = 0
    extra = ellipsoids(rng, shape, 40, rmax=6.0)
    pred[(pred == 0) & (extra > 0)] = extra[(pred == 0) & (extra > 0)] + 100  # colliding ids
    vs = (5.3, 3.7, 3.7)
    cap = min(v * s for v, s in zip(vs, shape)) / 2
    ids, dist = ops.hausdorff_distances(cp.asarray(truth), cp.asarray(pred), vs, cap, method=method,
                                        percentile=pct)
    assert _is_cupy(ids) and _is_cupy(dist)
    ref = ops.hausdorff_distances(truth, pred, vs, cap, method=method, percentile=pct, device="cpu")
    assert_same(to_host((ids, dist)), ref)
    host = ops.hausdorff_distances(truth.astype(np.int64), pred.astype(np.uint16), vs, cap, method=method,
                                   percentile=pct, device="gpu")
    assert_same(host, ref)
