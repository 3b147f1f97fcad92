"""Background writing of output volumes, with completion markers set only once stored.

Compressing and storing a volume's chunks takes about as long as labelling it, so writes run
on tensorstore's own threads while the next class is read and labelled. A volume is marked
complete (``_store.mark_complete``, an atomic attribute write) only after every chunk write
it was given has been committed, so a crash or kill leaves it unmarked and a rerun redoes it.
The bytes handed over but not yet stored are bounded by `max_pending_bytes`: beyond that the
caller waits for the oldest writes.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from ..data import _store


class VolumeWriter:
    """Queue of chunk writes (oldest first) and completion markers; use as a context manager.

    Leaving the ``with`` block waits for every write and sets the markers due, also when an
    exception leaves it (volumes written before the failure are complete); after a failed
    write no further marker is set.
    """

    def __init__(self, max_pending_bytes: int):
        self.max_pending_bytes = int(max_pending_bytes)
        self._queue: deque = deque()        # (future or None, bytes held, marker or None)
        self._pending = 0

    def write(self, store: Any, region: tuple, data: np.ndarray) -> None:
        """Start writing `data` into ``store[region]``; `data` must not be changed afterwards."""
        self._queue.append((store[region].write(data), data, None))
        self._pending += data.nbytes
        while self._pending > self.max_pending_bytes and len(self._queue) > 1:
            self._retire_oldest()

    def mark_when_stored(self, group: str | Path, info: dict) -> None:
        """Mark `group` complete once every write given so far is stored."""
        self._queue.append((None, None, (group, info)))

    def flush(self) -> None:
        """Wait for every write and set the markers due."""
        while self._queue:
            self._retire_oldest()

    def _retire_oldest(self) -> None:
        future, data, marker = self._queue.popleft()
        if future is not None:
            self._pending -= data.nbytes
            future.result()
        if marker is not None:
            _store.mark_complete(*marker)

    def __enter__(self) -> "VolumeWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.flush()
            return
        try:
            self.flush()
        except Exception:               # the first error is the one being raised already
            while self._queue:          # let started writes end; no marker after a failure
                future = self._queue.popleft()[0]
                if future is not None:
                    try:
                        future.result()
                    except Exception:
                        pass
