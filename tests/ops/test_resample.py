"""pycsc.ops.rescale against skimage.transform.rescale (the official evaluator's call)."""

import doctest
import warnings

import numpy as np
import pytest

from pycsc.errors import InputError, InputTypeError
from pycsc.ops import rescale
from pycsc.ops import resample as resample_module

skimage_transform = pytest.importorskip("skimage.transform")

INT_DTYPES = ["uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64"]
SCALES = [0.5, 0.25, 2, 3, 0.75, 1.5, 1 / 3]
SHAPES_3D = [(7, 13, 5), (13, 5, 33), (1, 7, 13), (5, 1, 1)]
SHAPES_2D = [(13, 33), (7, 1), (1, 5)]
ANISOTROPIC = [(0.5, 2 / 1.74 * 0.9, 1.3), (3.48 / 1.74, 4 / 2, 4 / 2), (0.25, 0.5, 1.0), (1.0, 1.0, 0.5), (0.37, 2.2, 1)]


def reference(image, scale, order, anti_aliasing=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return skimage_transform.rescale(
            image, scale, order=order, mode="constant", preserve_range=True, anti_aliasing=anti_aliasing
        )


def assert_identical(ours, ref):
    """Same dtype, shape and bits (NaNs compare as NaNs: their sign/payload may differ)."""
    assert ours.dtype == ref.dtype
    assert ours.shape == ref.shape
    assert ours.flags.c_contiguous
    if ours.dtype.kind == "f" and (np.isnan(ref).any() or np.isnan(ours).any()):
        np.testing.assert_array_equal(ours, ref)
        ours, ref = np.nan_to_num(ours, nan=7.0), np.nan_to_num(ref, nan=7.0)
    assert np.array_equal(ours.view(np.uint8), ref.view(np.uint8)), np.abs(
        ours.astype(np.float64) - ref.astype(np.float64)
    ).max()


def random_labels(rng, shape, dtype):
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) < 0.4
    hi = min(int(np.iinfo(dtype).max), 1000) if dtype.kind in "iu" else 1000
    lab = rng.integers(0, hi, size=shape)
    if dtype.kind == "i":
        lab = lab - hi // 2
    return lab.astype(dtype)


@pytest.mark.parametrize("shape", SHAPES_3D + SHAPES_2D)
@pytest.mark.parametrize("dtype", INT_DTYPES + ["bool", "float32", "float64"])
def test_order0_matches_skimage(rng, shape, dtype):
    image = random_labels(rng, shape, dtype)
    for scale in SCALES:
        assert_identical(rescale(image, scale, 0), reference(image, scale, 0))


@pytest.mark.parametrize("scale", ANISOTROPIC)
@pytest.mark.parametrize("dtype", ["uint32", "uint64", "float32"])
def test_order0_anisotropic(rng, scale, dtype):
    image = random_labels(rng, (9, 17, 12), dtype)
    assert_identical(rescale(image, scale, 0), reference(image, scale, 0))
    assert_identical(rescale(image[0], scale[1:], 0), reference(image[0], scale[1:], 0))


@pytest.mark.parametrize("dtype", ["uint64", "int64"])
def test_order0_ids_above_2_53_round_like_scipy(rng, dtype):
    info = np.iinfo(dtype)
    image = rng.integers(info.min // 2 if info.min else 2**52, info.max, size=(6, 7, 8), dtype=dtype)
    image.flat[:4] = [info.max, info.min, 2**52 + 1, 2**53 + 1]
    for scale in (0.5, 2, 0.75, 1.0):
        assert_identical(rescale(image, scale, 0), reference(image, scale, 0))


@pytest.mark.parametrize("anti_aliasing", [None, False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64", "uint8", "int16", "uint64"])
@pytest.mark.parametrize("shape", [(7, 13, 5), (1, 9, 14), (13, 33), (5, 1)])
def test_order1_matches_skimage(rng, shape, dtype, anti_aliasing):
    image = (rng.random(shape) * 200 - (50 if dtype[0] in "fi" else 0)).astype(dtype)
    for scale in SCALES:
        ref = reference(image, scale, 1, anti_aliasing)
        assert_identical(rescale(image, scale, 1, anti_aliasing=anti_aliasing), ref)


@pytest.mark.parametrize("scale", ANISOTROPIC)
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_order1_anisotropic(rng, scale, dtype):
    image = (rng.normal(size=(11, 14, 9)) * 30).astype(dtype)
    assert_identical(rescale(image, scale, 1), reference(image, scale, 1))


@pytest.mark.parametrize("anti_aliasing", [None, False, True])
@pytest.mark.parametrize("scale", SCALES + ANISOTROPIC)
def test_semantic_masks_threshold_identically(rng, scale, anti_aliasing):
    """The evaluator's semantic path: bool -> float32, linear, > 0.5."""
    blocks = rng.random((4, 5, 4)) < 0.5
    mask = np.repeat(np.repeat(np.repeat(blocks, 5, 0), 4, 1), 6, 2)
    mask ^= rng.random(mask.shape) < 0.05
    image = mask.astype(np.float32)
    ours = rescale(image, scale, 1, anti_aliasing=anti_aliasing)
    ref = reference(image, scale, 1, anti_aliasing)
    assert np.array_equal(ours > 0.5, ref > 0.5)
    assert_identical(ours, ref)


@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float_labels_are_smoothed_like_skimage(rng, order, dtype):
    image = random_labels(rng, (15, 12, 13), "uint16").astype(dtype)
    for scale in (0.5, 0.3, (0.5, 1, 2)):
        assert_identical(rescale(image, scale, order), reference(image, scale, order))


@pytest.mark.parametrize("dtype", ["uint8", "int16"])
def test_forced_anti_aliasing_on_integer_order0(rng, dtype):
    image = random_labels(rng, (9, 10, 11), dtype)
    for scale in (0.5, 0.25):
        assert_identical(rescale(image, scale, 0, anti_aliasing=True), reference(image, scale, 0, True))


@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize("layout", ["F", "strided", "transposed"])
def test_memory_layouts(rng, order, layout):
    base = rng.random((20, 18, 22)).astype(np.float32)
    image = {
        "F": np.asfortranarray(base),
        "strided": base[::2, 1:, ::3],
        "transposed": base.transpose(2, 0, 1),
    }[layout]
    for scale in (0.6, 2):
        assert_identical(rescale(image, scale, order), reference(image, scale, order))


@pytest.mark.parametrize("value", [1.0, 0.9, -3.5, 0.0])
@pytest.mark.parametrize("order", [0, 1])
def test_constant_input_stays_constant(order, value):
    image = np.full((9, 7, 11), value, np.float32)
    for scale in (0.5, 2, 0.75, (0.5, 2, 1.3)):
        out = rescale(image, scale, order)
        assert np.all(out == np.float32(value))
        assert_identical(out, reference(image, scale, order))


def test_nan_and_inf_propagate_like_skimage(rng):
    image = rng.random((9, 10, 8))
    image[rng.random(image.shape) < 0.05] = np.nan
    image[rng.random(image.shape) < 0.03] = np.inf
    for dtype in ("float32", "float64"):
        for order in (0, 1):
            for scale in (0.5, 2, 0.75):
                img = image.astype(dtype)
                assert_identical(rescale(img, scale, order), reference(img, scale, order))


@pytest.mark.parametrize("dtype", ["bool", "uint32", "float32"])
def test_scale_one_and_one_voxel(rng, dtype):
    image = random_labels(rng, (5, 6, 7), dtype)
    for order in (0, 1) if dtype != "bool" else (0,):
        out = rescale(image, 1.0, order)
        assert_identical(out, reference(image, 1.0, order))
        assert not np.shares_memory(out, image)
    one = random_labels(rng, (1, 1, 1), dtype)
    for scale in (0.2, 5):
        assert_identical(rescale(one, scale, 0), reference(one, scale, 0))


def test_chunk_sized_odd_input(rng):
    """Odd edges like the official 297^3 chunks, where round-half-even matters."""
    labels = random_labels(rng, (37, 29, 33), "uint32")
    probs = rng.random((37, 29, 33)).astype(np.float32)
    for scale in (0.5, 0.25, 2, 0.5 / 0.75):
        assert_identical(rescale(labels, scale, 0), reference(labels, scale, 0))
        assert_identical(rescale(probs, scale, 1), reference(probs, scale, 1))


def test_bool_rules_match_skimage(rng):
    image = rng.random((6, 7, 8)) < 0.5
    assert_identical(rescale(image, 0.5, 0), reference(image, 0.5, 0))
    with pytest.raises(ValueError, match="order"):
        rescale(image, 0.5, 1)
    with pytest.raises(ValueError, match="anti_aliasing"):
        rescale(image, 0.5, 0, anti_aliasing=True)


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        (dict(order=2), ValueError, "order"),
        (dict(order=1.0), ValueError, "order"),
        (dict(order=True), ValueError, "order"),
        (dict(scale=0), ValueError, "scale"),
        (dict(scale=-0.5), ValueError, "scale"),
        (dict(scale=float("nan")), ValueError, "scale"),
        (dict(scale=float("inf")), ValueError, "scale"),
        (dict(scale=(0.5, 0.5)), ValueError, "scale"),
        (dict(scale=(0.5, 0.5, 0.5, 0.5)), ValueError, "scale"),
        (dict(scale="half"), ValueError, "scale"),
        (dict(image=np.zeros(5, np.uint8)), ValueError, "image"),
        (dict(image=np.zeros((2, 2, 2, 2), np.uint8)), ValueError, "image"),
        (dict(image=np.zeros((0, 3, 3), np.uint8)), ValueError, "image"),
        (dict(image=np.zeros((2, 2, 2), object)), TypeError, "image"),
        (dict(image=np.zeros((2, 2, 2), np.float16)), TypeError, "image"),
        (dict(image=[[1, 2], [3, 4]]), TypeError, "image"),
        (dict(anti_aliasing="yes"), ValueError, "anti_aliasing"),
        (dict(device="tpu"), ValueError, "device"),
    ],
)
def test_bad_inputs(kwargs, error, name):
    args = dict(image=np.zeros((4, 4, 4), np.uint8), scale=0.5, order=0) | kwargs
    image, scale, order = args.pop("image"), args.pop("scale"), args.pop("order")
    with pytest.raises(error, match=name) as info:
        rescale(image, scale, order, **args)
    assert isinstance(info.value, (InputError, InputTypeError))


def test_docstring_examples():
    result = doctest.testmod(resample_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.parametrize("seed", range(6))
def test_random_geometries(seed):
    """Random shapes and per-axis scales (including non-integer and extreme ones)."""
    rng = np.random.default_rng(seed)
    for _ in range(25):
        ndim = int(rng.integers(2, 4))
        shape = tuple(int(v) for v in rng.integers(1, 41, ndim))
        scale = tuple(float(v) for v in np.exp(rng.uniform(np.log(0.08), np.log(3.5), ndim)))
        order = int(rng.integers(0, 2))
        dtype = rng.choice(["uint32", "int16", "float32", "float64"])
        image = random_labels(rng, shape, dtype) if order == 0 else rng.random(shape).astype(dtype)
        aa = [None, True, False][int(rng.integers(0, 3))]
        assert_identical(rescale(image, scale, order, anti_aliasing=aa), reference(image, scale, order, aa))


@pytest.mark.parametrize(
    "shape, scale",
    [((1300, 1100), 0.5), ((1300, 1100), (1.5, 2)), ((9, 400, 410), (0.5, 0.5, 0.5)), ((110, 120, 130), 0.75)],
)
@pytest.mark.parametrize("order", [0, 1])
def test_sizes_that_use_threads_and_bands(rng, shape, scale, order):
    """Large enough for several threads (split along z or y) and several y bands."""
    image = rng.random(shape).astype(np.float32) if order else random_labels(rng, shape, "uint32")
    assert_identical(rescale(image, scale, order), reference(image, scale, order))


@pytest.mark.parametrize("dtype", [">u4", ">f4", "<i8"])
def test_non_native_byte_order(rng, dtype):
    image = random_labels(rng, (6, 9, 10), np.dtype(dtype).newbyteorder("=")).astype(dtype)
    for order in (0, 1):
        ours, ref = rescale(image, 0.6, order), reference(image, 0.6, order)
        assert ours.dtype.isnative and ours.shape == ref.shape
        np.testing.assert_array_equal(ours, ref)
