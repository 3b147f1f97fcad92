"""Peak memory: one 600^3 instance label (uint32 truth and prediction, ~3 000 objects) scores
within 8 GB. Slow (builds 1.7 GB of arrays): ``pytest -m slow tests/eval/test_memory.py``."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from pycsc.eval import EvaluateConfig, evaluate

from .conftest import REPO, grid, write_array, write_manifest

LIMIT_BYTES = 8 * 10 ** 9


def _labels(n, count, seed):
    rng = np.random.default_rng(seed)
    lab = np.zeros((n, n, n), np.uint32)
    for i in range(1, count + 1):
        c = rng.integers(6, n - 6, 3)
        r = rng.integers(2, 6, 3)
        lab[c[0] - r[0]:c[0] + r[0], c[1] - r[1]:c[1] + r[1], c[2] - r[2]:c[2] + r[2]] = i
    return lab


@pytest.mark.slow
def test_600_cubed_instance_label_peak_memory(tmp_path):
    n = 600
    truth = _labels(n, 3000, 1)
    write_array(tmp_path / "truth.zarr" / "crop1" / "mito", truth, grid(), chunks=(128, 128, 128))
    pred = np.roll(truth, 1, axis=0)
    del truth
    write_array(tmp_path / "sub.zarr" / "crop1" / "mito", pred, grid(), chunks=(128, 128, 128))
    del pred
    write_manifest(tmp_path / "m.csv", [(1, "mito", (8.0,) * 3, (0.0,) * 3, (n, n, n))])
    code = textwrap.dedent(f"""
        import resource, sys
        from pycsc.eval import EvaluateConfig, evaluate
        ev = evaluate({str(tmp_path / 'sub.zarr')!r}, {str(tmp_path / 'truth.zarr')!r}, {str(tmp_path / 'm.csv')!r},
                      config=EvaluateConfig(progress=False, workers=1))
        assert ev.exit_code == 0, ev.errors
        print(ev.extended["crop1"]["mito"]["tp"], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    tp, peak = (int(v) for v in out.stdout.split())
    assert tp > 2000
    print(f"600^3 instance label: tp {tp}, peak RSS {peak / 1e9:.2f} GB")
    assert peak < LIMIT_BYTES, f"peak RSS {peak / 1e9:.2f} GB"


def test_large_labels_alone_then_the_rest_in_a_pool(small_case, monkeypatch):
    """A label too large to share memory runs alone; the small ones still get a pool."""
    from pycsc.eval import runner

    truth, sub, manifest = small_case
    cfg = EvaluateConfig(progress=False, small_job_voxels=0)
    one = evaluate(sub, truth, manifest, config=EvaluateConfig(progress=False, workers=1))
    monkeypatch.setattr(runner, "cpu_count", lambda: 2)
    monkeypatch.setattr(runner, "memory_budget", lambda limit, fraction: 300_000)  # mito ~221 kB, ecs ~55 kB
    ev = evaluate(sub, truth, manifest, config=cfg)
    assert ev.run.workers == 1  # two ecs labels: too few for two workers (three per worker)
    assert {(r.crop, r.label): r.record for r in ev.results} == {(r.crop, r.label): r.record for r in one.results}
    monkeypatch.setattr(runner, "plan_workers", lambda requested, n, peak, budget, cpus:
                        (1, 2) if peak > 150_000 else (2, 1))
    ev = evaluate(sub, truth, manifest, config=cfg)
    assert ev.run.workers == 2
    pids = {(r.crop, r.label): r.stats["pid"] for r in ev.results}
    assert pids[("crop1", "mito")] == pids[("crop2", "mito")] != pids[("crop1", "ecs")]
    assert {(r.crop, r.label): r.record for r in ev.results} == {(r.crop, r.label): r.record for r in one.results}
