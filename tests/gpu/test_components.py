"""GPU path of pycsc.ops.connected_components: the same ids, dtype and count as the CPU path
(itself checked against cc3d and scipy in tests/ops/test_components.py).

Emulated tests (fixture ``emu``) run the driver and the CUDA kernels on the host, blocks in a
shuffled order; the ``gpu``-marked tests (fixture ``cp``) repeat the comparisons with CuPy on a
device, at sizes where many threads really race on the union-find.
"""

from __future__ import annotations

import ctypes
import subprocess

import numpy as np
import pytest
from _emulator import EmulatedBackend, compiler, emulating
from scipy import ndimage as ndi

from pycsc import ops
from pycsc.errors import InputError, InputTypeError
from pycsc.gpu import _runtime
from pycsc.gpu import components as gpu_components

DTYPES = ["bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64"]
CONN = {2: (4, 8), 3: (6, 18, 26)}
ALL_CONN = [(2, c) for c in CONN[2]] + [(3, c) for c in CONN[3]]


def random_labels(rng, shape, dtype, n_values=3, fg=0.4):
    """About `fg` foreground with `n_values` values, including the dtype's extremes (max,
    and min for signed types) so every bit of the width takes part in the comparisons."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) < fg
    info = np.iinfo(dtype)
    pool = np.array([info.max, info.min if info.min < 0 else info.max - 1, 1, 2, 3][:max(n_values, 1)],
                    dtype=dtype)
    a = pool[rng.integers(0, len(pool), shape)]
    a[rng.random(shape) >= fg] = 0
    return a


def blobs(rng, shape, n_values, sigma=1.5, fg=0.3):
    """Smooth blobs (long runs, objects across many rows and slices); with n_values > 1 the
    value changes along diagonal stripes, so objects of different values touch."""
    f = ndi.gaussian_filter(rng.standard_normal(shape), sigma)
    mask = f > np.quantile(f, 1 - fg)
    stripes = np.indices(shape).sum(axis=0) // 7 % n_values + 1
    return np.where(mask, stripes, 0)


def spiral(n):
    """A one-voxel-wide square spiral with one-voxel gaps in an n x n image: a single path
    whose raster-first voxel reaches its far end only through ~n^2/2 voxels."""
    a = np.zeros((n, n), np.uint8)
    y = x = d = 0
    a[0, 0] = 1
    steps = [(0, 1), (1, 0), (0, -1), (-1, 0)]
    for length in [n - 1] + [k for k in range(n - 1, 0, -2) for _ in (0, 1)]:
        dy, dx = steps[d % 4]
        for _ in range(length):
            y, x = y + dy, x + dx
            a[y, x] = 1
        d += 1
    return a


def serpentine(shape, values=(1,)):
    """A 3D snake: every other row filled, rows joined at alternating ends, slices joined at
    alternating corners; with two values a second snake interleaves in the gaps of the first."""
    sz, sy, sx = shape
    a = np.zeros(shape, np.int32)
    for z in range(0, sz, 2):
        for y in range(0, sy, 2):
            a[z, y, :] = values[0]
            if y + 2 < sy:
                a[z, y + 1, sx - 1 if (y // 2) % 2 == 0 else 0] = values[0]
        if z + 1 < sz:
            a[z + 1, sy - 1 if sy % 2 else sy - 2, 0] = values[0]
    if len(values) > 1:
        a[(a == 0) & (np.indices(shape)[1] % 2 == 1)] = values[1]
    return a


def comb(shape, along_y=True):
    """Teeth joined only by a bar at their far end: every tooth is its own tree until the
    last row unites them all."""
    a = np.zeros(shape, np.uint16)
    if along_y:
        a[..., :, ::2] = 5
        a[..., -1, :] = 5
    else:
        a[..., ::2, :] = 5
        a[..., :, -1] = 5
    return a


def both(emu, a, connectivity):
    """(gpu ids, gpu n, cpu ids, cpu n); checks the GPU path launched its kernels."""
    emu.launches.clear()
    ids, n = ops.connected_components(a, connectivity, device="gpu")
    ref_ids, ref_n = ops.connected_components(a, connectivity, device="cpu")
    assert emu.launches or a.size == 0
    return ids, n, ref_ids, ref_n


def assert_same(emu, a, connectivity, wide=False):
    ids, n, ref_ids, ref_n = both(emu, a, connectivity)
    assert type(ids) is np.ndarray and ids.shape == a.shape
    assert ids.dtype == (np.uint64 if wide else ref_ids.dtype)
    assert type(n) is int and n == ref_n
    np.testing.assert_array_equal(ids, ref_ids)


@pytest.fixture
def short_segments(monkeypatch):
    """Column segments of a few rows, so small inputs have seams between threads."""
    def use(rows):
        monkeypatch.setattr(gpu_components, "SEGMENT_ROWS", rows)
    return use


# ---- emulated --------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ndim,connectivity", ALL_CONN)
def test_dtypes_and_extreme_values(emu, rng, dtype, ndim, connectivity):
    shape = (7, 13, 5) if ndim == 3 else (17, 23)
    for fg in (0.2, 0.6, 1.0):
        assert_same(emu, random_labels(rng, shape, dtype, fg=fg), connectivity)
    assert {"ccl_init", "ccl_merge", "ccl_compress", "ccl_number"} <= {k for k, _, _ in emu.launches}


@pytest.mark.parametrize("ndim,connectivity", ALL_CONN)
@pytest.mark.parametrize("n_values", [1, 4])
def test_blobs(emu, rng, ndim, connectivity, n_values):
    shape = (19, 33, 45) if ndim == 3 else (97, 131)
    assert_same(emu, blobs(rng, shape, n_values).astype(np.uint16), connectivity)


@pytest.mark.parametrize("ndim,connectivity", ALL_CONN)
def test_noise_at_percolation_density(emu, rng, ndim, connectivity):
    shape = (20, 21, 22) if ndim == 3 else (90, 97)
    for fg in (0.3, 0.5, 0.7):
        assert_same(emu, rng.random(shape) < fg, connectivity)


@pytest.mark.parametrize(
    "shape",
    [(0, 5, 5), (5, 0, 5), (5, 5, 0), (0, 0), (0, 4), (1, 1, 1), (1, 1), (1, 40), (40, 1),
     (1, 1, 40), (40, 1, 1), (1, 40, 1), (2, 3, 4), (7, 13, 5), (3, 5, 71), (1, 3, 129), (33, 2, 3)],
)
@pytest.mark.parametrize("fg", [0.0, 0.3, 1.0])
def test_shapes(emu, rng, shape, fg):
    a = random_labels(rng, shape, np.uint8, n_values=2, fg=fg)
    for c in CONN[len(shape)]:
        assert_same(emu, a, c)


def test_empty_launches_nothing(emu):
    ids, n = ops.connected_components(np.zeros((0, 5, 5), np.uint8), device="gpu")
    assert ids.shape == (0, 5, 5) and ids.dtype == np.uint32 and n == 0 and not emu.launches


@pytest.mark.parametrize("connectivity", CONN[2])
def test_spirals_2d(emu, short_segments, connectivity):
    for n, rows in [(41, 32), (40, 3), (23, 1)]:
        short_segments(rows)
        a = spiral(n)
        assert_same(emu, a, connectivity)
        assert_same(emu, np.ascontiguousarray(a.T), connectivity)
        assert_same(emu, a[::-1, ::-1], connectivity)


@pytest.mark.parametrize("connectivity", CONN[3])
def test_snakes_and_combs_3d(emu, short_segments, connectivity):
    for rows in (32, 2):
        short_segments(rows)
        for shape in [(5, 9, 11), (6, 10, 7)]:
            assert_same(emu, serpentine(shape), connectivity)
            assert_same(emu, serpentine(shape, (3, -3)), connectivity)
            assert_same(emu, serpentine(shape)[::-1, ::-1, ::-1], connectivity)
            assert_same(emu, comb(shape, along_y=True), connectivity)
            assert_same(emu, comb(shape, along_y=False), connectivity)


@pytest.mark.parametrize("rows", [1, 2, 3, 5])
@pytest.mark.parametrize("ndim,connectivity", ALL_CONN)
def test_seams_between_column_segments(emu, rng, short_segments, rows, ndim, connectivity):
    short_segments(rows)
    shape = (6, 17, 9) if ndim == 3 else (23, 19)
    assert_same(emu, blobs(rng, shape, 2, sigma=1.0, fg=0.5).astype(np.int8), connectivity)
    assert_same(emu, random_labels(rng, shape, np.uint32, n_values=2, fg=0.6), connectivity)


@pytest.mark.parametrize("dtype", ["uint16", "uint32", "uint64", "int16", "int32", "int64"])
def test_values_differing_only_in_high_bytes_stay_apart(emu, rng, dtype):
    bits = np.dtype(dtype).itemsize * 8
    top = 1 << (bits - 2)
    pool = np.array([1, 1 + 256, top, top + 1, 256, -1 if np.dtype(dtype).kind == "i" else 3])
    a = pool[rng.integers(0, len(pool), (6, 9, 30))].astype(dtype)
    a[rng.random(a.shape) < 0.2] = 0
    for c in CONN[3]:
        assert_same(emu, a, c)


@pytest.mark.parametrize("layout", ["F", "strided", "reversed", "transposed"])
@pytest.mark.parametrize("ndim", [2, 3])
def test_memory_layouts_number_in_c_raster(emu, rng, layout, ndim):
    base = blobs(rng, (12, 17, 40) if ndim == 3 else (41, 53), 3).astype(np.int32)
    views = {
        "F": np.asfortranarray(base),
        "strided": base[::2, 1::3] if ndim == 2 else base[::2, 1::3, ::2],
        "reversed": base[::-1, ..., ::-1],
        "transposed": base.T,
    }
    for c in CONN[ndim]:
        assert_same(emu, views[layout], c)


def test_non_native_byte_order(emu, rng):
    a = random_labels(rng, (5, 6, 7), np.uint32)
    ids, n, ref_ids, ref_n = both(emu, a.astype(">u4"), 26)
    assert n == ref_n
    np.testing.assert_array_equal(ids, ref_ids)


@pytest.mark.parametrize("ndim,connectivity", ALL_CONN)
def test_uint64_index_kernels(emu, rng, monkeypatch, short_segments, ndim, connectivity):
    # Volumes above 2**32 - 1 voxels run the IDX_T=u64 builds; too big here, so force them.
    monkeypatch.setattr(gpu_components, "FORCE_WIDE_IDS", True)
    short_segments(4)
    shape = (9, 17, 13) if ndim == 3 else (41, 37)
    for dtype in ("bool", "uint8", "int16", "uint32", "int64"):
        assert_same(emu, random_labels(rng, shape, dtype, fg=0.55), connectivity, wide=True)


@pytest.mark.parametrize("order", ["forward", "reverse"])
def test_block_order_does_not_matter(rng, short_segments, order):
    # The emu fixture shuffles blocks; here blocks run first to last and last to first.
    backend = EmulatedBackend(order=order)
    short_segments(3)
    with emulating(backend):
        for ndim, c in ALL_CONN:
            shape = (9, 11, 13) if ndim == 3 else (37, 29)
            for a in (blobs(rng, shape, 3, sigma=1.0, fg=0.5), rng.random(shape) < 0.5):
                assert_same(backend, a, c)


def test_random_fuzz(emu, short_segments):
    rng = np.random.default_rng(2024)
    for _ in range(80):
        ndim = int(rng.integers(2, 4))
        shape = tuple(int(s) for s in rng.integers(1, 15, ndim))
        dtype = DTYPES[int(rng.integers(len(DTYPES)))]
        short_segments(int(rng.integers(1, 6)))
        a = random_labels(rng, shape, dtype, n_values=int(rng.integers(1, 4)), fg=rng.random())
        for c in CONN[ndim]:
            assert_same(emu, a, c)


def test_default_connectivity_is_full(emu, rng):
    for shape in [(6, 7, 8), (16, 17)]:
        a = random_labels(rng, shape, np.uint8)
        ids, n, ref_ids, ref_n = both(emu, a, None)
        assert n == ref_n
        np.testing.assert_array_equal(ids, ref_ids)


@pytest.mark.parametrize(
    "labels,connectivity,error,match",
    [
        (np.zeros((3, 3, 3), np.float32), 26, TypeError, "labels"),
        (np.zeros((3, 3, 3), object), 26, TypeError, "labels"),
        ([[1, 0], [0, 1]], 4, InputTypeError, "labels"),
        (np.zeros((5,), np.uint8), None, ValueError, "labels"),
        (np.zeros((2, 2, 2, 2), np.uint8), None, ValueError, "labels"),
        (np.zeros((4, 4), np.uint8), 6, InputError, "`connectivity` must be 4 or 8"),
        (np.zeros((3, 3, 3), np.uint8), 8, InputError, "`connectivity` must be 6, 18 or 26"),
        (np.zeros((3, 3, 3), np.uint8), 26.0, InputError, "`connectivity` must be 6, 18 or 26"),
        (np.zeros((3, 3, 3), np.uint8), True, InputError, "`connectivity` must be 6, 18 or 26"),
    ],
)
def test_bad_input_raises_like_the_cpu_path(emu, labels, connectivity, error, match):
    for device in ("gpu", "cpu"):
        with pytest.raises(error, match=match):
            ops.connected_components(labels, connectivity, device=device)
    assert not emu.launches


def test_bad_device(emu):
    with pytest.raises(ValueError, match="device"):
        ops.connected_components(np.zeros((2, 2), np.uint8), device="cuda")


# ---- real concurrency on the host ------------------------------------------------------------

# The emulator runs one GPU thread at a time. This harness runs the same kernels with blocks
# spread over several OS threads at once and real compare-and-swap, so unions truly race
# (failed CAS counted to show they did). Plain loads and stores of `parent` from several
# threads are formally a data race in C++; aligned words on x86 behave as on the GPU.
HARNESS = r"""
#include <atomic>
#include <thread>
#include <vector>
#define __global__
#define __device__
#define __forceinline__ inline
struct uint3 { unsigned x, y, z; };
struct dim3 { unsigned x, y, z; };
thread_local uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;
std::atomic<unsigned long long> cas_failed{0};
template <class T, class U, class V> T atomicCAS(T* p, U cmp, V v) {
  T seen = (T)cmp;
  if (!__atomic_compare_exchange_n(p, &seen, (T)v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    cas_failed.fetch_add(1);
    std::this_thread::yield();
  }
  return seen;
}
template <class T, class U> T atomicOr(T* p, U v) { return __atomic_fetch_or(p, (T)v, __ATOMIC_SEQ_CST); }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __float_as_int(float f) { int x; __builtin_memcpy(&x, &f, 4); return x; }
template <class F> void launch(unsigned long long items, unsigned block, int workers, F body) {
  gridDim = {unsigned((items + block - 1) / block), 1, 1};
  blockDim = {block, 1, 1};
  std::atomic<unsigned> next{0};
  std::vector<std::thread> pool;
  for (int w = 0; w < workers; ++w)
    pool.emplace_back([&] {
      for (unsigned b; (b = next.fetch_add(1)) < gridDim.x;) {
        blockIdx = {b, 0, 0};
        for (unsigned t = 0; t < block; ++t) { threadIdx = {t, 0, 0}; body(); }
      }
    });
  for (auto& t : pool) t.join();
}
#include "kernel.cu"
extern "C" unsigned long long run(const u8* labels, u32* ids, u32* roots, u32* ends, u64 sz,
                                  u64 sy, u64 sx, u32 conn, u64 seg, unsigned block, int workers) {
  const u64 n = sz * sy * sx, words = (n + 31) / 32;
  const u64 columns = (sy + seg - 1) / seg * sz * sx;
  launch(columns, block, workers, [&] { ccl_init(labels, ids, sz, sy, sx, seg); });
  launch(columns, block, workers, [&] { ccl_merge(labels, ids, sz, sy, sx, seg, conn); });
  launch(n, block, workers, [&] { ccl_compress(ids, roots, n); });
  launch(words, block, workers, [&] { ccl_count_roots(roots, ends, words); });
  for (u64 w = 1; w < words; ++w) ends[w] += ends[w - 1];
  launch(n, block, workers, [&] { ccl_number(ids, roots, ends, n); });
  return cas_failed.load();
}
"""


@pytest.fixture(scope="module")
def racing_kernels(tmp_path_factory):
    if compiler() is None:
        pytest.skip("no C++ compiler")
    folder = tmp_path_factory.mktemp("ccl_race")
    text = _runtime.load_source(gpu_components.SOURCE).replace("#pragma once", "")
    # CCL_NARROW_LIMIT 0: the 64-bit index arithmetic otherwise reached only at 2^32 columns.
    defines = "#define VAL_T u8\n#define IDX_T u32\n#define CCL_NARROW_LIMIT 0\n"
    (folder / "kernel.cu").write_text(defines + text)
    (folder / "harness.cpp").write_text(HARNESS)
    so = folder / "harness.so"
    subprocess.run([compiler(), "-std=c++17", "-O1", "-fPIC", "-shared", "-pthread", f"-I{folder}",
                    str(folder / "harness.cpp"), "-o", str(so)], check=True, capture_output=True)
    lib = ctypes.CDLL(str(so))
    lib.run.restype = ctypes.c_ulonglong
    lib.run.argtypes = [ctypes.c_void_p] * 4 + [ctypes.c_uint64] * 3 + [ctypes.c_uint32, ctypes.c_uint64,
                                                                        ctypes.c_uint, ctypes.c_int]
    return lib


def test_unions_racing_on_host_threads(racing_kernels, rng, record_property):
    # Whether the threads actually collide depends on the scheduler: on one busy core they may
    # never do. Correctness is asserted; the number of failed CAS is reported, never required.
    failed_cas = 0
    for shape, conns in [((40, 48, 48), CONN[3]), ((1, 300, 300), (4, 8))]:
        for a in (rng.random(shape) < 0.55, blobs(rng, shape, 3, sigma=2.0, fg=0.5)):
            a = np.ascontiguousarray(a, np.uint8)
            for c in conns:
                for seg, block in [(1, 1), (7, 4), (32, 32)]:
                    ids = np.empty(shape, np.uint32)
                    roots = np.zeros(-(-a.size // 32), np.uint32)
                    ends = np.empty_like(roots)
                    failed_cas += racing_kernels.run(a.ctypes.data, ids.ctypes.data, roots.ctypes.data,
                                                     ends.ctypes.data, *shape, c, seg, block, 6)
                    view = a[0] if shape[0] == 1 else a
                    ref_ids, ref_n = ops.connected_components(view, c, device="cpu")
                    assert int(ends[-1]) == ref_n, (shape, c, seg, block)
                    np.testing.assert_array_equal(ids.reshape(ref_ids.shape), ref_ids)
    record_property("failed_cas", failed_cas)


# ---- on a device -----------------------------------------------------------------------------


def device_same(cp, a, connectivity, **kw):
    ids, n = ops.connected_components(cp.asarray(a), connectivity, **kw)
    ref_ids, ref_n = ops.connected_components(cp.asnumpy(cp.asarray(a)), connectivity, device="cpu")
    assert isinstance(ids, cp.ndarray) and ids.dtype == ref_ids.dtype and ids.shape == a.shape
    assert type(n) is int and n == ref_n
    np.testing.assert_array_equal(cp.asnumpy(ids), ref_ids)


@pytest.mark.gpu
@pytest.mark.parametrize("ndim,connectivity", ALL_CONN)
@pytest.mark.parametrize("n_values", [1, 5])
def test_device_blobs(cp, rng, ndim, connectivity, n_values):
    shape = (128, 160, 192) if ndim == 3 else (1500, 1700)
    device_same(cp, blobs(rng, shape, n_values, sigma=3.0, fg=0.4).astype(np.uint32), connectivity)


@pytest.mark.gpu
@pytest.mark.parametrize("ndim,connectivity", ALL_CONN)
def test_device_noise_repeats_identically(cp, rng, ndim, connectivity):
    # Percolating noise makes huge trees with many threads hooking at once; run it thrice.
    shape = (96, 100, 104) if ndim == 3 else (1200, 1300)
    for fg in (0.3, 0.5):
        a = rng.random(shape) < fg
        for _ in range(3):
            device_same(cp, a, connectivity)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", DTYPES)
def test_device_dtypes(cp, rng, dtype):
    for c in CONN[3]:
        device_same(cp, random_labels(rng, (64, 70, 75), dtype, fg=0.6), c)


@pytest.mark.gpu
def test_device_long_paths(cp):
    a = spiral(1001)
    for c in CONN[2]:
        device_same(cp, a, c)
        device_same(cp, np.ascontiguousarray(a.T), c)
    for c in CONN[3]:
        device_same(cp, serpentine((64, 97, 101), (1, 2)), c)
        device_same(cp, comb((40, 256, 256), along_y=True), c)
        device_same(cp, comb((40, 256, 256), along_y=False), c)


@pytest.mark.gpu
def test_device_full_and_empty_volumes(cp):
    for a in (np.ones((256, 256, 256), np.uint8), np.zeros((200, 201, 202), np.uint8)):
        for c in CONN[3]:
            device_same(cp, a, c)


@pytest.mark.gpu
def test_device_layouts_and_host_round_trip(cp, rng):
    base = blobs(rng, (80, 90, 100), 3).astype(np.int16)
    d = cp.asarray(base)
    for view in (cp.asfortranarray(d), d[::2, 1::3, ::-1], d.T):
        device_same(cp, cp.asnumpy(view), 26)
        ids, n = ops.connected_components(view, 26)
        ref_ids, ref_n = ops.connected_components(cp.asnumpy(view), 26, device="cpu")
        assert n == ref_n
        np.testing.assert_array_equal(cp.asnumpy(ids), ref_ids)
    ids, n = ops.connected_components(base, 18, device="gpu")
    ref_ids, ref_n = ops.connected_components(base, 18, device="cpu")
    assert type(ids) is np.ndarray and n == ref_n
    np.testing.assert_array_equal(ids, ref_ids)


@pytest.mark.gpu
def test_device_uint64_index_kernels(cp, rng, monkeypatch):
    monkeypatch.setattr(gpu_components, "FORCE_WIDE_IDS", True)
    a = blobs(rng, (64, 96, 128), 3, sigma=2.0, fg=0.5).astype(np.uint8)
    for c in CONN[3]:
        ids, n = ops.connected_components(cp.asarray(a), c)
        ref_ids, ref_n = ops.connected_components(a, c, device="cpu")
        assert ids.dtype == np.uint64 and n == ref_n
        np.testing.assert_array_equal(cp.asnumpy(ids), ref_ids)
