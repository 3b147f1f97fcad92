"""FIB-SEM-like uint8 intensities from atomic labels, and 2x average pyramids.

Each class gets a mean grey level (membranes and dense lumens dark, extracellular space and
lipid light, as in stained FIB-SEM), cytoplasm gets ribosome-like dark speckles, then the
image is blurred by a small point-spread function, modulated by slow illumination
variation and given grain noise. Organelles stay recognisable by contrast and texture
(cristae stripes, membrane rims, chromatin), which is what a network has to learn.
Blurs are repeated box filters (cumulative sums): no SciPy at run time.
"""

from __future__ import annotations

import numpy as np

from ..io.classes import CLASS_IDS as C

_GREY = {
    "ecs": 205, "pm": 55, "cyto": 160, "mito_mem": 50, "mito_lum": 120, "mito_ribo": 40,
    "golgi_mem": 60, "golgi_lum": 175, "ves_mem": 60, "ves_lum": 185, "endo_mem": 60,
    "endo_lum": 150, "lyso_mem": 45, "lyso_lum": 75, "ld_mem": 90, "ld_lum": 215,
    "er_mem": 60, "er_lum": 178, "eres_mem": 60, "eres_lum": 170, "ne_mem": 50,
    "ne_lum": 170, "np_out": 70, "np_in": 110, "hchrom": 80, "echrom": 118, "nucpl": 142,
    "mt_out": 65, "mt_in": 150, "perox_mem": 55, "perox_lum": 100,
}
LUT = np.full(256, 128.0, np.float32)
for _name, _grey in _GREY.items():
    LUT[C[_name]] = _grey


def box_blur(a: np.ndarray, radius: int, axis: int) -> np.ndarray:
    """Mean over ``2 radius + 1`` neighbours along `axis`, edges replicated (float32)."""
    if radius <= 0 or a.shape[axis] == 0:
        return a.astype(np.float32, copy=False)
    pad = [(0, 0)] * a.ndim
    pad[axis] = (radius + 1, radius)
    c = np.cumsum(np.pad(a, pad, mode="edge"), axis=axis, dtype=np.float64)
    n = a.shape[axis]
    hi = [slice(None)] * a.ndim
    lo = [slice(None)] * a.ndim
    hi[axis], lo[axis] = slice(2 * radius + 1, 2 * radius + 1 + n), slice(0, n)
    return ((c[tuple(hi)] - c[tuple(lo)]) / (2 * radius + 1)).astype(np.float32)


def smooth(a: np.ndarray, radius: int, passes: int = 2) -> np.ndarray:
    """Approximately Gaussian blur: `passes` box blurs per axis."""
    out = a.astype(np.float32, copy=False)
    for _ in range(passes):
        for ax in range(a.ndim):
            out = box_blur(out, radius, ax)
    return out


def em_texture(atomic: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """uint8 EM-like image of the atomic label volume `atomic`."""
    img = LUT[atomic]
    speckle = (atomic == C["cyto"]) & (rng.random(atomic.shape, dtype=np.float32) < 0.04)
    img[speckle] -= 70.0
    img = smooth(img, 1, passes=1)
    illumination = smooth(rng.standard_normal(atomic.shape, dtype=np.float32), 3, passes=2)
    illumination *= 8.0 / max(float(illumination.std()), 1e-6)
    grain = smooth(rng.standard_normal(atomic.shape, dtype=np.float32), 1, passes=1)
    grain *= 12.0 / max(float(grain.std()), 1e-6)
    img += illumination + grain
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def downsample_mean(a: np.ndarray) -> np.ndarray:
    """2x2x2 block mean (uint8, rounded half up); odd trailing planes are dropped."""
    z, y, x = (s // 2 for s in a.shape)
    b = a[: 2 * z, : 2 * y, : 2 * x].astype(np.uint16).reshape(z, 2, y, 2, x, 2)
    return ((b.sum(axis=(1, 3, 5)) + 4) // 8).astype(np.uint8)


__all__ = ["LUT", "box_blur", "smooth", "em_texture", "downsample_mean"]
