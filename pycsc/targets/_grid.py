"""Neighbour arithmetic shared by the target kinds (numpy only).

Labels arrive as ``(z, y, x)``; a 2D patch is ``(1, y, x)`` and then only y and x are
spatial axes, so a 2D network's targets never look across the missing z neighbours.
"""

from __future__ import annotations

import numpy as np


def spatial_axes(shape) -> tuple[int, ...]:
    """``(1, 2)`` for a ``(1, y, x)`` patch, else ``(0, 1, 2)``."""
    return (1, 2) if shape[0] == 1 else (0, 1, 2)


def previous(a: np.ndarray, axis: int, fill) -> np.ndarray:
    """``out[v] = a[v - e_axis]``, `fill` at index 0 of `axis`."""
    out = np.empty_like(a)
    lead = [slice(None)] * a.ndim
    rest = [slice(None)] * a.ndim
    lead[axis], rest[axis] = slice(0, 1), slice(1, None)
    src = [slice(None)] * a.ndim
    src[axis] = slice(0, -1)
    out[tuple(lead)] = fill
    out[tuple(rest)] = a[tuple(src)]
    return out


def following(a: np.ndarray, axis: int, fill) -> np.ndarray:
    """``out[v] = a[v + e_axis]``, `fill` at the last index of `axis`."""
    out = np.empty_like(a)
    last = [slice(None)] * a.ndim
    head = [slice(None)] * a.ndim
    last[axis], head[axis] = slice(-1, None), slice(0, -1)
    src = [slice(None)] * a.ndim
    src[axis] = slice(1, None)
    out[tuple(last)] = fill
    out[tuple(head)] = a[tuple(src)]
    return out


def neighbours(a: np.ndarray, axes, fill):
    """Both face neighbours of every voxel along each of `axes` (2 * len(axes) arrays)."""
    for ax in axes:
        yield previous(a, ax, fill)
        yield following(a, ax, fill)


def differs_from_neighbour(labels: np.ndarray, axes, *, nonzero_only: bool = False) -> np.ndarray:
    """Voxels with a face neighbour (inside the array) of another label; with
    `nonzero_only`, of another *non-zero* label (object-object interfaces)."""
    out = np.zeros(labels.shape, bool)
    for nb, inside in zip(neighbours(labels, axes, 0),
                          neighbours(np.ones(labels.shape, bool), axes, False)):
        hit = inside & (nb != labels)
        if nonzero_only:
            hit &= nb != 0
        out |= hit
    return out


def all_neighbours_known(known: np.ndarray, axes) -> np.ndarray:
    """Voxels whose face neighbours are all inside the array and known."""
    out = known.copy()
    for nb in neighbours(known, axes, False):
        out &= nb
    return out
