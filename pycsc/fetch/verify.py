"""Re-check local copies against the remote: missing files, and files whose bytes differ.

Size first; then the MD5 of the local bytes against the ETag where the ETag is a plain MD5
(single-part uploads, as S3 and moto give for chunk-sized objects); otherwise the remote
object is downloaded and compared byte for byte.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..io.s3 import S3Client
from .download import TransferStats, local_path, run_parallel
from .plan import Item

_MD5 = re.compile(r"^[0-9a-f]{32}$")


@dataclass
class VerifyResult:
    checked: int = 0
    missing: list[str] = field(default_factory=list)   # on the remote, not on disk
    corrupt: list[str] = field(default_factory=list)   # on disk with different bytes
    absent_remote: int = 0                             # optional keys absent remotely


def _matches(client: S3Client, key: str, local: bytes, size: int, etag: str) -> bool:
    if len(local) != size:
        return False
    if _MD5.match(etag or ""):
        return hashlib.md5(local).hexdigest() == etag
    return client.get(key) == local


def verify(client: S3Client, items: Sequence[Item], dest: Path, *, workers: int = 32,
           progress: bool = True) -> VerifyResult:
    """Compare every planned key on disk under `dest` with the remote object."""
    dest = Path(dest)
    result = VerifyResult()
    lock = threading.Lock()

    def check(item: Item) -> tuple[str, int]:
        size, etag = item.size, item.etag
        if size is None or etag is None:
            info = client.head(item.key)
            if info is None:
                with lock:
                    result.absent_remote += 1
                return "absent", 0
            size, etag = info.size, info.etag
        path = local_path(dest, item.key)
        if not path.is_file():
            with lock:
                result.missing.append(item.key)
            return "skipped", 0
        if not _matches(client, item.key, path.read_bytes(), size, etag):
            with lock:
                result.corrupt.append(item.key)
        return "skipped", 0

    run_parallel(check, list(items), workers, progress, "verify", TransferStats())
    result.checked = len(items)
    result.missing.sort()
    result.corrupt.sort()
    return result


__all__ = ["VerifyResult", "verify"]
