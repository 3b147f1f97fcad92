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

import pytest

from pycsc.eval import EvaluateConfig, evaluate

# The golden-case locator of tests/eval/conftest.py, loaded under its own name.
_spec = importlib.util.spec_from_file_location("_eval_conftest", Path(__file__).resolve().parents[1] / "eval" / "conftest.py")
_golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_golden)
GOLDEN, GOLDEN_CASES, submission_of = _golden.GOLDEN, _golden.GOLDEN_CASES, _golden.submission_of

pytestmark = pytest.mark.skipif(GOLDEN is None, reason="golden cases not found")
SCORED = [c for c in GOLDEN_CASES if json.loads((GOLDEN / c / "expected.json").read_text())["status"] != "error"]


def _scores(case: str, device: str):
    folder = GOLDEN / case
    ev = evaluate(submission_of(folder), folder / "truth.zarr", folder / "manifest.csv",
                  config=EvaluateConfig(progress=False, device=device))
    extended = {k: v for k, v in ev.extended.items() if k != "pycsc"}
    return ev, extended, ev.public


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


@pytest.mark.gpu
@pytest.mark.parametrize("case", SCORED)
def test_golden_case_on_gpu_equals_cpu(case, cp):
    _, cpu_ext, cpu_pub = _scores(case, "cpu")
    gpu, gpu_ext, gpu_pub = _scores(case, "gpu")
    assert gpu.run.device == "gpu"
    assert gpu_ext == cpu_ext and gpu_pub == cpu_pub


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
