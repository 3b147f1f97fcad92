"""Copy planned keys to disk: concurrent, atomic per object, resumable.

Each object is written to ``<dest>/.pycsc-partial/<pid>-<random>`` and renamed into place
with :func:`os.replace`, so a file under its final name is always complete: a run killed at
any moment leaves only complete files plus partial files that the next run deletes. A rerun
skips every key already on disk (and, where the listing gave a size, of that size), so it
fetches exactly what is missing. Objects are copied verbatim (no decoding), and local paths
are the keys split at ``/``, so the result is the same on every OS.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from ..errors import FetchError
from ..io.s3 import S3Client
from .plan import Item

PARTIAL_DIR = ".pycsc-partial"


def local_path(dest: Path, key: str) -> Path:
    return Path(dest, *key.split("/"))


def sweep_partial(dest: Path) -> int:
    """Delete partial files left by runs that are no longer alive; returns how many."""
    import psutil

    folder = Path(dest) / PARTIAL_DIR
    if not folder.is_dir():
        return 0
    removed = 0
    for f in folder.iterdir():
        pid = f.name.split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or not psutil.pid_exists(int(pid)):
            f.unlink(missing_ok=True)
            removed += 1
    return removed


def atomic_write(dest: Path, key: str, data: bytes) -> Path:
    """Write `data` to the local path of `key` through a temp file and a rename."""
    target = local_path(dest, key)
    folder = Path(dest) / PARTIAL_DIR
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"{os.getpid()}-{uuid.uuid4().hex}"
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def is_complete(dest: Path, item: Item) -> bool:
    p = local_path(dest, item.key)
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        return False
    return item.size is None or size == item.size


@dataclass
class TransferStats:
    planned: int = 0
    downloaded: int = 0
    skipped: int = 0           # already complete on disk
    absent: int = 0            # optional keys (EM chunks, group metadata) missing remotely
    bytes: int = 0
    seconds: float = 0.0
    failed: list[str] = field(default_factory=list)   # "key: reason"

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0

    @property
    def chunks_per_s(self) -> float:
        return self.downloaded / self.seconds if self.seconds > 0 else 0.0


def run_parallel(fn: Callable[[Item], tuple[str, int]], items: Sequence[Item], workers: int,
                 progress: bool, desc: str, stats: TransferStats) -> TransferStats:
    """Apply `fn` to every item on a thread pool; `fn` returns (outcome, bytes)."""
    from tqdm import tqdm

    start = time.perf_counter()
    stats.planned += len(items)
    bar = tqdm(total=len(items), unit="obj", desc=desc, disable=not progress, file=sys.stderr,
               dynamic_ncols=True, mininterval=0.5)
    pool = ThreadPoolExecutor(max(1, workers))
    try:
        futures = {pool.submit(fn, item): item for item in items}
        for fut in as_completed(futures):
            try:
                outcome, nbytes = fut.result()
                setattr(stats, outcome, getattr(stats, outcome) + 1)
            except FetchError as exc:
                stats.failed.append(str(exc))
                nbytes = 0
            stats.bytes += nbytes
            bar.update(1)
            if nbytes:
                elapsed = max(time.perf_counter() - start, 1e-9)
                bar.set_postfix_str(f"{stats.bytes / 1e6:.1f} MB, {stats.bytes / 1e6 / elapsed:.1f} MB/s",
                                    refresh=False)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        bar.close()
    pool.shutdown(wait=True)
    stats.seconds += time.perf_counter() - start
    return stats


def download(client: S3Client, items: Iterable[Item], dest: Path, *, workers: int = 32,
             progress: bool = True, cache: dict[str, bytes] | None = None) -> TransferStats:
    """Copy every item not yet complete on disk; bytes in `cache` are written without a GET."""
    dest = Path(dest)
    cache = cache or {}
    sweep_partial(dest)

    def copy(item: Item) -> tuple[str, int]:
        if is_complete(dest, item):
            return "skipped", 0
        data = cache.get(item.key)
        if data is None:
            data = client.get(item.key, missing_ok=not item.required)
        if data is None:
            return "absent", 0
        atomic_write(dest, item.key, data)
        return "downloaded", len(data)

    stats = run_parallel(copy, list(items), workers, progress, "fetch", TransferStats())
    partial = dest / PARTIAL_DIR
    if partial.is_dir() and not any(partial.iterdir()):
        partial.rmdir()
    return stats


def probe_sizes(client: S3Client, items: Sequence[Item], workers: int = 32,
                progress: bool = True) -> dict[str, int | None]:
    """Remote size of every item (listing sizes where known, else a HEAD); None = absent."""
    sizes: dict[str, int | None] = {i.key: i.size for i in items if i.size is not None}
    lock = threading.Lock()

    def head(item: Item) -> tuple[str, int]:
        info = client.head(item.key)
        with lock:
            sizes[item.key] = None if info is None else info.size
        return ("absent", 0) if info is None else ("skipped", 0)

    todo = [i for i in items if i.size is None]
    run_parallel(head, todo, workers, progress, "size", TransferStats())
    return sizes


__all__ = ["PARTIAL_DIR", "local_path", "sweep_partial", "atomic_write", "is_complete",
           "TransferStats", "run_parallel", "download", "probe_sizes"]
