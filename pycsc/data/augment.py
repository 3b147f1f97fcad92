"""Patch augmentations. One random draw (:class:`Draw`) is applied to EM and labels alike.

Geometric transforms act on the last three axes (z, y, x) of arrays shaped ``(..., z, y, x)``:
flips, axis permutations among interchangeable axes, quarter turns and arbitrary rotations
in the y-x plane. An arbitrary rotation needs a larger read, so the draw is made *before*
reading (:func:`read_shape`) and the rotation also crops back to the patch (:func:`rotate`)::

          read_shape (enlarged)
      +-----------------------+
      |     /\\   patch        |     the rotated patch fits inside the enlarged read;
      |    /  \\  rotated      |     sampling it on the patch grid and cropping to
      |    \\  /               |     `patch_shape` leaves no padded corner
      |     \\/                |
      +-----------------------+
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..config import AugmentConfig

_AXIS = {"z": 0, "y": 1, "x": 2}


@dataclass(frozen=True)
class Draw:
    """The random choices for one patch."""

    flips: tuple[int, ...] = ()
    permutation: tuple[int, int, int] = (0, 1, 2)
    quarter_turns: int = 0
    angle_rad: float = 0.0
    contrast: float = 1.0
    brightness: float = 0.0
    noise_std: float = 0.0


def draw(cfg: AugmentConfig | None, rng: np.random.Generator, patch_shape, voxel_size) -> Draw:
    """Draw the augmentation of one patch (identity when `cfg` is None)."""
    if cfg is None:
        return Draw()
    shape = tuple(patch_shape)
    vs = tuple(float(v) for v in voxel_size)
    flips = tuple(_AXIS[a] for a in cfg.mirror if shape[_AXIS[a]] > 1 and rng.random() < 0.5)
    perm = [0, 1, 2]
    if cfg.transpose:
        # Only axes with the same length and voxel size can trade places.
        groups: dict[tuple, list[int]] = {}
        for ax in range(3):
            if shape[ax] > 1:
                groups.setdefault((shape[ax], round(vs[ax], 6)), []).append(ax)
        for axes in groups.values():
            shuffled = list(rng.permutation(axes))
            for src, dst in zip(axes, shuffled):
                perm[src] = int(dst)
    yx_square = shape[1] == shape[2] and math.isclose(vs[1], vs[2], rel_tol=1e-6)
    turns = int(rng.integers(4)) if cfg.rotate90 and yx_square else 0
    angle = 0.0
    if cfg.rotate_deg > 0 and math.isclose(vs[1], vs[2], rel_tol=1e-6):
        angle = math.radians(float(rng.uniform(-cfg.rotate_deg, cfg.rotate_deg)))
    contrast = 1.0 + float(rng.uniform(-cfg.intensity_scale, cfg.intensity_scale))
    brightness = float(rng.uniform(-cfg.intensity_shift, cfg.intensity_shift))
    return Draw(flips, tuple(perm), turns, angle, contrast, brightness, cfg.noise_std)


def read_shape(d: Draw, patch_shape) -> tuple[int, int, int]:
    """Shape to read so that rotating by ``d.angle_rad`` still fills `patch_shape`."""
    z, y, x = patch_shape
    if d.angle_rad == 0.0:
        return (z, y, x)
    c, s = abs(math.cos(d.angle_rad)), abs(math.sin(d.angle_rad))
    return (z, math.ceil(y * c + x * s) + 2, math.ceil(y * s + x * c) + 2)


def rotate(volume: np.ndarray, d: Draw, patch_shape, nearest: bool) -> np.ndarray:
    """Rotate ``(..., z, Y, X)`` by the drawn angle about the centre and crop to the patch."""
    if d.angle_rad == 0.0:
        return volume
    import torch
    import torch.nn.functional as F

    lead = volume.shape[:-3]
    z, yi, xi = volume.shape[-3:]
    _, yo, xo = patch_shape
    c, s = math.cos(d.angle_rad), math.sin(d.angle_rad)
    # affine_grid maps normalised output (x, y) to normalised input (x, y).
    theta = torch.tensor([[c * xo / xi, -s * yo / xi, 0.0],
                          [s * xo / yi, c * yo / yi, 0.0]], dtype=torch.float32)
    # every z-plane (and channel) shares one sampling grid: planes are channels of one image
    planes = torch.from_numpy(np.ascontiguousarray(volume, dtype=np.float32)).reshape(1, -1, yi, xi)
    grid = F.affine_grid(theta[None], [1, 1, yo, xo], align_corners=False)
    out = F.grid_sample(planes, grid, mode="nearest" if nearest else "bilinear",
                        padding_mode="border", align_corners=False)
    return out.reshape(*lead, z, yo, xo).numpy()


def apply_geometry(volume: np.ndarray, d: Draw) -> np.ndarray:
    """Flips, axis permutation and quarter turns on the last three axes (a view when possible)."""
    lead = volume.ndim - 3
    for ax in d.flips:
        volume = np.flip(volume, axis=lead + ax)
    if d.permutation != (0, 1, 2):
        volume = np.moveaxis(volume, [lead + a for a in range(3)], [lead + p for p in d.permutation])
    if d.quarter_turns:
        volume = np.rot90(volume, k=d.quarter_turns, axes=(lead + 1, lead + 2))
    return volume


def apply_intensity(raw: np.ndarray, d: Draw, rng: np.random.Generator) -> np.ndarray:
    """Contrast, brightness and noise on intensities scaled to 0..1 (float32, in place)."""
    if d.contrast != 1.0 or d.brightness != 0.0:
        raw *= d.contrast
        raw += d.brightness - 0.5 * (d.contrast - 1.0)   # contrast about mid-grey
    if d.noise_std > 0:
        raw += rng.normal(0.0, d.noise_std, size=raw.shape).astype(np.float32)
    return raw
