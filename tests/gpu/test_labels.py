"""GPU paths of unique, voxel_counts, bounding_boxes and remap give the CPU path's results.

Emulated (default run): the drivers of pycsc.gpu.labels and the kernels of labels.cu run in
the host emulator, on small volumes cut into short spans so that many threads share each
volume and its hash table. The CPU path is the oracle (tests/ops/test_labels.py checks it
against NumPy, fastremap and scipy). Marked ``gpu``: the same on a device with CuPy input.
"""

from __future__ import annotations

import numpy as np
import pytest

from pycsc import ops
from pycsc.errors import InputError
from pycsc.gpu import labels as gpu_labels

from _volumes import make_labels, outcome

DTYPES = ["uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "bool"]
SHAPES = [(0,), (0, 4), (1,), (1, 1, 1), (1, 40), (40, 1), (7, 13), (5, 6, 7), (3, 9, 31)]
LAYOUTS = ["C", "F", "strided"]


def assert_same(got, want) -> None:
    """Equal results: same types, dtypes, shapes, values and memory order; or the same error."""
    if isinstance(want, tuple) and want and isinstance(want[0], type):
        assert got == want
        return
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            assert_same(g, w)
        return
    assert isinstance(got, np.ndarray), type(got)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.flags.f_contiguous == want.flags.f_contiguous and got.flags.c_contiguous == want.flags.c_contiguous
    np.testing.assert_array_equal(got, want)


def both(fn, *args, **kwargs):
    return outcome(fn, *args, device="gpu", **kwargs), outcome(fn, *args, device="cpu", **kwargs)


@pytest.fixture(params=[3, 256], ids=["span3", "span256"])
def span(request, monkeypatch):
    monkeypatch.setattr(gpu_labels, "SPAN", request.param)
    return request.param


def id_modes(dtype: str) -> list[str]:
    return ["small", "max"] + (["negative"] if np.dtype(dtype).kind == "i" else [])


CASES = [(s, d, ids) for d in DTYPES for s in SHAPES for ids in id_modes(d)]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape,dtype,ids", CASES)
def test_value_counts_equal_cpu(shape, dtype, ids, layout, emu, span, rng):
    a = make_labels(shape, dtype, ids, layout, rng)
    emu.launches.clear()
    assert_same(*both(ops.unique, a, return_counts=True))
    assert_same(*both(ops.unique, a))
    assert_same(*both(ops.voxel_counts, a))
    assert emu.launches and {name for name, *_ in emu.launches} == {"value_count"}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape,dtype,ids", CASES)
def test_bounding_boxes_equal_cpu(shape, dtype, ids, layout, emu, span, rng):
    a = make_labels(shape, dtype, ids, layout, rng)
    emu.launches.clear()
    assert_same(*both(ops.bounding_boxes, a))
    assert any(name == "box_update" for name, *_ in emu.launches)


def mapping_for(a: np.ndarray, kind: str, rng) -> dict[int, int]:
    """{old: new} over some values of `a` plus absent keys; new values small, wide or negative."""
    present = [int(v) for v in np.unique(a)]
    keys = [v for v in present if rng.random() < 0.7] + [7, 2**40, -3]
    if kind == "small":
        new = rng.integers(0, 200, size=len(keys))
    elif kind == "wide":
        new = rng.integers(0, 2**40, size=len(keys))
    else:
        new = rng.integers(-(2**20), 2**20, size=len(keys))
    return {k: int(v) for k, v in zip(keys, new)}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("kind", ["small", "wide", "negative"])
@pytest.mark.parametrize("shape,dtype,ids", CASES[::2])
def test_remap_equal_cpu(shape, dtype, ids, kind, layout, emu, span, rng):
    a = make_labels(shape, dtype, ids, layout, rng)
    mapping = mapping_for(a, kind, rng)
    emu.launches.clear()
    gpu, cpu = both(ops.remap, a, mapping)
    assert_same(gpu, cpu)
    if isinstance(cpu, np.ndarray) and a.size:
        assert emu.launches
    assert_same(*both(ops.remap, a, mapping, preserve_missing=False))
    total = {int(v): int(v) + 1 for v in np.unique(a)}
    assert_same(*both(ops.remap, a, total, preserve_missing=False))
    keys = np.array(sorted(total), dtype=a.dtype if a.dtype != np.bool_ else np.uint8)
    assert_same(*both(ops.remap, a, (keys, keys[::-1].astype(np.int64))))


@pytest.mark.parametrize("dtype", ["uint8", "int16", "uint32", "int64"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_remap_reports_the_first_missing_value_in_memory_order(dtype, layout, emu, span, rng):
    a = make_labels((4, 5, 6), dtype, "small", layout, rng)
    a.flat[7] = 3
    a.flat[50] = 5
    gpu, cpu = both(ops.remap, a, {0: 0, 1: 1, 2: 2}, preserve_missing=False)
    assert cpu[0] is InputError
    assert gpu == cpu


def test_remap_bool_empty_mapping_and_empty_volume(emu):
    m = np.array([[True, False], [True, True]])
    assert_same(*both(ops.remap, m, {1: 9}))
    assert_same(*both(ops.remap, m, {}))
    assert_same(*both(ops.remap, np.zeros((0, 3), np.uint32), {1: 2}))
    assert_same(*both(ops.remap, np.zeros((0, 3), np.int64), {}, preserve_missing=False))


@pytest.mark.parametrize("dtype", ["uint16", "uint32", "uint64", "int64"])
def test_overflowing_tables_are_regrown(dtype, emu, monkeypatch, rng):
    monkeypatch.setattr(gpu_labels, "SPAN", 5)
    monkeypatch.setattr(gpu_labels, "MIN_CAPACITY", 2)
    a = rng.integers(0, 3000, size=(6, 7, 50)).astype(dtype)
    emu.launches.clear()
    assert_same(*both(ops.unique, a, return_counts=True))
    assert sum(name == "value_count" for name, *_ in emu.launches) > 1, "the first table must overflow"
    emu.launches.clear()
    assert_same(*both(ops.bounding_boxes, a))
    assert sum(name == "box_update" for name, *_ in emu.launches) > 1


@pytest.mark.parametrize(
    "fn,args",
    [(ops.unique, ()), (ops.voxel_counts, ()), (ops.bounding_boxes, ()), (ops.remap, ({1: 2},))],
)
@pytest.mark.parametrize(
    "bad",
    [np.zeros((2, 2, 2, 2), np.uint8), np.zeros(3, np.float32), np.uint8(3), [1, 2, 3]],
    ids=["4d", "float", "scalar", "list"],
)
def test_bad_input_raises_the_same_error_type(fn, args, bad, emu):
    gpu, cpu = both(fn, bad, *args)
    assert isinstance(cpu, tuple) and isinstance(gpu, tuple) and gpu[0] is cpu[0]


# ---- on a device (pytest -m gpu) ---------------------------------------------------------


def device_volumes(rng, n: int):
    ell = np.zeros((n, n, n), np.uint32)
    for i in range(1, 400):
        c = rng.integers(0, n, 3)
        r = rng.integers(2, max(3, n // 8), 3)
        sl = tuple(slice(max(0, ci - ri), ci + ri) for ci, ri in zip(c, r))
        ell[sl] = i
    yield "ellipsoids u32", ell
    yield "same, F order", np.asfortranarray(ell)
    yield "uint64 huge ids", np.where(ell > 0, ell.astype(np.uint64) + np.uint64(2**63), np.uint64(0))
    yield "int16", (ell % 3000).astype(np.int16)
    yield "uint8 noise", rng.integers(0, 256, (n, n, n // 2)).astype(np.uint8)
    yield "one big object", np.ones((n, n, n), np.uint16)
    yield "strided", ell[::2, 1:, ::-1]


def assert_same_on_device(cp, got, want):
    if isinstance(want, tuple):
        for g, w in zip(got, want):
            assert_same_on_device(cp, g, w)
        return
    assert isinstance(got, cp.ndarray)
    assert_same(got.get(), want)


@pytest.mark.gpu
@pytest.mark.parametrize("n", [64, 256])
def test_on_device_equal_cpu(n, cp, rng):
    for name, a in device_volumes(rng, n):
        d = cp.asarray(a)
        for fn, kw in [(ops.unique, {"return_counts": True}), (ops.voxel_counts, {}), (ops.bounding_boxes, {})]:
            assert_same_on_device(cp, fn(d, **kw), fn(a, device="cpu", **kw))
        mapping = {int(v): int(v) * 7 % 100003 for v in np.unique(a)[::2]}
        assert_same_on_device(cp, ops.remap(d, mapping), ops.remap(a, mapping, device="cpu"))
        assert_same(ops.remap(a, mapping, device="gpu"), ops.remap(a, mapping, device="cpu"))


@pytest.mark.gpu
def test_on_device_remap_missing_value(cp, rng):
    a = rng.integers(0, 50, (64, 64, 64)).astype(np.uint32)
    mapping = {v: v for v in range(50) if v != 17}
    with pytest.raises(InputError, match="value 17"):
        ops.remap(cp.asarray(a), mapping, preserve_missing=False)
