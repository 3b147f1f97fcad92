"""GPU path of pycsc.ops.rescale: the same bits as the CPU path (itself checked against
scikit-image in tests/ops/test_resample.py).

Emulated tests (fixture ``emu``) run the driver and the CUDA kernels on the host; the
``gpu``-marked tests (fixture ``cp``) repeat the comparison with CuPy input on a device.
"""

from __future__ import annotations

import numpy as np
import pytest

from pycsc import ops
from pycsc.errors import InputError, InputTypeError
from pycsc.gpu import resample as gpu_resample

INT_DTYPES = ["uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64"]
ALL_DTYPES = INT_DTYPES + ["bool", "float32", "float64"]
SCALES = [0.5, 2, 1 / 3, 0.75, 1.5, 0.25, (0.5, 1.7, 0.3), (3.48 / 1.74, 0.37, 1.0)]
SHAPES = [(7, 13, 5), (1, 9, 14), (5, 1, 1), (1, 1, 1), (13, 33), (7, 1), (1, 5), (1, 1)]


def per_axis(scale, ndim):
    return scale if np.isscalar(scale) else tuple(scale[-ndim:])


def sample(rng, shape, dtype, order):
    """Labels for order 0, smooth-ish values for order 1, spread over the dtype's sign."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) < 0.4
    if order == 0 or dtype.kind in "iu":
        hi = min(int(np.iinfo(dtype).max), 1000) if dtype.kind in "iu" else 1000
        values = rng.integers(0, hi, size=shape)
        return (values - (hi // 2 if dtype.kind in "if" else 0)).astype(dtype)
    return (rng.random(shape) * 200 - 50).astype(dtype)


def assert_same(gpu, cpu):
    """Same dtype, shape, layout and bits; NaNs only need to sit at the same places (GPU
    arithmetic returns the canonical NaN, the CPU keeps an operand's payload)."""
    assert type(gpu) is np.ndarray and gpu.flags.c_contiguous
    assert gpu.dtype == cpu.dtype and gpu.shape == cpu.shape
    if gpu.dtype.kind == "f":
        nan = np.isnan(cpu)
        assert np.array_equal(np.isnan(gpu), nan)
        gpu, cpu = np.where(nan, 0, gpu).astype(gpu.dtype), np.where(nan, 0, cpu).astype(cpu.dtype)
    diff = np.flatnonzero(gpu.view(np.uint8) != cpu.view(np.uint8))
    assert diff.size == 0, f"{diff.size} bytes differ, first at byte {diff[0]}"


def both(emu, image, scale, order, anti_aliasing=None):
    """(gpu, cpu) results; checks that the GPU path really launched kernels."""
    emu.launches.clear()
    gpu = ops.rescale(image, scale, order, anti_aliasing=anti_aliasing, device="gpu")
    cpu = ops.rescale(image, scale, order, anti_aliasing=anti_aliasing, device="cpu")
    assert emu.launches or cpu.shape == image.shape
    return gpu, cpu


def kernels_run(emu):
    return {name for name, _, _ in emu.launches}


# ---- emulated --------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype, order", [(d, o) for d in ALL_DTYPES for o in (0, 1) if d != "bool" or o == 0])
def test_all_dtypes_shapes_and_scales(emu, rng, dtype, order):
    for shape in SHAPES:
        image = sample(rng, shape, dtype, order)
        for scale in SCALES:
            assert_same(*both(emu, image, per_axis(scale, len(shape)), order))


@pytest.mark.parametrize("anti_aliasing", [None, True, False])
@pytest.mark.parametrize("dtype", ["uint8", "int16", "uint32", "int64", "float32", "float64"])
@pytest.mark.parametrize("order", [0, 1])
def test_anti_aliasing(emu, rng, dtype, order, anti_aliasing):
    for shape in [(9, 10, 11), (6, 1, 17), (21, 8)]:
        image = sample(rng, shape, dtype, order)
        for scale in (0.5, 0.3, 0.08, (0.5, 1, 2), (2, 0.45, 0.9)):
            gpu, cpu = both(emu, image, per_axis(scale, len(shape)), order, anti_aliasing)
            assert_same(gpu, cpu)


def test_each_smoothing_pass_alone_and_together(emu, rng):
    """z only, y only, x only (fused into the interpolation), and pairs: the passes read the
    input or the previous pass and round to W where the CPU does."""
    image = sample(rng, (12, 11, 10), "float32", 1)
    for scale in [(0.4, 1, 1), (1, 0.4, 1), (1, 1, 0.4), (0.4, 0.4, 1), (0.4, 1, 0.4), (1, 0.4, 0.4)]:
        for order in (0, 1):
            assert_same(*both(emu, image, scale, order, True))


@pytest.mark.parametrize("scale, expect", [
    ((0.4, 1, 1), {"rescale_smooth_in", "rescale_interp_w"}),
    ((0.4, 0.4, 1), {"rescale_smooth_in", "rescale_smooth_w", "rescale_interp_w"}),
    ((1, 1, 0.4), {"rescale_range", "rescale_interp_in"}),
])
def test_smoothing_passes_taken(emu, rng, scale, expect):
    image = sample(rng, (12, 11, 10), "float64", 1)
    assert_same(*both(emu, image, scale, 1, True))
    assert expect <= kernels_run(emu)


@pytest.mark.parametrize("dtype", ["uint64", "int64"])
def test_64bit_ids_above_2_53_round_and_clip_like_the_cpu(emu, rng, dtype):
    info = np.iinfo(dtype)
    image = rng.integers(info.min // 2 if info.min else 2**52, info.max, size=(6, 7, 8), dtype=dtype)
    image.flat[:4] = [info.max, info.min, 2**52 + 1, 2**53 + 1]
    for scale in (0.5, 2, 0.75, (1, 0.5, 3)):
        assert_same(*both(emu, image, scale, 0))
    assert "rescale_clip" in kernels_run(emu)
    small = rng.integers(0, 2**40, size=(6, 7, 8), dtype=dtype)
    assert_same(*both(emu, small, 0.5, 0))
    assert kernels_run(emu) == {"rescale_gather"}


@pytest.mark.parametrize("dtype", INT_DTYPES + ["float32", "float64"])
def test_dtype_limits(emu, rng, dtype):
    """Extreme values: order 0 keeps them, order 1 rounds through float64, the clip keeps the
    output within the input range; smoothed integers are truncated like scipy's casts."""
    if dtype.startswith("float"):
        info = np.finfo(dtype)
        values = np.array([info.max, info.min, info.tiny, -info.tiny, 0, 1, info.smallest_subnormal,
                           -3 * info.smallest_subnormal, info.tiny / 4], dtype)
    else:
        info = np.iinfo(dtype)
        values = np.array([info.max, info.min, info.max - 1, 0, 1], dtype)
    image = rng.choice(values, size=(5, 6, 7))
    for order in (0, 1):
        for aa in (False, True):
            for scale in (0.5, 2, 0.7):
                assert_same(*both(emu, image, scale, order, aa))


def test_clip_widens_to_zero_and_clamps_borders(emu, rng):
    """Positive-only input: linear borders fall below the minimum (clamped), zero-padded
    smoothing may reach 0 (then the bounds widen to 0)."""
    image = (rng.random((8, 9, 10)) * 100 + 100).astype(np.float32)
    for scale in (2, 0.5, 3, (0.2, 2, 1)):
        for order in (0, 1):
            assert_same(*both(emu, image, scale, order, True))
    assert "rescale_clip" in kernels_run(emu)

@pytest.mark.parametrize("dtype", ["uint8", "int16", "uint64", "int64"])
def test_truncated_smoothing_reaches_zero_and_widens_the_bounds(emu, dtype):
    """Integer order 0 with anti-aliasing: zero padding plus truncation turns border
    samples of an all-ones image into 0, which skimage's clip keeps (bounds widened)."""
    ones = np.ones((1, 3, 40), dtype)
    ones[:, :, 18:22] = 100
    gpu, cpu = both(emu, ones, (1, 1, 0.1), 0, True)
    assert_same(gpu, cpu)
    assert (cpu == 0).any() and (cpu > 0).any()
    assert_same(*both(emu, np.ones((6, 7, 8), dtype), 0.1, 0, True))


@pytest.mark.parametrize("value", [1.0, 0.9, -3.5, 0.0, -0.0])
def test_constant_input(emu, value):
    image = np.full((9, 7, 11), value, np.float32)
    for scale in (0.5, 2, 0.75, (0.5, 2, 1.3)):
        for order in (0, 1):
            assert_same(*both(emu, image, scale, order))


def test_nan_and_inf(emu, rng):
    image = rng.random((9, 10, 8))
    image[rng.random(image.shape) < 0.05] = np.nan
    image[rng.random(image.shape) < 0.03] = np.inf
    image[rng.random(image.shape) < 0.03] = -np.inf
    for dtype in ("float32", "float64"):
        for order in (0, 1):
            for aa in (None, False):
                for scale in (0.5, 2, 0.75):
                    assert_same(*both(emu, image.astype(dtype), scale, order, aa))
    all_nan = np.full((4, 5, 6), np.nan, np.float32)
    for order in (0, 1):
        gpu, cpu = both(emu, all_nan, 0.5, order)
        assert_same(gpu, cpu)
        assert np.isnan(gpu).all()


def test_nan_made_from_inf_blocks_the_widening(emu, rng):
    """No NaN in, NaN out (inf * 0 weight): skimage's clip then ignores the output's zeros
    (here underflows of the smallest subnormal), so they are clamped to the input minimum."""
    image = np.full((9, 4, 10), 5e-324)
    image[rng.random(image.shape) < 0.03] = np.inf
    for scale in ((1 / 3, 1, 2), (1 / 3, 0.25, 1.5)):
        gpu, cpu = both(emu, image, scale, 1, False)
        assert_same(gpu, cpu)
        assert np.isnan(cpu).any() and not (cpu == 0).any()


@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize("layout", ["F", "strided", "transposed", "negative"])
def test_memory_layouts(emu, rng, order, layout):
    base = sample(rng, (14, 12, 16), "float32", order)
    image = {
        "F": np.asfortranarray(base),
        "strided": base[::2, 1:, ::3],
        "transposed": base.transpose(2, 0, 1),
        "negative": base[::-1, :, ::-2],
    }[layout]
    for scale in (0.6, 2):
        assert_same(*both(emu, image, scale, order))
    bools = np.asfortranarray(base > 0)[:, ::2]
    assert_same(*both(emu, bools, 0.6, 0))


@pytest.mark.parametrize("dtype", [">u4", ">f4", "<i8"])
def test_non_native_byte_order(emu, rng, dtype):
    image = sample(rng, (6, 9, 10), np.dtype(dtype).newbyteorder("="), 0).astype(dtype)
    for order in (0, 1):
        assert_same(*both(emu, image, 0.6, order))


@pytest.mark.parametrize("dtype", ["bool", "uint32", "float32", "int64"])
def test_scale_one_copies(emu, rng, dtype):
    image = sample(rng, (5, 6, 7), dtype, 0)
    for order in (0, 1) if dtype != "bool" else (0,):
        gpu, cpu = both(emu, image, 1.0, order)
        assert_same(gpu, cpu)
        assert not np.shares_memory(gpu, image)


@pytest.mark.parametrize("seed", range(4))
def test_random_geometries(emu, seed):
    rng = np.random.default_rng(seed)
    for _ in range(20):
        ndim = int(rng.integers(2, 4))
        shape = tuple(int(v) for v in rng.integers(1, 24, ndim))
        scale = tuple(float(v) for v in np.exp(rng.uniform(np.log(0.08), np.log(3.5), ndim)))
        order = int(rng.integers(0, 2))
        dtype = str(rng.choice(["uint8", "uint32", "int16", "int64", "float32", "float64"]))
        aa = [None, True, False][int(rng.integers(0, 3))]
        image = sample(rng, shape, dtype, order)
        assert_same(*both(emu, image, scale, order, aa))


def test_thread_grid_covers_wide_and_tall_volumes(emu, rng, monkeypatch):
    """Fewer blocks than rows, planes and x segments: every grid-stride loop takes several
    turns, and partials come from threads that saw nothing."""
    monkeypatch.setattr(gpu_resample, "_MAX_BLOCKS", 3)
    image = sample(rng, (9, 40, 300), "float32", 1)
    for order, scale in ((0, 0.5), (1, 0.5), (1, (2, 0.7, 1.1)), (0, (1, 1.6, 0.9))):
        assert_same(*both(emu, image, scale, order))


def test_axis_tables_are_the_cpus(emu):
    """order 0 picks floor(cc + 0.5), order 1 floor(cc) with weights 1 - frac and 1 - w0."""
    start, _, _ = gpu_resample.axis_table(4, 2, 0)
    assert start.tolist() == [1, 3]
    start, w0, w1 = gpu_resample.axis_table(2, 4, 1)
    assert start.tolist() == [-1, 0, 0, 1]
    assert w0.tolist() == [0.25, 0.75, 0.25, 0.75] and w1.tolist() == [0.75, 0.25, 0.75, 0.25]


BAD_INPUTS = [
    (dict(order=2), ValueError),
    (dict(order=True), ValueError),
    (dict(scale=0), ValueError),
    (dict(scale=float("nan")), ValueError),
    (dict(scale=(0.5, 0.5)), ValueError),
    (dict(scale="half"), ValueError),
    (dict(image=np.zeros(5, np.uint8)), ValueError),
    (dict(image=np.zeros((2, 2, 2, 2), np.uint8)), ValueError),
    (dict(image=np.zeros((0, 3, 3), np.uint8)), ValueError),
    (dict(image=np.zeros((2, 2, 2), object)), TypeError),
    (dict(image=np.zeros((2, 2, 2), np.float16)), TypeError),
    (dict(image=[[1, 2], [3, 4]]), TypeError),
    (dict(anti_aliasing="yes"), ValueError),
    (dict(image=np.zeros((4, 4, 4), bool), order=1), ValueError),
    (dict(image=np.zeros((4, 4, 4), bool), anti_aliasing=True), ValueError),
]


@pytest.mark.parametrize("kwargs, error", BAD_INPUTS)
def test_bad_inputs_raise_the_cpu_errors(emu, kwargs, error):
    args = dict(image=np.zeros((4, 4, 4), np.uint8), scale=0.5, order=0) | kwargs
    image, scale, order = args.pop("image"), args.pop("scale"), args.pop("order")
    messages = []
    for device in ("cpu", "gpu"):
        with pytest.raises(error) as info:
            ops.rescale(image, scale, order, device=device, **args)
        assert isinstance(info.value, (InputError, InputTypeError))
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    assert not emu.launches


# ---- on a device (CuPy) ----------------------------------------------------------------------


def _cpu_and_gpu(cp, image, scale, order, anti_aliasing=None):
    out = ops.rescale(cp.asarray(image), scale, order, anti_aliasing=anti_aliasing)
    assert type(out).__module__.split(".")[0] == "cupy"
    return out.get(), ops.rescale(image, scale, order, anti_aliasing=anti_aliasing, device="cpu")


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("shape", [(64, 64, 64), (97, 131, 75), (1, 301, 257)])
def test_device_order0(cp, rng, dtype, shape):
    image = sample(rng, shape, dtype, 0)
    for scale in (0.5, 2, 0.37, (1.5, 0.5, 1.0)):
        assert_same(*_cpu_and_gpu(cp, image, scale, 0))


@pytest.mark.gpu
@pytest.mark.parametrize("anti_aliasing", [None, True, False])
@pytest.mark.parametrize("dtype", ["uint8", "int16", "uint64", "float32", "float64"])
@pytest.mark.parametrize("order", [0, 1])
def test_device_smoothing_and_linear(cp, rng, dtype, order, anti_aliasing):
    image = sample(rng, (96, 128, 111), dtype, order)
    for scale in (0.5, 2, 0.3, (0.5, 1, 2)):
        assert_same(*_cpu_and_gpu(cp, image, scale, order, anti_aliasing))


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_device_keeps_subnormals(cp, rng, dtype):
    # CuPy compiles with -ftz=true: a float32 instruction anywhere in the path would flush
    # these to zero on the device and not on the CPU.
    info = np.finfo(dtype)
    tiny = np.array([info.smallest_subnormal, -info.smallest_subnormal, info.tiny / 3, -info.tiny / 7, 0], dtype)
    image = rng.choice(tiny, size=(40, 50, 60)) * rng.integers(1, 200, size=(40, 50, 60)).astype(dtype)
    assert (np.abs(image[image != 0]) < info.tiny).all()
    for order in (0, 1):
        for aa in (False, True):
            for scale in (0.5, 2, 0.7):
                gpu, cpu = _cpu_and_gpu(cp, image, scale, order, aa)
                assert_same(gpu, cpu)


@pytest.mark.gpu
def test_device_large_volumes(cp, rng):
    labels = rng.integers(0, 2**32 - 1, size=(256, 256, 256), dtype=np.uint32)
    for scale in (0.5, 2, 0.75):
        assert_same(*_cpu_and_gpu(cp, labels, scale, 0))
    ids = rng.integers(2**60, 2**64 - 1, size=(128, 128, 128), dtype=np.uint64)
    assert_same(*_cpu_and_gpu(cp, ids, 0.5, 0))
    probs = rng.random((256, 256, 256), dtype=np.float32)
    for scale in (0.5, 2, (0.5, 2, 1)):
        assert_same(*_cpu_and_gpu(cp, probs, scale, 1))


@pytest.mark.gpu
@pytest.mark.parametrize("layout", ["F", "strided"])
def test_device_layouts_and_host_round_trip(cp, rng, layout):
    base = rng.random((120, 90, 100)).astype(np.float32)
    image = np.asfortranarray(base) if layout == "F" else base[::2, 1:, ::3]
    gpu, cpu = _cpu_and_gpu(cp, image, 0.6, 1)
    assert_same(gpu, cpu)
    host = ops.rescale(image, 0.6, 1, device="gpu")
    assert_same(host, cpu)


@pytest.mark.gpu
@pytest.mark.slow
def test_device_more_than_2_31_voxels(cp):
    """64-bit indexing: 2.2 G voxels in, both scale directions of the output."""
    image = np.empty((1030, 1500, 1400), np.uint8)
    image[:] = (np.arange(1400) % 251).astype(np.uint8)
    image += (np.arange(1500) % 7).astype(np.uint8)[:, None]
    image += (np.arange(1030) % 13).astype(np.uint8)[:, None, None]
    assert_same(*_cpu_and_gpu(cp, image, 0.5, 0))
    assert_same(*_cpu_and_gpu(cp, image, 0.5, 1, anti_aliasing=False))
