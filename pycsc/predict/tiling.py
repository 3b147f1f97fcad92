"""Window placement and blending weights for sliding-window inference.

Windows start every ``stride = round(window * (1 - overlap))`` voxels from 0 and one more
window is placed flush with the end, so every voxel of the volume is covered, crop ends
included (the official rewrite leaves the tail of a 600-voxel crop unwritten with 128-voxel
tiles). A window longer than the volume is centred on it, reading context on both sides::

    volume  |0 ........................................ n|
    windows [----w----]
                  [----w----]                 stride = w (1 - overlap)
                        [----w----]
                                   [----w----]   <- flush with the end
"""

from __future__ import annotations

import itertools

import numpy as np


def window_starts(n: int, window: int, overlap: float) -> list[int]:
    """Start offsets of the windows along one axis of length `n`.

    Examples
    --------
    >>> window_starts(10, 4, 0.0)
    [0, 4, 6]
    >>> window_starts(10, 4, 0.5)
    [0, 2, 4, 6]
    >>> window_starts(3, 8, 0.25)
    [-3]
    """
    if n <= window:
        return [(n - window) // 2]
    stride = max(1, int(round(window * (1.0 - overlap))))
    starts = list(range(0, n - window + 1, stride))
    if starts[-1] != n - window:
        starts.append(n - window)
    return starts


def window_grid(shape, window, overlap: float) -> list[tuple[int, int, int]]:
    """All window corners (z-major order) covering a 3D volume of `shape`."""
    axes = [window_starts(int(n), int(w), overlap) for n, w in zip(shape, window)]
    return list(itertools.product(*axes))


def blend_weights(window, mode: str) -> np.ndarray:
    """Per-voxel weights of one window: a separable Gaussian (sigma = window / 8, floor 1e-3,
    so that border voxels covered by one window only still count) or constant ones."""
    if mode == "constant":
        return np.ones(tuple(window), np.float32)
    w = np.ones((), np.float32)
    for n in window:
        if n == 1:
            prof = np.ones(1, np.float32)
        else:
            x = np.arange(n, dtype=np.float32) - (n - 1) / 2
            prof = np.exp(-0.5 * (x / (n / 8.0)) ** 2).astype(np.float32)
        w = np.multiply.outer(w, prof)
    return np.maximum(w / w.max(), 1e-3).astype(np.float32)
