"""Scalar logs: always a JSON-lines file, plus TensorBoard event files when it is installed.

``metrics.jsonl`` holds one object per record (``{"step": 120, "epoch": 2, "loss": 0.31}``),
readable by anything, appended and flushed at once, so a killed run keeps its history.
TensorBoard (``pip install tensorboard``, not a dependency: it pulls grpcio and protobuf) is
used through ``torch.utils.tensorboard`` when importable.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path


class ScalarLog:
    def __init__(self, folder: str | Path, enabled: bool = True):
        self.folder = Path(folder)
        self.enabled = enabled
        self._tb = None
        if not enabled:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        self._fh = (self.folder / "metrics.jsonl").open("a")
        try:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(self.folder / "tensorboard"))
        except Exception:  # tensorboard not installed
            self._tb = None

    @property
    def tensorboard(self):
        """The TensorBoard ``SummaryWriter``, or None where TensorBoard is not installed."""
        return self._tb

    def write(self, step: int, **scalars: float) -> None:
        if not self.enabled:
            return
        record = {"step": int(step), "time": round(time.time(), 3)}
        for k, v in scalars.items():
            record[k] = None if isinstance(v, float) and math.isnan(v) else v
        self._fh.write(json.dumps(record) + "\n")
        self._fh.flush()
        if self._tb is not None:
            for k, v in scalars.items():
                if isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v)):
                    self._tb.add_scalar(k, v, step)

    def close(self) -> None:
        if self.enabled:
            self._fh.close()
            if self._tb is not None:
                self._tb.close()


def read_log(folder: str | Path) -> list[dict]:
    """All records of a run's ``metrics.jsonl``."""
    path = Path(folder) / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
