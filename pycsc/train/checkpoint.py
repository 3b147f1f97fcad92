"""Checkpoints: written atomically (temporary file, then rename), so a kill never leaves a
truncated ``latest.pt``; ``best.pt`` is a copy of the state with the best validation score.

A checkpoint holds the model spec (to rebuild the network without the training config), the
weights, and everything needed to resume: optimizer, scheduler, gradient scaler, epoch,
step, best score, and the RNG states.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import DataError

LATEST, BEST = "latest.pt", "best.pt"


def save(state: dict, path: str | Path) -> Path:
    """Write `state` to `path` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load(path: str | Path, map_location: Any = "cpu") -> dict:
    """Read a checkpoint written by :func:`save` (a DataError names a missing or bad file)."""
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoints" / BEST if (path / "checkpoints" / BEST).is_file() else path / LATEST
    if not path.is_file():
        raise DataError(f"checkpoint {path} does not exist; train first or point at a .pt file")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:
        raise DataError(f"checkpoint {path} cannot be read ({exc}); it may be from another tool") from None
    if not isinstance(state, dict) or "spec" not in state or "model" not in state:
        raise DataError(f"checkpoint {path} was not written by pycsc train (no model spec)")
    return state


def rng_state() -> dict:
    return {"python": random.getstate(), "numpy": np.random.get_state(),
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
