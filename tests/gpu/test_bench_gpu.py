"""benchmarks/bench_gpu.py runs end to end on the emulator (tiny volumes, timings meaningless).

The benchmark is meant for scarce GPU time: a mistake in the script found only on a device
wastes a run. Here it runs with the emulated backend standing in for CuPy, and every row
must reach the CPU path's result.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
import types
from pathlib import Path

from pycsc import _gpu

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_gpu.py"


class _Event:
    def record(self):
        self.t = time.perf_counter()

    def synchronize(self):
        pass


def test_gpu_benchmark_runs_on_the_emulator(emu, monkeypatch, tmp_path, capsys):
    fake = types.ModuleType("cupy")  # what the script takes from CuPy: arrays, events, a device
    fake.asarray = emu.xp.asarray
    fake.cuda = types.SimpleNamespace(Event=_Event, Device=lambda: types.SimpleNamespace(synchronize=lambda: None),
                                      get_elapsed_time=lambda a, b: (b.t - a.t) * 1e3)
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setattr(_gpu, "gpu_status", lambda: (True, "emulated"))
    monkeypatch.syspath_prepend(str(BENCH.parent))
    spec = importlib.util.spec_from_file_location("bench_gpu", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "gpu.json"
    monkeypatch.setattr(sys, "argv", ["bench_gpu.py", "--size", "36", "--crop", "30", "--count", "25",
                                      "--repeat", "1", "--out", str(out)])
    assert bench.main() == 0, capsys.readouterr().err
    rows = json.loads(out.read_text())["rows"]
    assert len(rows) == 12 and all(r["equal_to_cpu"] for r in rows), rows
    assert emu.launches
