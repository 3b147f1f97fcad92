"""pycsc.ops label utilities against numpy, fastremap and scipy.ndimage.find_objects."""

import fastremap
import numpy as np
import pytest
from scipy import ndimage as ndi

from pycsc.errors import BackendUnavailableError, InputError, InputTypeError
from pycsc.ops import bounding_boxes, remap, unique, voxel_counts

INT_DTYPES = ["uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64"]
DTYPES = INT_DTYPES + ["bool"]
SHAPES = [(0,), (0, 3), (1,), (1, 1, 1), (1, 300), (300, 1), (7, 13), (9, 9), (5, 6, 7), (3, 17, 150)]
LAYOUTS = ["C", "F", "strided"]


def blocky_labels(shape, n_ids, dtype, rng, id_offset=0, negative=False):
    """Labels with long runs along the last axis, background, and isolated voxels."""
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
    if negative:
        flat = np.where(rng.random(size) < 0.3, -flat, flat)
    if id_offset:
        flat = np.where(flat > 0, flat.astype(np.uint64) + np.uint64(id_offset), np.uint64(0))
    return flat.astype(dtype).reshape(shape)


def in_layout(a, layout):
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "strided":
        big = np.zeros(tuple(2 * s for s in a.shape), a.dtype)
        big[tuple(slice(0, 2 * s, 2) for s in a.shape)] = a
        return big[tuple(slice(0, 2 * s, 2) for s in a.shape)]
    return a


def signed(dtype):
    return np.dtype(dtype).kind == "i"


# ---------------------------------------------------------------- unique / voxel_counts


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_unique_matches_numpy(shape, dtype, layout, rng):
    labels = in_layout(blocky_labels(shape, 9, dtype, rng, negative=signed(dtype)), layout)
    values, counts = unique(labels, return_counts=True)
    want_values, want_counts = np.unique(labels, return_counts=True)
    assert values.dtype == labels.dtype and counts.dtype == np.int64
    np.testing.assert_array_equal(values, want_values)
    np.testing.assert_array_equal(counts, want_counts)
    np.testing.assert_array_equal(unique(labels), want_values)


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_unique_matches_fastremap(dtype, rng):
    offset = 2**40 if dtype.endswith("64") else 0
    labels = blocky_labels((6, 40, 130), 2000 if np.dtype(dtype).itemsize > 1 else 100, dtype, rng, id_offset=offset)
    values, counts = unique(labels, return_counts=True)
    want_values, want_counts = fastremap.unique(labels, return_counts=True)
    np.testing.assert_array_equal(values, want_values)
    np.testing.assert_array_equal(counts, want_counts)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(0, 4), (1,), (7, 13), (5, 6, 7), (3, 17, 150)])
def test_voxel_counts_matches_numpy(shape, dtype, layout, rng):
    labels = in_layout(blocky_labels(shape, 9, dtype, rng), layout)
    ids, counts = voxel_counts(labels)
    want_ids, want_counts = np.unique(labels[labels != 0], return_counts=True)
    assert ids.dtype == np.uint64 and counts.dtype == np.int64
    np.testing.assert_array_equal(ids, want_ids.astype(np.uint64))
    np.testing.assert_array_equal(counts, want_counts)


def test_large_volume_uses_threads(rng):
    labels = blocky_labels((40, 256, 256), 10_000, np.uint32, rng, id_offset=2**31)
    ids, counts = voxel_counts(labels)
    want_ids, want_counts = fastremap.unique(labels[labels != 0], return_counts=True)
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_array_equal(counts, want_counts)
    got_ids, got_boxes = bounding_boxes(labels)
    np.testing.assert_array_equal(got_ids, want_ids)
    np.testing.assert_array_equal(got_boxes, reference_boxes(labels)[1])


# ---------------------------------------------------------------- bounding_boxes


def reference_boxes(labels):
    """find_objects on labels renumbered 1..k (so large and sparse ids work)."""
    ids, inverse = np.unique(labels, return_inverse=True)
    dense = inverse.reshape(labels.shape) + (0 if ids.size and ids[0] == 0 else 1)
    nonzero = ids[ids != 0]
    slices = ndi.find_objects(dense.astype(np.int64))[-len(nonzero):] if nonzero.size else []
    d = labels.ndim
    boxes = np.array([[s.start for s in sl] + [s.stop for s in sl] for sl in slices], np.int64).reshape(-1, 2 * d)
    return nonzero.astype(np.uint64), boxes


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_bounding_boxes_match_find_objects(shape, dtype, layout, rng):
    labels = in_layout(blocky_labels(shape, 7, dtype, rng), layout)
    ids, boxes = bounding_boxes(labels)
    want_ids, want_boxes = reference_boxes(labels)
    assert ids.dtype == np.uint64 and boxes.dtype == np.int64
    assert boxes.shape == (len(want_ids), 2 * labels.ndim)
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_array_equal(boxes, want_boxes)


def test_bounding_boxes_large_ids(rng):
    labels = blocky_labels((4, 9, 100), 50, np.uint64, rng, id_offset=2**63 + 5)
    ids, boxes = bounding_boxes(labels)
    want_ids, want_boxes = reference_boxes(labels)
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_array_equal(boxes, want_boxes)


# ---------------------------------------------------------------- remap


def random_mapping(labels, rng, new_max, fraction=0.6):
    present = np.unique(labels)
    chosen = present[rng.random(present.size) < fraction]
    return {int(k): int(v) for k, v in zip(chosen, rng.integers(0, new_max + 1, chosen.size))}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize("shape", [(0, 3), (1,), (7, 13), (9, 9), (3, 17, 150)])
@pytest.mark.parametrize("new_max", [5, 300, 70_000, 2**40])
def test_remap_matches_fastremap(shape, dtype, layout, new_max, rng):
    labels = in_layout(blocky_labels(shape, 9, dtype, rng, negative=signed(dtype)), layout)
    mapping = random_mapping(labels, rng, new_max)
    before = labels.copy()
    got = remap(labels, mapping)
    want = fastremap.remap(labels, mapping, preserve_missing_labels=True)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(labels, before)
    if labels.flags.f_contiguous and not labels.flags.c_contiguous:
        assert got.flags.f_contiguous
    else:
        assert got.flags.c_contiguous


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "uint32", "uint64", "int8", "int64"])
def test_remap_without_preserve(dtype, rng):
    labels = blocky_labels((3, 11, 120), 9, dtype, rng)
    full = {int(k): int(k) + 1 for k in np.unique(labels)}
    np.testing.assert_array_equal(remap(labels, full, preserve_missing=False),
                                  fastremap.remap(labels, full, preserve_missing_labels=False))
    missing = int(np.unique(labels)[-1])
    partial = {k: v for k, v in full.items() if k != missing}
    with pytest.raises(KeyError):
        fastremap.remap(labels, partial, preserve_missing_labels=False)
    with pytest.raises(InputError, match=f"value {missing}, which is not a key"):
        remap(labels, partial, preserve_missing=False)


def test_remap_large_volume_matches_fastremap(rng):
    labels = blocky_labels((40, 256, 256), 10_000, np.uint32, rng)
    mapping = random_mapping(labels, rng, 50_000, fraction=0.5)
    np.testing.assert_array_equal(remap(labels, mapping), fastremap.remap(labels, mapping, preserve_missing_labels=True))


def test_remap_array_pair_equals_dict(rng):
    labels = blocky_labels((5, 6, 70), 30, np.uint32, rng)
    mapping = random_mapping(labels, rng, 1000)
    keys = np.array(list(mapping), np.uint64)
    values = np.array(list(mapping.values()), np.int32)
    np.testing.assert_array_equal(remap(labels, (keys, values)), remap(labels, mapping))


def test_remap_keys_outside_dtype_are_ignored():
    labels = np.array([0, 1, 2, 255], np.uint8)
    got = remap(labels, {-1: 7, 256: 9, 1: 4, 2**70: 3})
    np.testing.assert_array_equal(got, [0, 4, 2, 255])
    assert got.dtype == np.uint8


def test_remap_bool_and_empty_mapping():
    labels = np.array([[True, False], [False, True]])
    np.testing.assert_array_equal(remap(labels, {1: 500}), [[500, 0], [0, 500]])
    same = remap(np.array([3, 0, 3], np.int16), {})
    assert same.dtype == np.int16 and same.tolist() == [3, 0, 3]


def test_remap_errors():
    labels = np.array([0, 1, 2], np.uint8)
    with pytest.raises(InputError, match="negative value -1"):
        remap(labels, {1: -1})
    with pytest.raises(InputError, match="no signed integer dtype"):
        remap(labels.astype(np.int64), {1: 2**63})
    with pytest.raises(InputError, match="distinct"):
        remap(labels, (np.array([1, 1]), np.array([2, 3])))
    with pytest.raises(InputError, match="differ in length"):
        remap(labels, (np.array([1, 2]), np.array([2])))
    with pytest.raises(InputTypeError, match="`mapping`"):
        remap(labels, {1: 2.5})
    with pytest.raises(InputTypeError, match="`mapping`"):
        remap(labels, (np.array([1.0]), np.array([2])))
    with pytest.raises(InputTypeError, match="`mapping`"):
        remap(labels, [(1, 2), (3, 4), (5, 6)])


# ---------------------------------------------------------------- bad inputs


@pytest.mark.parametrize("fn", [unique, voxel_counts, bounding_boxes, lambda a, **kw: remap(a, {1: 2}, **kw)])
def test_bad_inputs(fn):
    with pytest.raises(InputTypeError, match="`labels`"):
        fn(np.zeros((3, 3), np.float64))
    with pytest.raises(InputTypeError, match="`labels`"):
        fn([[1, 2], [3, 4]])
    with pytest.raises(InputError, match="`labels`"):
        fn(np.zeros((2, 2, 2, 2), np.uint8))
    with pytest.raises(InputError, match="`device`"):
        fn(np.zeros(3, np.uint8), device="tpu")
    with pytest.raises(BackendUnavailableError):
        fn(np.zeros(3, np.uint8), device="gpu")


@pytest.mark.parametrize("fn", [voxel_counts, bounding_boxes])
@pytest.mark.parametrize("dtype", ["int8", "int32", "int64"])
def test_negative_ids_rejected(fn, dtype):
    with pytest.raises(InputError, match="negative ids"):
        fn(np.array([[0, 3], [-4, 1]], dtype))


def test_remap_reports_first_missing_value_in_memory_order():
    # Several slices, handed to threads in any order: the report must still be the first voxel.
    labels = np.zeros(9_000_000, np.uint32)
    labels[[3_000_000, 8_900_000, 5_000_000]] = [7, 9, 11]
    with pytest.raises(InputError, match="value 7,"):
        remap(labels, {0: 0}, preserve_missing=False)
    with pytest.raises(InputError, match="value 9,"):
        remap(labels, {0: 0, 7: 1, 11: 2}, preserve_missing=False)
