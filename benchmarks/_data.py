"""Seeded synthetic volumes shared by the benchmark scripts.

The generators follow /work/shared/spec/performance.md appendix A, so numbers measured here can
be compared with the anchors there (``ell600 = ellipsoid_labels(600, 10000, rmin=3, rmax=12,
seed=11)``). Import them from a script in this folder: ``from _data import ellipsoid_labels``.
scipy is used by :func:`blob_volume` only, and only here: benchmarks may use the test oracles.
"""

from __future__ import annotations

import time
from statistics import median
from typing import Callable

import numpy as np


def blob_volume(n: int = 256, sigma: float = 2.0, frac: float = 0.3, seed: int = 0) -> np.ndarray:
    """Gaussian-smoothed noise thresholded to ``frac`` foreground, as uint8 0/1 (n^3 voxels)."""
    from scipy import ndimage as ndi

    rng = np.random.default_rng(seed)
    f = ndi.gaussian_filter(rng.standard_normal((n, n, n), dtype=np.float32), sigma)
    return (f > np.quantile(f[::4, ::4, ::4], 1 - frac)).astype(np.uint8)


def noise_volume(n: int = 256, density: float = 0.5, seed: int = 0) -> np.ndarray:
    """Uniform noise at ``density`` as uint8 0/1; at 0.5 it percolates (union-find worst case)."""
    rng = np.random.default_rng(seed)
    return (rng.random((n, n, n), dtype=np.float32) < density).astype(np.uint8)


def ellipsoid_labels(
    n: int = 400,
    count: int = 3000,
    rmin: float = 3,
    rmax: float = 10,
    seed: int = 1,
    dtype: np.dtype | type = np.uint32,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """An n^3 volume of ``count`` axis-aligned ellipsoids with ids 1..count.

    Radii are uniform in [rmin, rmax) per axis, centres uniform in the volume; later ellipsoids
    overwrite earlier ones, so some ids vanish or are split. A given ``rng`` (instead of
    ``seed``) lets a caller draw further random data from the same stream afterwards.
    """
    rng = np.random.default_rng(seed) if rng is None else rng
    lab = np.zeros((n, n, n), dtype)
    for i in range(1, count + 1):
        r = rng.uniform(rmin, rmax, 3)
        c = rng.uniform(0, n, 3)
        lo = np.maximum(np.floor(c - r).astype(int), 0)
        hi = np.minimum(np.ceil(c + r).astype(int) + 1, n)
        if np.any(hi <= lo):
            continue
        zz, yy, xx = np.ogrid[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
        m = ((zz - c[0]) / r[0]) ** 2 + ((yy - c[1]) / r[1]) ** 2 + ((xx - c[2]) / r[2]) ** 2 <= 1
        lab[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]][m] = i
    return lab


def ell600(n: int = 600) -> np.ndarray:
    """The full-size anchor volume (216 M voxels at n = 600); smaller n keeps the density."""
    count = max(1, round(10000 * (n / 600) ** 3))
    return ellipsoid_labels(n, count, rmin=3, rmax=12, seed=11)


def time_call(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> float:
    """Median wall time in seconds of ``fn()`` over ``repeat`` calls after ``warmup`` calls."""
    return time_call_cpu(fn, repeat, warmup)[0]


def time_call_cpu(
    fn: Callable[[], object], repeat: int = 5, warmup: int = 1
) -> tuple[float, float]:
    """Median wall time and median process CPU time (user + system, all threads) in seconds.

    On a shared machine the CPU time is the steadier measure of work: other jobs stretch the
    wall time of a call but not the CPU time it consumes (kernel page zeroing included).
    """
    for _ in range(warmup):
        fn()
    walls, cpus = [], []
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return median(walls), median(cpus)


def write_multiscale(group, levels, vs0):
    """An OME-NGFF 0.4 multiscale zarr-2 group: `levels[k]` at voxel size vs0 * 2**k, 64^3 chunks."""
    import zarr

    g = zarr.open_group(str(group), mode="w", zarr_format=2)
    datasets = []
    for k, data in enumerate(levels):
        vs = [v * 2 ** k for v in vs0]
        tr = [(v - v0) / 2 for v, v0 in zip(vs, vs0)]
        a = g.create_array(f"s{k}", shape=data.shape, dtype=data.dtype, chunks=(64, 64, 64),
                           chunk_key_encoding={"name": "v2", "separator": "/"})
        a[:] = data
        datasets.append({"path": f"s{k}", "coordinateTransformations": [
            {"type": "scale", "scale": vs}, {"type": "translation", "translation": tr}]})
    g.attrs["multiscales"] = [{"version": "0.4", "axes": [{"name": a, "type": "space", "unit": "nanometer"}
                                                           for a in "zyx"], "datasets": datasets}]
