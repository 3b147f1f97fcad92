"""Patch augmentations: one random draw (:class:`Draw`) moves EM, labels and masks alike.

Geometry is a map from *output* positions to *world* positions, both in nm about the patch
centre, so that inputs and targets on different grids (8 nm EM, 4 nm targets) stay aligned::

    world = A @ out + elastic(out)        A = rotation @ diag(1 / scale) @ signed_permutation

* the signed permutation holds mirrors, transposes of interchangeable axes and quarter
  turns in y-x: on its own it is applied to the read box as numpy views (no resampling);
* rotations (about any of z, y, x), isotropic and anisotropic scaling and the smooth
  elastic displacement need resampling (:mod:`pycsc.data.warp`): EM trilinear, labels
  nearest, both through ``torch.nn.functional.grid_sample`` on one shared position grid.

Intensity changes (contrast and brightness, gamma, Gaussian blur, Gaussian noise) act on
the EM only, after the geometry, on intensities scaled to 0..1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..config import AugmentConfig
from ..errors import ConfigError

_AXIS = {"z": 0, "y": 1, "x": 2}


@dataclass(frozen=True)
class Draw:
    """The random choices for one patch."""

    #: 3x3 signed permutation, ``world = flip_perm @ out`` (mirrors, transposes, quarter turns)
    flip_perm: np.ndarray = field(default_factory=lambda: np.eye(3))
    #: 3x3 rotation @ scaling, or None for the identity
    affine: np.ndarray | None = None
    #: elastic displacement: (seed, magnitude_nm, spacing_nm), or None
    elastic: tuple[int, float, float] | None = None
    contrast: float = 1.0
    brightness: float = 0.0
    gamma: float = 1.0
    blur_sigma_nm: float = 0.0
    noise_std: float = 0.0

    @property
    def warps(self) -> bool:
        """Whether the geometry needs resampling (anything beyond the signed permutation)."""
        return self.affine is not None or self.elastic is not None

    def matrix(self) -> np.ndarray:
        """``A`` of the module docstring (without the elastic part)."""
        return self.flip_perm if self.affine is None else self.affine @ self.flip_perm


def interchangeable_axes(grids) -> list[list[int]]:
    """Groups of axes that may trade places: equal length and voxel size on every grid.

    `grids` is a sequence of ``(shape, voxel_size_nm)``; axes of length 1 never move.
    """
    groups: dict[tuple, list[int]] = {}
    for ax in range(3):
        key = tuple((int(shape[ax]), round(float(vs[ax]), 6)) for shape, vs in grids)
        if all(int(shape[ax]) > 1 for shape, _ in grids):
            groups.setdefault(key, []).append(ax)
    return list(groups.values())


def _rotation(axis: int, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    i, j = [a for a in range(3) if a != axis]
    r = np.eye(3)
    r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
    return r


def _signed_permutation(cfg: AugmentConfig, rng, grids, planar: bool) -> np.ndarray:
    perm = [0, 1, 2]
    groups = interchangeable_axes(grids)
    if cfg.transpose:
        for axes in groups:
            for src, dst in zip(axes, rng.permutation(axes)):
                perm[src] = int(dst)
    m = np.zeros((3, 3))
    m[perm, [0, 1, 2]] = 1.0            # world axis perm[a] comes from output axis a
    if cfg.rotate90 and any(1 in g and 2 in g for g in groups):
        m = np.linalg.matrix_power(np.rint(_rotation(0, math.pi / 2)), int(rng.integers(4))) @ m
    probs = dict(zip("zyx", cfg.mirror_prob))
    for name in cfg.mirror:
        ax = _AXIS[name]
        if not (planar and ax == 0) and all(int(s[ax]) > 1 for s, _ in grids) and rng.random() < probs[name]:
            m[ax] *= -1.0
    return m


def draw(cfg: AugmentConfig | None, rng: np.random.Generator, grids) -> Draw:
    """Draw the augmentation of one patch (identity when `cfg` is None).

    Parameters
    ----------
    cfg : AugmentConfig or None
    rng : numpy.random.Generator
    grids : sequence of ``(shape, voxel_size_nm)``
        The input grid and the target grid (the same grid twice when they agree); a grid
        with ``shape[0] == 1`` is a 2D patch, which is only turned and scaled in y-x.
    """
    if cfg is None:
        return Draw()
    planar = any(int(shape[0]) == 1 for shape, _ in grids)
    flip_perm = _signed_permutation(cfg, rng, grids, planar)
    affine = None
    if cfg.rotate_deg > 0 and rng.random() < cfg.rotate_prob:
        affine = np.eye(3)
        for name in ("z",) if planar else cfg.rotate_axes:
            angle = math.radians(float(rng.uniform(-cfg.rotate_deg, cfg.rotate_deg)))
            affine = _rotation(_AXIS[name], angle) @ affine
    if cfg.scale_prob > 0 and rng.random() < cfg.scale_prob:
        iso = float(rng.uniform(*cfg.scale_range))
        factors = iso * rng.uniform(1 - cfg.anisotropic_scale, 1 + cfg.anisotropic_scale, 3)
        if planar:
            factors[0] = 1.0
        scaling = np.diag(1.0 / factors)
        affine = scaling if affine is None else affine @ scaling
    elastic = None
    if cfg.elastic_prob > 0 and rng.random() < cfg.elastic_prob:
        elastic = (int(rng.integers(1 << 31)), float(cfg.elastic_magnitude_nm), float(cfg.elastic_spacing_nm))
    contrast, brightness = 1.0, 0.0
    if rng.random() < cfg.contrast_prob:
        contrast = 1.0 + float(rng.uniform(-cfg.intensity_scale, cfg.intensity_scale))
        brightness = float(rng.uniform(-cfg.intensity_shift, cfg.intensity_shift))
    gamma = float(np.exp(rng.uniform(*np.log(cfg.gamma_range)))) if rng.random() < cfg.gamma_prob else 1.0
    blur = float(rng.uniform(*cfg.blur_sigma_nm)) if rng.random() < cfg.blur_prob else 0.0
    noise = float(cfg.noise_std) if cfg.noise_std > 0 and rng.random() < cfg.noise_prob else 0.0
    return Draw(flip_perm, affine, elastic, contrast, brightness, gamma, blur, noise)


def apply_flip_perm(volume: np.ndarray, flip_perm: np.ndarray) -> np.ndarray:
    """``out[..., i] = volume[..., j]`` with ``world(j) = flip_perm @ out(i)``, as a numpy view.

    `volume` is ``(..., z, y, x)`` on a grid centred like the output, the axes that trade
    places having equal lengths.
    """
    lead = volume.ndim - 3
    src = [int(np.flatnonzero(flip_perm[:, a])[0]) for a in range(3)]   # world axis of output axis a
    out = np.transpose(volume, [*range(lead), *(lead + s for s in src)])
    flips = [lead + a for a in range(3) if flip_perm[src[a], a] < 0]
    return np.flip(out, axis=flips) if flips else out


def apply_intensity(raw: np.ndarray, d: Draw, rng: np.random.Generator, voxel_size_nm) -> np.ndarray:
    """Gamma, contrast and brightness, blur and noise on EM scaled to 0..1 (float32, in place)."""
    if d.gamma != 1.0:
        np.clip(raw, 0.0, 1.0, out=raw)
        np.power(raw, np.float32(d.gamma), out=raw)
    if d.contrast != 1.0 or d.brightness != 0.0:
        raw *= np.float32(d.contrast)
        raw += np.float32(d.brightness - 0.5 * (d.contrast - 1.0))   # contrast about mid-grey
    if d.blur_sigma_nm > 0:
        try:
            from scipy.ndimage import gaussian_filter
        except ImportError:
            raise ConfigError("`augment.blur_prob` > 0 needs scipy: pip install 'pycsc[train]' "
                              "(or pip install scipy), or set blur_prob = 0") from None

        sigma = [0.0] * (raw.ndim - 3) + [d.blur_sigma_nm / float(v) if n > 1 else 0.0
                                           for v, n in zip(voxel_size_nm, raw.shape[-3:])]
        gaussian_filter(raw, sigma, output=raw, truncate=3.0)
    if d.noise_std > 0:
        raw += rng.standard_normal(size=raw.shape, dtype=np.float32) * np.float32(d.noise_std)
    return raw
