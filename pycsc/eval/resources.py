"""CPU and memory available to this process: the cgroup's limits, not the host's.

Containers and batch schedulers (SLURM, LSF, Kubernetes) confine a job with cgroups while
``os.cpu_count()`` and ``psutil`` still report the whole machine, so worker counts derived
from those oversubscribe and get killed. Both cgroup v2 and v1 are read.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
_UNLIMITED = 1 << 60  # v1 reports "no limit" as a huge number


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if text in ("", "max"):
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    return value if 0 < value < _UNLIMITED else None


def _own_cgroup_dirs(root: Path) -> list[Path]:
    """The cgroup directories of this process and its ancestors (v2 unified hierarchy)."""
    dirs = [root]
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            hier, _, rel = line.split(":", 2)
            if hier == "0" and rel.startswith("/"):
                here = root / rel.lstrip("/")
                while here != root and root in here.parents:
                    dirs.append(here)
                    here = here.parent
    except (OSError, ValueError):
        pass
    return dirs


def cgroup_memory_limit(root: Path = CGROUP_ROOT) -> int | None:
    """Smallest memory limit (bytes) over this process's cgroups, v2 then v1; None if unlimited."""
    limits = [_read_int(d / "memory.max") for d in _own_cgroup_dirs(root)]
    limits.append(_read_int(root / "memory" / "memory.limit_in_bytes"))
    limits = [v for v in limits if v]
    return min(limits) if limits else None


def cgroup_cpu_limit(root: Path = CGROUP_ROOT) -> int | None:
    """CPUs allowed by a cgroup CPU quota (``cpu.max`` or v1 cfs quota), rounded up; None if none."""
    for d in _own_cgroup_dirs(root):
        try:
            quota, period = (d / "cpu.max").read_text().split()[:2]
            if quota != "max":
                return max(1, math.ceil(int(quota) / int(period)))
        except (OSError, ValueError):
            continue
    quota = _read_int(root / "cpu" / "cpu.cfs_quota_us")
    period = _read_int(root / "cpu" / "cpu.cfs_period_us")
    if quota and period:
        return max(1, math.ceil(quota / period))
    return None


def cpu_count() -> int:
    """CPUs this process may use: affinity mask, capped by a cgroup quota."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    quota = cgroup_cpu_limit()
    return max(1, min(n, quota) if quota else n)


def memory_budget(limit_bytes: int | None = None, fraction: float = 0.8) -> int:
    """Bytes the evaluation may use: `fraction` of min(physical, cgroup limit, available).

    `limit_bytes` (a user setting) replaces the detected limit.
    """
    import psutil

    vm = psutil.virtual_memory()
    limit = limit_bytes or min(vm.total, cgroup_memory_limit() or vm.total)
    return max(1 << 28, int(min(limit * fraction, vm.available * 0.95 if not limit_bytes else limit)))


def plan_workers(requested: int, n_tasks: int, peak_task_bytes: int, budget_bytes: int,
                 cpus: int) -> tuple[int, int]:
    """(worker processes, threads per worker) for `n_tasks` tasks.

    An explicit `requested` count is capped by the CPUs, the memory budget and the tasks.
    Automatic mode (0) also keeps at least three tasks per worker: with fewer, one large
    label would run single-threaded while the other workers sit idle.

    Examples
    --------
    >>> plan_workers(0, 10, 4 << 30, 10 << 30, 8)   # memory allows two 4 GiB tasks at once
    (2, 4)
    >>> plan_workers(0, 2, 1, 1 << 30, 2)           # two labels: one worker, all threads
    (1, 2)
    """
    by_memory = max(1, budget_bytes // max(peak_task_bytes, 1))
    if requested > 0:
        workers = min(requested, cpus, by_memory, n_tasks)
    else:
        workers = min(cpus, 8, by_memory, n_tasks // 3)
    workers = max(1, workers)
    return workers, max(1, cpus // workers)


__all__ = ["cgroup_memory_limit", "cgroup_cpu_limit", "cpu_count", "memory_budget", "plan_workers"]
