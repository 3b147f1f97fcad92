"""Instance-aware targets: ``boundary`` and ``affinity``, each with a foreground channel.

* ``boundary``: channel ``fg`` (the class) and ``boundary``: object voxels with a face
  neighbour of another label, background included (scikit-image's
  ``find_boundaries(mode="inner")``), so touching objects are parted by two voxel layers.
* ``affinity``: ``fg`` and one channel per spatial axis, ``aff_<axis>[v] = 1`` when ``v``
  and its lower neighbour ``v - e_axis`` belong to the same object (0 for background).

A value is known where every voxel it depends on is known; a background voxel is known to
be neither boundary nor affine whatever its neighbours are.
"""

from __future__ import annotations

import numpy as np

from ._grid import all_neighbours_known, differs_from_neighbour, previous, spatial_axes
from .registry import Target, register_target

_AXIS_NAMES = "zyx"


def _foreground(labels, known):
    fg = (labels != 0) & known
    return fg.astype(np.float32), known.astype(np.float32)


@register_target
class Boundary(Target):
    """Foreground + inner object boundaries; sigmoid, BCE; decoded by seeded watershed."""

    name = "boundary"
    activation = "sigmoid"
    default_loss = "bce"
    decoder = "boundary_watershed"
    defaults = {}

    def channels(self, ndim):
        return ["fg", "boundary"]

    def context_nm(self, voxel_size_nm, **params):
        return float(max(voxel_size_nm))

    def make(self, labels, known, voxel_size_nm, **params):
        """Examples
        --------
        >>> lab = np.array([[[0, 1, 1, 2, 2, 2, 0]] * 3])    # (1, 3, 7): a 2D patch
        >>> t, m = Boundary().make(lab, np.ones_like(lab, bool), (8, 8, 8))
        >>> t[1, 0, 1].tolist(), m[1, 0, 1].tolist()
        ([0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
        """
        axes = spatial_axes(labels.shape)
        fg, fg_mask = _foreground(labels, known)
        boundary = differs_from_neighbour(labels, axes) & (fg > 0)
        mask = known & ((labels == 0) | all_neighbours_known(known, axes))
        boundary &= mask
        return np.stack([fg, boundary.astype(np.float32)]), np.stack([fg_mask, mask.astype(np.float32)])


@register_target
class Affinity(Target):
    """Foreground + nearest-neighbour affinities; sigmoid, BCE; decoded by seeded watershed."""

    name = "affinity"
    activation = "sigmoid"
    default_loss = "bce"
    decoder = "affinity_watershed"
    defaults = {}

    def channels(self, ndim):
        return ["fg"] + [f"aff_{a}" for a in _AXIS_NAMES[3 - ndim:]]

    def context_nm(self, voxel_size_nm, **params):
        return float(max(voxel_size_nm))

    def make(self, labels, known, voxel_size_nm, **params):
        """Examples
        --------
        >>> lab = np.array([[[0, 1, 1, 2, 2]] * 3])    # (1, 3, 5): channels fg, aff_y, aff_x
        >>> t, m = Affinity().make(lab, np.ones_like(lab, bool), (8, 8, 8))
        >>> t[2, 0, 1].tolist(), m[2, 0, 1].tolist()
        ([0.0, 0.0, 1.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0])
        """
        fg, fg_mask = _foreground(labels, known)
        targets, masks = [fg], [fg_mask]
        for ax in spatial_axes(labels.shape):
            before = previous(labels, ax, 0)
            before_known = previous(known, ax, False)
            mask = known & ((labels == 0) | before_known)
            targets.append(((labels == before) & (labels != 0) & mask).astype(np.float32))
            masks.append(mask.astype(np.float32))
        return np.stack(targets), np.stack(masks)
