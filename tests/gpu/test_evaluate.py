"""`pycsc evaluate --device gpu` gives the CPU path's results exactly.

Emulated: every golden case is scored with the GPU drivers and kernels running in the host
emulator, and the public and extended results must equal the CPU run's (which
tests/eval/test_golden.py checks against the official scores). On a real GPU the same is
checked for the cases with instance classes.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from pycsc.eval import EvaluateConfig, evaluate

# The golden-case locator of tests/eval/conftest.py, loaded under its own name.
_spec = importlib.util.spec_from_file_location("_eval_conftest", Path(__file__).resolve().parents[1] / "eval" / "conftest.py")
_golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_golden)
GOLDEN, GOLDEN_CASES, submission_of = _golden.GOLDEN, _golden.GOLDEN_CASES, _golden.submission_of

needs_golden = pytest.mark.skipif(GOLDEN is None, reason="golden cases not found")
SCORED = [c for c in GOLDEN_CASES if json.loads((GOLDEN / c / "expected.json").read_text())["status"] != "error"]


def _scores(case: str, device: str):
    folder = GOLDEN / case
    ev = evaluate(submission_of(folder), folder / "truth.zarr", folder / "manifest.csv",
                  config=EvaluateConfig(progress=False, device=device))
    extended = {k: v for k, v in ev.extended.items() if k != "pycsc"}
    return ev, extended, ev.public


@needs_golden
@pytest.mark.parametrize("case", SCORED)
def test_golden_case_emulated_gpu_equals_cpu(case, emu):
    cpu, cpu_ext, cpu_pub = _scores(case, "cpu")
    emu.launches.clear()
    gpu, gpu_ext, gpu_pub = _scores(case, "gpu")
    assert gpu.run.device == "gpu" and cpu.run.device == "cpu"
    assert gpu_ext == cpu_ext
    assert gpu_pub == cpu_pub
    assert [r.status for r in gpu.results] == [r.status for r in cpu.results]
    if any(r.kind == "instance" and r.status == "scored" for r in gpu.results):
        assert emu.launches, "the instance labels must have run the GPU kernels"


@needs_golden
@pytest.mark.gpu
@pytest.mark.parametrize("case", SCORED)
def test_golden_case_on_gpu_equals_cpu(case, cp):
    _, cpu_ext, cpu_pub = _scores(case, "cpu")
    gpu, gpu_ext, gpu_pub = _scores(case, "gpu")
    assert gpu.run.device == "gpu"
    assert gpu_ext == cpu_ext and gpu_pub == cpu_pub


@needs_golden
def test_label_too_big_for_the_gpu_is_scored_on_the_cpu(emu, monkeypatch):
    from pycsc import ops

    oom = type("OutOfMemoryError", (MemoryError,), {"__module__": "cupy.cuda.memory"})
    real = ops.connected_components

    def failing(labels, connectivity=None, *, device="auto"):
        if device == "gpu":
            raise oom("Out of memory allocating 864,000,000 bytes")
        return real(labels, connectivity, device=device)

    monkeypatch.setattr(ops, "connected_components", failing)
    case = next(c for c in SCORED if c.startswith("g07"))
    cpu, cpu_ext, _ = _scores(case, "cpu")
    gpu, gpu_ext, _ = _scores(case, "gpu")
    assert gpu_ext == cpu_ext
    instance = [r for r in gpu.results if r.kind == "instance"]
    assert instance and all(r.stats.get("device") == "cpu" for r in instance)
    assert any("GPU out of memory" in w for w in gpu.warnings)


# ---- float32 subnormals: CuPy's kernels read them as zero ------------------------------------

def _subnormal_volume(rng, shape=(9, 10, 11)):
    """float32 with zeros, subnormals of both signs, normals and NaN."""
    tiny = np.finfo(np.float32).smallest_subnormal
    values = np.array([0, -0.0, tiny, -tiny, 37 * tiny, np.finfo(np.float32).tiny / 2, 0.25, 3, -2, np.nan],
                      np.float32)
    return rng.choice(values, size=shape)


def test_emulated_cupy_flushes_float32_subnormals(emu):
    # The trap itself, as the emulator reproduces it: a plain comparison on the device loses them.
    dev = emu.xp.asarray(np.array([np.finfo(np.float32).smallest_subnormal, 1], np.float32))
    assert (dev > 0).get().tolist() == [False, True]
    assert dev.astype(np.float64).get()[0] == 0.0
    assert emu.xp.sort(dev).get()[0] > 0  # sorting moves bits: kept


def test_semantic_counts_keep_subnormal_predictions(emu, rng):
    from pycsc.eval.semantic import semantic_counts

    pred = _subnormal_volume(rng)
    truth = rng.random(pred.shape) < 0.5
    want = semantic_counts(pred, truth)
    assert semantic_counts(emu.xp.asarray(pred), emu.xp.asarray(truth)) == want
    # and as truth, too (the official test is > 0 on both arrays)
    want = semantic_counts(truth, pred)
    assert semantic_counts(emu.xp.asarray(truth), emu.xp.asarray(pred)) == want


def test_float_instance_ids_with_subnormals_relabel_like_the_cpu(emu, rng):
    from pycsc.eval.instance import relabel

    pred = np.nan_to_num(_subnormal_volume(rng), nan=5.0)
    ids, n = relabel(pred, device="cpu")
    got, m = relabel(emu.xp.asarray(pred), device="gpu")
    assert m == n
    np.testing.assert_array_equal(got.get(), ids)
