"""The GPU path of pycsc.ops.overlaps gives the CPU path's table.

Emulated (default run): pycsc.gpu.overlaps and overlaps.cu run in the host emulator on small
volumes cut into short spans (many threads per volume and per hash table), over every pair of
dtypes, layouts, small ids, ids at the top of the dtype, ids >= 2^32 (the ranked second pass)
and negative ids (rejected by both paths). The CPU path is the oracle (tests/ops checks it
against NumPy). Marked ``gpu``: the same on a device with CuPy input.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from pycsc import ops
from pycsc.errors import InputError
from pycsc.gpu import labels as gpu_labels

from _volumes import make_labels, outcome

DTYPES = ["uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "bool"]
SHAPES = [(0,), (0, 3), (1,), (1, 1, 1), (1, 45), (45, 1), (7, 13), (5, 6, 7), (4, 9, 23)]
LAYOUTS = [("C", "C"), ("F", "F"), ("C", "F"), ("strided", "C"), ("strided", "strided")]
FIELDS = ["truth_ids", "pred_ids", "counts", "truth_labels", "truth_sizes", "pred_labels", "pred_sizes"]


def assert_same_table(got, want) -> None:
    if isinstance(want, tuple):
        assert got == want
        return
    assert isinstance(got, ops.Overlaps)
    assert [f.name for f in dataclasses.fields(got)] == FIELDS
    for name in FIELDS:
        g, w = getattr(got, name), getattr(want, name)
        assert isinstance(g, np.ndarray) and g.dtype == w.dtype and g.shape == w.shape, name
        np.testing.assert_array_equal(g, w, err_msg=name)


def compare(truth, pred, emu) -> None:
    emu.launches.clear()
    want = outcome(ops.overlaps, truth, pred, device="cpu")
    got = outcome(ops.overlaps, truth, pred, device="gpu")
    assert_same_table(got, want)
    assert emu.launches and all(name.startswith("overlap_count_") for name, *_ in emu.launches)


@pytest.fixture(params=[4, 256], ids=["span4", "span256"])
def span(request, monkeypatch):
    monkeypatch.setattr(gpu_labels, "SPAN", request.param)
    return request.param


def id_modes(dtype: str) -> list[str]:
    return ["small", "max"] + (["negative"] if np.dtype(dtype).kind == "i" else [])


@pytest.mark.parametrize("layout", LAYOUTS, ids="/".join)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype,ids", [(d, i) for d in DTYPES for i in id_modes(d)])
def test_same_dtype_equals_cpu(dtype, ids, shape, layout, emu, span, rng):
    truth = make_labels(shape, dtype, ids, layout[0], rng)
    pred = make_labels(shape, dtype, ids, layout[1], rng)
    compare(truth, pred, emu)


PAIRS = [(a, b) for a, b in itertools.product(DTYPES, DTYPES) if a != b]


@pytest.mark.parametrize("ids", ["small", "max"])
@pytest.mark.parametrize("truth_dtype,pred_dtype", PAIRS)
def test_mixed_dtypes_equal_cpu(truth_dtype, pred_dtype, ids, emu, span, rng):
    for shape, layout in [((6, 7, 8), ("C", "C")), ((5, 33), ("F", "F")), ((3, 4, 25), ("strided", "F"))]:
        truth = make_labels(shape, truth_dtype, ids, layout[0], rng)
        pred = make_labels(shape, pred_dtype, ids, layout[1], rng)
        compare(truth, pred, emu)


@pytest.mark.parametrize("truth_dtype,pred_dtype", [("int32", "uint8"), ("uint8", "int64"), ("int8", "int8")])
def test_negative_ids_raise_like_cpu(truth_dtype, pred_dtype, emu, rng):
    truth = make_labels((5, 6, 7), truth_dtype, "small", "C", rng)
    pred = make_labels((5, 6, 7), pred_dtype, "small", "C", rng)
    if np.dtype(pred_dtype).kind == "i":
        pred.flat[100] = -2
        compare(truth, pred, emu)
    if np.dtype(truth_dtype).kind == "i":
        truth.flat[3] = -1
        compare(truth, pred, emu)


def test_wide_ids_take_the_ranked_pass(emu, monkeypatch, rng):
    monkeypatch.setattr(gpu_labels, "SPAN", 6)
    truth = make_labels((6, 7, 40), "uint64", "max", "C", rng)
    pred = make_labels((6, 7, 40), "uint32", "small", "C", rng)
    compare(truth, pred, emu)
    assert any(name.startswith("overlap_count_ranked_") for name, *_ in emu.launches)
    compare(pred, truth, emu)
    assert any(name.startswith("overlap_count_ranked_") for name, *_ in emu.launches)


@pytest.mark.parametrize("dtypes", [("uint16", "uint32"), ("uint32", "uint32"), ("uint64", "uint64")])
def test_overflowing_tables_are_regrown(dtypes, emu, monkeypatch, rng):
    monkeypatch.setattr(gpu_labels, "SPAN", 5)
    monkeypatch.setattr(gpu_labels, "MIN_CAPACITY", 2)
    truth = rng.integers(0, 400, size=(6, 7, 40)).astype(dtypes[0])
    pred = rng.integers(0, 300, size=(6, 7, 40)).astype(dtypes[1])
    if dtypes[0] == "uint64":
        truth[truth > 0] += np.uint64(2**40)  # wide ids: the ranked pass regrows its table too
    compare(truth, pred, emu)
    assert len(emu.launches) > 2, "the first tables must overflow"


@pytest.mark.parametrize(
    "truth,pred",
    [
        (np.zeros((2, 3), np.uint8), np.zeros((3, 2), np.uint8)),
        (np.zeros((2, 2, 2, 2), np.uint8), np.zeros((2, 2, 2, 2), np.uint8)),
        (np.zeros(4, np.float32), np.zeros(4, np.uint8)),
        (np.zeros(4, np.uint8), np.zeros(4, np.float64)),
        ([1, 2], np.zeros(2, np.uint8)),
    ],
    ids=["shape", "4d", "float-truth", "float-pred", "list"],
)
def test_bad_input_raises_the_same_error_type(truth, pred, emu):
    cpu = outcome(ops.overlaps, truth, pred, device="cpu")
    gpu = outcome(ops.overlaps, truth, pred, device="gpu")
    assert isinstance(cpu, tuple) and isinstance(gpu, tuple) and gpu[0] is cpu[0]


# ---- on a device (pytest -m gpu) ---------------------------------------------------------


def ellipsoids(n: int, count: int, rng, dtype=np.uint32) -> np.ndarray:
    lab = np.zeros((n, n, n), dtype)
    for i in range(1, count + 1):
        c, r = rng.uniform(0, n, 3), rng.uniform(2, max(3, n / 10), 3)
        lo, hi = np.maximum((c - r).astype(int), 0), np.minimum((c + r).astype(int) + 1, n)
        zz, yy, xx = np.ogrid[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
        m = ((zz - c[0]) / r[0]) ** 2 + ((yy - c[1]) / r[1]) ** 2 + ((xx - c[2]) / r[2]) ** 2 <= 1
        lab[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]][m] = i
    return lab


def device_pairs(rng, n: int):
    truth = ellipsoids(n, 300, rng)
    pred = np.roll(truth, 2, axis=2)
    pred[pred % 7 == 3] += 1000
    yield "u32/u32", truth, pred
    yield "u32/u16 F", np.asfortranarray(truth), np.asfortranarray(pred.astype(np.uint16))
    wide = np.where(truth > 0, truth.astype(np.uint64) + np.uint64(2**40), np.uint64(0))
    yield "u64 wide/u8", wide, (pred % 251).astype(np.uint8)
    yield "one object", np.ones_like(truth), np.ones_like(pred)
    yield "strided", truth[::2, ::-1], pred[1::2]


@pytest.mark.gpu
@pytest.mark.parametrize("n", [64, 256])
def test_on_device_equals_cpu(n, cp, rng):
    for name, truth, pred in device_pairs(rng, n):
        want = ops.overlaps(truth, pred, device="cpu")
        got = ops.overlaps(cp.asarray(truth), cp.asarray(pred))
        for field in FIELDS:
            assert isinstance(getattr(got, field), cp.ndarray), (name, field)
        host = dataclasses.replace(got, **{f: getattr(got, f).get() for f in FIELDS})
        assert_same_table(host, want)
        assert_same_table(ops.overlaps(truth, pred, device="gpu"), want)


@pytest.mark.gpu
def test_on_device_negative_ids(cp):
    truth = cp.zeros((32, 32, 32), cp.int32)
    truth[3, 4, 5] = -7
    with pytest.raises(InputError, match="`truth` holds negative ids"):
        ops.overlaps(truth, cp.ones((32, 32, 32), cp.uint8))
