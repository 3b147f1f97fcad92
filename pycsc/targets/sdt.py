"""``sdt``: the signed distance to the class surface in nm, squashed as ``tanh(d / scale_nm)``.

Positive inside objects, negative outside (the COSEM convention). For instance labels the
surface also runs between touching objects: a voxel next to another object's voxel is a
wall voxel (d = -half a voxel) and the distances inside are measured to the walls too, so
thresholding at 0 keeps touching objects apart.

Exactness near unknown voxels. With Z the surface set seen from a voxel (known voxels of
the opposite side, plus object-object interfaces) and U the unknown voxels (including
everything outside the patch), the stored distance is ``dist(v, Z)``; it is exact when
``dist(v, Z) <= dist(v, U)`` (no unknown voxel could hold a closer surface). Elsewhere the
true value lies between ``dist(v, Z u U)`` and ``dist(v, Z)``: it is kept (mask 1) only when
the lower bound already saturates the tanh (``>= saturation * scale_nm``), else masked.
Reading ``context_nm`` (``saturation * scale_nm`` by default) of labels around the patch
makes every voxel of a fully annotated patch exact or saturated::

    |<- context ->|<------- patch ------->|<- context ->|
    labels read here, distances computed, then cropped to the patch
"""

from __future__ import annotations

import numpy as np

from ._grid import differs_from_neighbour, spatial_axes
from .registry import Target, register_target


def _distance(mask_of_sources: np.ndarray, sampling) -> np.ndarray:
    """Distance from every voxel to the nearest True voxel of `mask_of_sources` (inf if none)."""
    from ..ops import distance_transform_edt

    if not mask_of_sources.any():
        return np.full(mask_of_sources.shape, np.inf)
    return distance_transform_edt(~mask_of_sources, sampling=sampling)


def _distance_to_outside(shape, sampling) -> np.ndarray:
    """Distance from each voxel centre to the nearest voxel centre just outside the array."""
    out = None
    for a, (n, v) in enumerate(zip(shape, sampling)):
        i = np.arange(n)
        d = np.minimum(i + 1, n - i) * float(v)
        d = d.reshape([-1 if k == a else 1 for k in range(len(shape))])
        out = d if out is None else np.minimum(out, d)
    return np.broadcast_to(out, shape)


def signed_distance(labels: np.ndarray, known: np.ndarray, voxel_size_nm, *, saturation: float,
                    scale_nm: float) -> tuple[np.ndarray, np.ndarray]:
    """Signed distance in nm and whether it is trusted (see the module docstring)."""
    axes = spatial_axes(labels.shape)
    squeeze = len(axes) == 2
    lab = labels[0] if squeeze else labels
    kn = known[0] if squeeze else known
    sampling = [float(voxel_size_nm[a]) for a in axes]
    fg = (lab != 0) & kn
    bg = (lab == 0) & kn
    interface = differs_from_neighbour(np.where(kn, lab, 0), range(lab.ndim), nonzero_only=True) & fg
    # one layer of unknown voxels around the array stands for everything outside the patch;
    # dist(v, Z u U) = min(dist(v, Z), dist(v, U)), so U costs one transform for both sides
    inner = (slice(1, -1),) * lab.ndim
    if not any(kn.strides) or kn.all():          # only the outside is unknown: per-axis distance
        to_unknown = _distance_to_outside(lab.shape, sampling)
    else:
        to_unknown = _distance(np.pad(~kn, 1, constant_values=True), sampling)[inner]
    d_in = _distance(bg | interface, sampling)    # surface seen from inside an object
    d_out = _distance(fg, sampling)               # surface seen from the background
    inside = fg & ~interface
    upper = np.where(inside, d_in, np.where(bg, d_out, 0.0))
    lower = np.minimum(upper, to_unknown)
    trusted = kn & ((upper <= lower * (1 + 1e-9)) | (lower >= saturation * scale_nm))
    signed = np.where(inside, upper, -upper)
    signed[interface] = -0.5 * min(sampling)     # the wall between touching objects: outside
    if squeeze:
        signed, trusted = signed[None], trusted[None]
    return signed, trusted


@register_target
class SignedDistance(Target):
    """``tanh(d / scale_nm)``, tanh output, MSE loss, threshold at 0 (+ watershed)."""

    name = "sdt"
    activation = "tanh"
    default_loss = "mse"
    decoder = "sdt_watershed"
    defaults = {"scale_nm": 50.0, "saturation": 3.0}

    def context_nm(self, voxel_size_nm, **params):
        p = {**self.defaults, **params}
        return float(p["saturation"]) * float(p["scale_nm"])

    def make(self, labels, known, voxel_size_nm, **params):
        """Examples
        --------
        >>> lab = np.zeros((1, 9, 9), int); lab[0, 2:7, 2:7] = 1    # a 2D square, 1 nm voxels
        >>> t, m = SignedDistance().make(lab, np.ones_like(lab, bool), (1, 1, 1), scale_nm=1e9)
        >>> np.round(np.arctanh(t[0, 0, 4]) * 1e9).tolist()    # the middle row, in nm
        [0.0, -1.0, 1.0, 2.0, 3.0, 2.0, 1.0, -1.0, 0.0]
        >>> m[0, 0, 4].tolist()    # the ends could be nearer to an object outside the patch
        [0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0]
        """
        p = {**self.defaults, **params}
        if not known.any():
            z = np.zeros((1, *labels.shape), np.float32)
            return z, z.copy()
        d, trusted = signed_distance(labels, known, voxel_size_nm, saturation=float(p["saturation"]),
                                     scale_nm=float(p["scale_nm"]))
        target = np.where(trusted, np.tanh(d / float(p["scale_nm"])), 0.0).astype(np.float32)[None]
        return target, trusted.astype(np.float32)[None]
