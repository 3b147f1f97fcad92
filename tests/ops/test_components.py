"""pycsc.ops.connected_components against cc3d 4.1.1 (ids and count, exactly) and
scipy.ndimage.label (same partition for binary input)."""

import cc3d
import numpy as np
import pytest
from scipy import ndimage as ndi

from pycsc import _core
from pycsc.errors import InputError, InputTypeError
from pycsc.ops import connected_components

DTYPES = [
    np.bool_, np.uint8, np.uint16, np.uint32, np.uint64, np.int8, np.int16, np.int32, np.int64
]
CONN = {2: (4, 8), 3: (6, 18, 26)}
ALL_CONN = [(2, c) for c in CONN[2]] + [(3, c) for c in CONN[3]]
# scipy structuring-element rank for each connectivity
RANK = {4: 1, 8: 2, 6: 1, 18: 2, 26: 3}


def reference(a, connectivity):
    """cc3d on the C-ordered logical array: our numbering is C-order raster for any layout.

    For 2D bool input with 8-connectivity cc3d 4.1.1 switches to a 2x2-block decision tree
    that numbers components by block raster order and, on odd shapes, labels some background
    pixels (see test_cc3d_bool_2d_8_quirk); the same array as uint8 takes cc3d's ordinary path.
    """
    a = np.ascontiguousarray(a)
    if a.dtype == np.bool_ and a.ndim == 2 and connectivity == 8:
        a = a.view(np.uint8)
    ids, n = cc3d.connected_components(a, connectivity=connectivity, return_N=True)
    return ids, int(n)


def assert_matches_cc3d(a, connectivity):
    ids, n = connected_components(a, connectivity)
    ref_ids, ref_n = reference(a, connectivity)
    assert ids.dtype == np.uint32
    assert ids.shape == a.shape
    assert isinstance(n, int)
    assert n == ref_n
    np.testing.assert_array_equal(ids, ref_ids)


def random_labels(rng, shape, dtype, n_values=3, fg=0.4):
    """Random multi-label array: about `fg` foreground, values drawn from `n_values` ids
    (signed types include negative ids)."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) < fg
    lo = -n_values if dtype.kind == "i" else 1
    vals = rng.integers(lo, n_values + 1, shape)
    vals[vals == 0] = 1
    vals[rng.random(shape) >= fg] = 0
    return vals.astype(dtype)


def blobs(rng, shape, n_values, sigma=1.5, fg=0.3):
    """Smooth blobs, so that runs are long and objects span many rows and slices. With
    n_values > 1 the value changes along diagonal stripes, so objects of different values touch."""
    f = ndi.gaussian_filter(rng.standard_normal(shape), sigma)
    mask = f > np.quantile(f, 1 - fg)
    stripes = np.indices(shape).sum(axis=0) // 7 % n_values + 1
    return np.where(mask, stripes, 0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ndim,connectivity", ALL_CONN)
def test_dtypes_match_cc3d(rng, dtype, ndim, connectivity):
    shape = (7, 13, 5) if ndim == 3 else (17, 23)
    for fg in (0.2, 0.6):
        assert_matches_cc3d(random_labels(rng, shape, dtype, fg=fg), connectivity)


@pytest.mark.parametrize("ndim,connectivity", ALL_CONN)
@pytest.mark.parametrize("n_values", [1, 4])
def test_blobs_match_cc3d(rng, ndim, connectivity, n_values):
    shape = (19, 33, 45) if ndim == 3 else (97, 131)
    a = blobs(rng, shape, n_values).astype(np.uint16)
    assert_matches_cc3d(a, connectivity)


@pytest.mark.parametrize(
    "shape",
    [(0, 5, 5), (5, 0, 5), (5, 5, 0), (0, 0), (0, 4), (1, 1, 1), (1, 1), (1, 40), (40, 1),
     (1, 1, 40), (40, 1, 1), (1, 40, 1), (2, 3, 4), (7, 13, 5), (3, 5, 71), (1, 3, 129)],
)
@pytest.mark.parametrize("fg", [0.0, 0.3, 1.0])
def test_shapes_match_cc3d(rng, shape, fg):
    a = random_labels(rng, shape, np.uint8, n_values=2, fg=fg)
    for c in CONN[len(shape)]:
        assert_matches_cc3d(a, c)


def test_empty_returns_empty_and_zero():
    ids, n = connected_components(np.zeros((0, 5, 5), np.uint8))
    assert ids.shape == (0, 5, 5) and ids.dtype == np.uint32 and n == 0


def test_one_voxel_and_all_background():
    ids, n = connected_components(np.full((1, 1, 1), 9, np.int64))
    assert n == 1 and ids.tolist() == [[[1]]]
    ids, n = connected_components(np.zeros((4, 5, 6), np.uint32))
    assert n == 0 and not ids.any()


@pytest.mark.parametrize("ndim,connectivity", ALL_CONN)
def test_noise_at_half_density_percolates(rng, ndim, connectivity):
    shape = (24, 25, 26) if ndim == 3 else (120, 130)
    assert_matches_cc3d(rng.random(shape) < 0.5, connectivity)


@pytest.mark.parametrize("dtype", [np.uint16, np.uint32, np.uint64, np.int16, np.int32, np.int64])
def test_values_differing_only_in_high_bytes_stay_apart(rng, dtype):
    # The run scanner compares bytes; values like 1 and 1 + 2**24 share their low byte.
    bits = np.dtype(dtype).itemsize * 8
    top = 1 << (bits - 2)
    pool = np.array([1, 1 + 256, top, top + 1, 256, -1 if np.dtype(dtype).kind == "i" else 3])
    a = pool[rng.integers(0, len(pool), (6, 9, 70))].astype(dtype)
    a[rng.random(a.shape) < 0.2] = 0
    for c in CONN[3]:
        assert_matches_cc3d(a, c)


@pytest.mark.parametrize("layout", ["F", "strided", "reversed", "transposed"])
@pytest.mark.parametrize("ndim", [2, 3])
def test_memory_layouts_number_in_c_raster(rng, layout, ndim):
    base = blobs(rng, (12, 17, 40)[-ndim:] if ndim == 3 else (41, 53), 3).astype(np.int32)
    views = {
        "F": np.asfortranarray(base),
        "strided": base[::2, 1::3] if ndim == 2 else base[::2, 1::3, ::2],
        "reversed": base[::-1, ..., ::-1],
        "transposed": base.T,
    }
    a = views[layout]
    for c in CONN[ndim]:
        assert_matches_cc3d(a, c)


def test_random_fuzz_with_forced_blocks():
    # Many small random cases: shapes, dtypes, value counts, densities and block splits.
    rng = np.random.default_rng(2024)
    for _ in range(150):
        ndim = int(rng.integers(2, 4))
        shape = tuple(int(s) for s in rng.integers(1, 19, ndim))
        dtype = DTYPES[int(rng.integers(len(DTYPES)))]
        a = random_labels(rng, shape, dtype, n_values=int(rng.integers(1, 4)), fg=rng.random())
        blocks = int(rng.integers(0, 6))
        for c in CONN[ndim]:
            ids, n = _core.connected_components(a, c, blocks)
            ref_ids, ref_n = reference(a, c)
            assert n == ref_n, (shape, dtype, c, blocks)
            np.testing.assert_array_equal(ids, ref_ids)


@pytest.mark.parametrize("blocks", [1, 2, 3, 5, 8, 40])
@pytest.mark.parametrize("connectivity", CONN[3])
def test_seams_between_row_blocks(rng, blocks, connectivity):
    # Blocks cut at arbitrary rows, including blocks shorter than a slice (sy + 1 rows).
    a = blobs(rng, (9, 7, 30), 2, fg=0.45).astype(np.uint8)
    ids, n = _core.connected_components(a, connectivity, blocks)
    ref_ids, ref_n = reference(a, connectivity)
    assert n == ref_n
    np.testing.assert_array_equal(ids, ref_ids)


@pytest.mark.parametrize("blocks", [2, 7])
@pytest.mark.parametrize("connectivity", CONN[2])
def test_seams_2d(rng, blocks, connectivity):
    a = rng.random((33, 20)) < 0.55
    ids, n = _core.connected_components(a, connectivity, blocks)
    ref_ids, ref_n = reference(a, connectivity)
    assert n == ref_n
    np.testing.assert_array_equal(ids, ref_ids)


@pytest.mark.parametrize("connectivity", CONN[3])
def test_uint64_ids_path(rng, connectivity):
    # Volumes above 2**32 - 1 voxels get uint64 ids; too big to test, so force that path.
    a = blobs(rng, (9, 17, 33), 3, fg=0.5).astype(np.int16)
    ids, n = _core.connected_components(a, connectivity, 3, True)
    ref_ids, ref_n = reference(a, connectivity)
    assert ids.dtype == np.uint64 and n == ref_n
    np.testing.assert_array_equal(ids, ref_ids)


def test_large_enough_for_threads(rng):
    # >= 16 Mi voxels: two threads (where there are two) over eight dynamic blocks.
    a = blobs(rng, (256, 256, 256), 3, sigma=2.0).astype(np.uint32)
    for c in CONN[3]:
        assert_matches_cc3d(a, c)


@pytest.mark.parametrize("ndim,connectivity", ALL_CONN)
def test_binary_partition_matches_scipy(rng, ndim, connectivity):
    shape = (15, 22, 31) if ndim == 3 else (61, 77)
    a = blobs(rng, shape, 1, fg=0.35) > 0
    ids, n = connected_components(a, connectivity)
    ref, ref_n = ndi.label(a, structure=ndi.generate_binary_structure(ndim, RANK[connectivity]))
    assert n == ref_n
    np.testing.assert_array_equal(ids > 0, ref > 0)
    pairs = np.unique(np.stack([ids[a], ref[a]]), axis=1)
    assert pairs.shape[1] == n  # one-to-one: the same partition up to renumbering


def test_cc3d_bool_2d_8_quirk(rng):
    # Documents why `reference` routes 2D bool / 8-connectivity through uint8: cc3d 4.1.1's
    # block path numbers in 2x2-block order and marks background pixels on odd shapes. Ours
    # keeps pixel raster numbering and the true foreground.
    a = np.zeros((5, 7), bool)
    a[0, 4] = a[1, 1] = True  # raster order: (0, 4) first; block order: block (0, 0) first
    ids, n = connected_components(a, 8)
    assert n == 2 and ids[0, 4] == 1 and ids[1, 1] == 2
    assert cc3d.connected_components(a, connectivity=8)[1, 1] == 1
    odd = rng.random((21, 3)) < 0.4
    ids, _ = connected_components(odd, 8)
    np.testing.assert_array_equal(ids > 0, odd)


def test_default_connectivity_is_full(rng):
    a3 = random_labels(rng, (6, 7, 8), np.uint8)
    np.testing.assert_array_equal(connected_components(a3)[0], reference(a3, 26)[0])
    a2 = random_labels(rng, (16, 17), np.uint8)
    np.testing.assert_array_equal(connected_components(a2)[0], reference(a2, 8)[0])


def test_non_native_byte_order(rng):
    a = random_labels(rng, (5, 6, 7), np.uint32)
    ids, n = connected_components(a.astype(">u4"), 26)
    ref_ids, ref_n = reference(a, 26)
    assert n == ref_n
    np.testing.assert_array_equal(ids, ref_ids)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, object])
def test_bad_dtype_is_type_error(dtype):
    with pytest.raises(TypeError, match="labels"):
        connected_components(np.zeros((3, 3, 3), dtype))


@pytest.mark.parametrize("shape", [(5,), (2, 2, 2, 2), ()])
def test_bad_ndim_is_value_error(shape):
    with pytest.raises(ValueError, match="labels"):
        connected_components(np.zeros(shape, np.uint8))


@pytest.mark.parametrize(
    "shape,connectivity",
    [((4, 4), 6), ((4, 4), 26), ((4, 4), 0), ((3, 3, 3), 4), ((3, 3, 3), 8), ((3, 3, 3), 27),
     ((3, 3, 3), 26.0), ((3, 3, 3), True), ((3, 3, 3), "26")],
)
def test_bad_connectivity_is_value_error(shape, connectivity):
    allowed = "4 or 8" if len(shape) == 2 else "6, 18 or 26"
    with pytest.raises(InputError, match=f"`connectivity` must be {allowed}"):
        connected_components(np.zeros(shape, np.uint8), connectivity)


def test_non_array_is_type_error():
    with pytest.raises(InputTypeError, match="labels"):
        connected_components([[1, 0], [0, 1]])


def test_bad_device_is_value_error():
    with pytest.raises(ValueError, match="device"):
        connected_components(np.zeros((2, 2), np.uint8), device="tpu")


def test_core_checks_its_own_arguments():
    with pytest.raises(ValueError, match="C-contiguous"):
        _core.connected_components(np.zeros((4, 5, 6), np.uint8, order="F"), 26)
    with pytest.raises(ValueError, match="connectivity"):
        _core.connected_components(np.zeros((4, 5), np.uint8), 26)
    with pytest.raises(TypeError, match="labels"):
        _core.connected_components(np.zeros((4, 5), np.float32), 4)
