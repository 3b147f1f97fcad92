"""Test-time augmentation: average a model's probabilities over flipped / transposed windows.

A model is seen through one callable, ``run(windows[B, z, y, x]) -> probabilities[B, C, z, y, x]``
(whatever builds it: a checkpoint, an ensemble member, a user function). :func:`wrap_tta`
returns a callable of the same shape that runs every transform of the mode on the batch,
maps each answer back to the original orientation and averages them::

    window --flip--> --transpose--> model --transpose back--> --flip back--> mean over transforms

Flips act on every window axis longer than one voxel (8 in 3D, 4 for a 2D slice).
Transposes swap axes only where the window *and* the voxel size agree on both axes (an
anisotropic z is never swapped with y or x). Memory: one extra batch of probabilities.
With ``"none"`` the model's callable is returned unchanged (bit-identical outputs).
"""

from __future__ import annotations

import itertools
from typing import Callable, Sequence

import numpy as np

from ..errors import ConfigError

TTA_MODES = ("none", "flips", "flips+transposes")


def _allowed_permutations(window: Sequence[int], voxel_size: Sequence[float]) -> list[tuple[int, ...]]:
    """Axis orders that only swap axes of equal window length and voxel size (>1 voxel)."""
    n = len(window)
    key = [(int(window[a]), round(float(voxel_size[a]), 6)) if window[a] > 1 else ("flat", a) for a in range(n)]
    return [p for p in itertools.permutations(range(n)) if all(key[p[a]] == key[a] for a in range(n))]


def transforms(window: Sequence[int], voxel_size: Sequence[float], mode: str) -> list[tuple[tuple, tuple]]:
    """``(flipped axes, axis order)`` pairs of `mode` for this window, the identity first.

    Examples
    --------
    >>> len(transforms((8, 8, 8), (4, 4, 4), "flips")), len(transforms((8, 8, 8), (4, 4, 4), "flips+transposes"))
    (8, 48)
    >>> len(transforms((8, 8, 8), (6.96, 8, 8), "flips+transposes"))   # y <-> x only
    16
    >>> len(transforms((1, 8, 8), (8, 8, 8), "flips"))                   # a 2D slice
    4
    """
    if mode not in TTA_MODES:
        raise ConfigError(f"`tta` must be one of {list(TTA_MODES)}; got {mode!r}")
    axes = [a for a, s in enumerate(window) if s > 1]
    flips = [()] if mode == "none" else [tuple(c) for r in range(len(axes) + 1)
                                          for c in itertools.combinations(axes, r)]
    identity = tuple(range(len(window)))
    perms = _allowed_permutations(window, voxel_size) if mode == "flips+transposes" else [identity]
    perms = [identity] + [p for p in perms if p != identity]
    return [(f, p) for p in perms for f in flips]


class TTA:
    """`run` averaged over the transforms of `mode` (see the module text)."""

    def __init__(self, run: Callable[[np.ndarray], np.ndarray], mode: str, voxel_size: Sequence[float]):
        self.run, self.mode, self.voxel_size = run, mode, tuple(float(v) for v in voxel_size)
        transforms((1, 1, 1), self.voxel_size, mode)     # validates the mode early

    def __call__(self, windows: np.ndarray, output_window=None) -> np.ndarray:
        spatial = windows.shape[1:]
        out = tuple(output_window or spatial)
        # the output window (the centre of the model's output, maybe on another grid) must map
        # onto itself under an axis swap too
        todo = [(f, o) for f, o in transforms(spatial, self.voxel_size, self.mode)
                if tuple(out[a] for a in o) == out]
        total = None
        for flipped, order in todo:
            x = windows
            if flipped:
                x = np.flip(x, tuple(1 + a for a in flipped))
            x = np.ascontiguousarray(x.transpose(0, *(1 + a for a in order)))
            y = self.run(x) if output_window is None else self.run(x, out)
            inverse = tuple(int(i) for i in np.argsort(order))
            y = y.transpose(0, 1, *(2 + a for a in inverse))
            if flipped:
                y = np.flip(y, tuple(2 + a for a in flipped))
            total = y.astype(np.float32, copy=True) if total is None else total + y
        total /= np.float32(len(todo))
        return total


def wrap_tta(run: Callable[[np.ndarray], np.ndarray], mode: str, voxel_size: Sequence[float]):
    """`run` itself for ``"none"``, else a :class:`TTA` averaging over `mode`'s transforms."""
    if mode == "none":
        return run
    return TTA(run, mode, voxel_size)


__all__ = ["TTA_MODES", "transforms", "TTA", "wrap_tta"]
