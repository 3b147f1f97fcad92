"""Worker planning follows the cgroup limits, not the host."""

from __future__ import annotations

import pytest

from pycsc.eval import resources


def _cg(tmp_path, files):
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path


def test_cgroup_v2_memory_and_cpu(tmp_path, monkeypatch):
    root = _cg(tmp_path, {"memory.max": "4294967296\n", "cpu.max": "150000 100000\n"})
    monkeypatch.setattr(resources, "_own_cgroup_dirs", lambda r: [r])
    assert resources.cgroup_memory_limit(root) == 4 << 30
    assert resources.cgroup_cpu_limit(root) == 2


def test_cgroup_unlimited_and_v1(tmp_path, monkeypatch):
    monkeypatch.setattr(resources, "_own_cgroup_dirs", lambda r: [r])
    root = _cg(tmp_path, {"memory.max": "max\n", "cpu.max": "max 100000\n"})
    assert resources.cgroup_memory_limit(root) is None and resources.cgroup_cpu_limit(root) is None
    root = _cg(tmp_path / "v1", {"memory/memory.limit_in_bytes": str(2 << 30),
                                  "cpu/cpu.cfs_quota_us": "300000", "cpu/cpu.cfs_period_us": "100000"})
    assert resources.cgroup_memory_limit(root) == 2 << 30 and resources.cgroup_cpu_limit(root) == 3
    root = _cg(tmp_path / "v1b", {"memory/memory.limit_in_bytes": "9223372036854771712"})
    assert resources.cgroup_memory_limit(root) is None


def test_nested_cgroup_takes_the_smallest(tmp_path, monkeypatch):
    root = _cg(tmp_path, {"memory.max": "max", "job/memory.max": str(3 << 30), "job/step/memory.max": "max"})
    monkeypatch.setattr(resources, "_own_cgroup_dirs", lambda r: [r, r / "job" / "step", r / "job"])
    assert resources.cgroup_memory_limit(root) == 3 << 30


def test_memory_budget_respects_a_given_limit():
    assert resources.memory_budget(8 << 30, 0.5) == 4 << 30


@pytest.mark.parametrize("requested, tasks, peak, budget, cpus, expected", [
    (0, 10, 4 << 30, 10 << 30, 8, (2, 4)),      # memory-bound
    (0, 100, 1 << 20, 64 << 30, 16, (8, 2)),    # at most 8 by default
    (0, 10, 1 << 20, 64 << 30, 16, (3, 5)),     # at least three tasks per automatic worker
    (0, 2, 1 << 20, 64 << 30, 16, (1, 16)),
    (8, 3, 1 << 20, 64 << 30, 16, (3, 5)),      # requested: no more workers than tasks
    (4, 10, 1 << 20, 64 << 30, 2, (2, 1)),      # never more than the CPUs
    (0, 10, 100 << 30, 8 << 30, 4, (1, 4)),     # one task over budget: still one worker
])
def test_plan_workers(requested, tasks, peak, budget, cpus, expected):
    assert resources.plan_workers(requested, tasks, peak, budget, cpus) == expected


def test_cpu_count_positive():
    assert resources.cpu_count() >= 1
