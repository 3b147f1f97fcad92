"""Semantic (binary) scoring of one aligned label: voxel TP/FP/FN (evaluation.md §6, §8)."""

from __future__ import annotations

import math

import numpy as np

from ..gpu import floats
from ..ops._dispatch import array_module


def semantic_counts(pred: np.ndarray, truth: np.ndarray) -> dict:
    """Voxel counts with the official ``> 0`` foreground test on both arrays (NaN -> background).

    Runs where the arrays are (NumPy or CuPy).

    Examples
    --------
    >>> semantic_counts(np.array([[0, 1], [1, 1]]), np.array([[0, 1], [0, 1]]))
    {'tp': 2, 'fp': 1, 'fn': 0, 'status': 'scored'}
    """
    if pred.shape != truth.shape:
        raise ValueError(f"aligned prediction shape {pred.shape} differs from the truth shape {truth.shape}")
    p, t = _foreground(pred), _foreground(truth)
    xp = array_module(p)
    tp = int(xp.count_nonzero(p & t))
    return {"tp": tp, "fp": int(xp.count_nonzero(p)) - tp, "fn": int(xp.count_nonzero(t)) - tp,
            "status": "scored"}


def _foreground(a: np.ndarray) -> np.ndarray:
    if a.dtype == np.bool_:
        return a
    if floats.flushes(a):  # CuPy's `a > 0` would drop float32 subnormals
        return floats.greater_than_zero(a)
    return a > 0


def missing_semantic(truth_shape: tuple[int, ...]) -> dict:
    """A semantic label that was not submitted: every voxel of the crop is a false negative (B5)."""
    return {"tp": 0, "fp": 0, "fn": int(math.prod(truth_shape))}


__all__ = ["semantic_counts", "missing_semantic"]
