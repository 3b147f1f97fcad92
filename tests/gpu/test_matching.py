"""match_instances with device="gpu" (overlap table on the GPU, matching on the host) gives
the CPU path's mapping and errors.

Emulated (default run): the overlap table comes from pycsc.gpu.overlaps in the host emulator.
Cases: random blocky instances of every dtype and layout, tied splits (the OR-Tools path),
the special cases ({0: 0}, {}), the ratio gate, the edge cap, negative ids and bad input. The
CPU path is the oracle (tests/ops/test_matching.py checks it against the official steps).
Marked ``gpu``: the same with CuPy input on a device.
"""

from __future__ import annotations

import numpy as np
import pytest

from pycsc import ops
from pycsc.errors import InputError, InputTypeError, TooManyInstancesError, TooManyOverlapEdgesError
from pycsc.gpu import labels as gpu_labels

ERRORS = (InputError, InputTypeError, TooManyInstancesError, TooManyOverlapEdgesError)


def outcome(truth, pred, device, **kwargs):
    try:
        return ops.match_instances(truth, pred, device=device, **kwargs)
    except ERRORS as exc:
        return type(exc), str(exc)


def compare(emu, truth, pred, **kwargs):
    emu.launches.clear()
    cpu = outcome(truth, pred, "cpu", **kwargs)
    gpu = outcome(truth, pred, "gpu", **kwargs)
    assert gpu == cpu
    if isinstance(gpu, dict):
        assert list(gpu) == list(cpu), "same key order (ascending prediction id)"
        assert all(type(k) is int and type(v) is int for k, v in gpu.items())
    return cpu


@pytest.fixture(autouse=True)
def short_spans(monkeypatch):
    monkeypatch.setattr(gpu_labels, "SPAN", 7)


def blocky(rng, shape, n_labels, dtype):
    """Random labels in 2-voxel blocks, so objects overlap partially."""
    labels = rng.integers(0, n_labels + 1, [(s + 1) // 2 for s in shape])
    for axis in range(len(shape)):
        labels = np.repeat(labels, 2, axis=axis)
    return labels[tuple(slice(0, s) for s in shape)].astype(dtype)


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "uint32", "uint64", "int16", "int32", "int64", "bool"])
@pytest.mark.parametrize("shape", [(1,), (7,), (1, 9), (6, 5), (4, 5, 6), (9, 8, 7)])
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_random_instances_equal_cpu(dtype, shape, layout, emu, rng):
    for n_truth, n_pred in [(5, 6), (12, 4), (30, 30)]:
        truth = blocky(rng, shape, n_truth, dtype)
        pred = blocky(rng, shape, n_pred, dtype)
        if layout == "F":
            truth, pred = np.asfortranarray(truth), np.asfortranarray(pred)
        elif layout == "strided":
            truth, pred = truth[..., ::-1], np.ascontiguousarray(pred)[::-1]
        result = compare(emu, truth, pred, final_instance_ratio_cutoff=1e9)
        if isinstance(result, dict) and result and result != {0: 0}:
            assert emu.launches


@pytest.mark.filterwarnings("ignore:match_instances. equally good")
def test_large_sparse_ids(emu, rng):
    truth = blocky(rng, (6, 8, 10), 20, np.uint64)
    pred = blocky(rng, (6, 8, 10), 20, np.uint64)
    truth[truth > 0] += np.uint64(2**40)  # far beyond the ratio gate's reach: it raises on both
    compare(emu, truth, pred)
    compare(emu, pred, truth)
    compare(emu, truth, pred, final_instance_ratio_cutoff=1e30)


@pytest.mark.parametrize("seed", range(4))
def test_tied_splits_take_the_official_path_on_both(seed, emu, tied_splits):
    truth, pred = tied_splits(np.random.default_rng(seed), 20 + 10 * seed)
    compare(emu, truth, pred)
    compare(emu, truth, pred, ties="native")


@pytest.mark.parametrize(
    "truth,pred",
    [
        (np.zeros(0, np.uint8), np.zeros(0, np.uint8)),
        (np.zeros((0, 3, 3), np.uint32), np.zeros((0, 3, 3), np.uint32)),
        (np.zeros((1, 1, 1), np.uint8), np.zeros((1, 1, 1), np.uint8)),
        (np.ones((1, 1, 1), np.uint8), np.zeros((1, 1, 1), np.uint8)),
        (np.zeros((2, 2), np.uint8), np.full((2, 2), 3, np.uint8)),
        (np.ones((3, 3), bool), np.eye(3, dtype=bool)),
        (np.array([[2]], np.uint16), np.array([[9]], np.uint16)),
        (np.array([[0, 0, 40]], np.uint32), np.array([[0, 1, 400]], np.uint32)),
        (np.array([[0, 0, 40]], np.uint32), np.array([[0, 1, 401]], np.uint32)),
        (np.array([[1, 0, 0]], np.uint8), np.array([[0, 0, 2]], np.uint8)),
    ],
    ids=["empty", "empty3d", "zeros", "truth-only", "pred-only", "bool", "one", "gate-pass", "gate-fail", "disjoint"],
)
def test_special_cases_equal_cpu(truth, pred, emu):
    compare(emu, truth, pred)


def test_edge_cap_equal_cpu(emu, rng):
    truth = blocky(rng, (6, 7, 8), 30, np.uint16)
    pred = blocky(rng, (6, 7, 8), 30, np.uint16)
    n_edges = ops.overlaps(truth, pred, device="cpu").counts.size
    assert isinstance(compare(emu, truth, pred, max_overlap_edges=n_edges - 1)[0], type)
    assert isinstance(compare(emu, truth, pred, max_overlap_edges=n_edges), dict)


@pytest.mark.parametrize(
    "truth,pred",
    [
        (np.array([[-1, 1]], np.int32), np.array([[1, 1]], np.int32)),
        (np.array([[1, 1]], np.int64), np.array([[1, -5]], np.int64)),
        (np.array([[-3, 1]], np.int8), np.array([[1, -5]], np.int16)),
        (np.array([[0, 0]], np.int8), np.array([[0, -5]], np.int16)),
    ],
)
def test_negative_ids_raise_like_cpu(truth, pred, emu):
    assert compare(emu, truth, pred)[0] is InputError


@pytest.mark.parametrize(
    "truth,pred",
    [
        (np.full((2, 2), 1.5, np.float32), np.ones((2, 2), np.uint8)),   # float truth, not whole ids
        (np.ones((2, 2), np.uint8), [[1, 1], [1, 1]]),
        (np.ones((2, 2), np.uint8), np.ones((2, 3), np.uint8)),
        (np.ones((1, 1, 1, 1), np.uint8), np.ones((1, 1, 1, 1), np.uint8)),
    ],
)
def test_bad_input_raises_the_same_error_type(truth, pred, emu):
    cpu, gpu = outcome(truth, pred, "cpu"), outcome(truth, pred, "gpu")
    assert isinstance(cpu, tuple) and isinstance(gpu, tuple) and gpu[0] is cpu[0]


# ---- on a device (pytest -m gpu) ---------------------------------------------------------


@pytest.mark.gpu
@pytest.mark.parametrize("n", [64, 192])
def test_on_device_equals_cpu(n, cp):
    rng = np.random.default_rng(n)
    truth = blocky(rng, (n, n, n), 3000, np.uint32)
    truth[rng.random(truth.shape) < 0.6] = 0
    pred = np.roll(truth, 1, axis=0)
    pred[(pred % 5 == 2) & (np.arange(n)[:, None, None] % 3 == 0)] += 5000
    want = ops.match_instances(truth, pred, device="cpu")
    assert ops.match_instances(cp.asarray(truth), cp.asarray(pred)) == want
    assert ops.match_instances(truth, pred, device="gpu") == want
    assert ops.match_instances(cp.asfortranarray(cp.asarray(truth)), cp.asfortranarray(cp.asarray(pred))) == \
        ops.match_instances(np.asfortranarray(truth), np.asfortranarray(pred), device="cpu")
