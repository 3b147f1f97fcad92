"""Analytic solids with signed distances (nm; negative inside), evaluated on coordinate blocks.

Coordinates come as three broadcastable arrays ``z[:, None, None], y[None, :, None],
x[None, None, :]`` (voxel centres in nm), so a shape can be sampled on any grid: the EM at
its finest level and every crop at its own voxel size see the same world.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random 3x3 rotation (QR of a Gaussian matrix, sign-fixed)."""
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def random_direction(rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal(3)
    return v / np.linalg.norm(v)


def _local(z, y, x, centre, rotation):
    """Coordinates in the shape's frame: ``R^T (p - c)``, one broadcast array per axis."""
    dz, dy, dx = z - centre[0], y - centre[1], x - centre[2]
    r = rotation
    return (r[0, 0] * dz + r[1, 0] * dy + r[2, 0] * dx,
            r[0, 1] * dz + r[1, 1] * dy + r[2, 1] * dx,
            r[0, 2] * dz + r[1, 2] * dy + r[2, 2] * dx)


@dataclass(frozen=True)
class Ellipsoid:
    """Ellipsoid with semi-axes `radii` along the columns of `rotation`."""

    centre: tuple[float, float, float]
    radii: tuple[float, float, float]
    rotation: np.ndarray

    @property
    def bound(self) -> float:
        return float(max(self.radii))

    def local(self, z, y, x):
        return _local(z, y, x, self.centre, self.rotation)

    def sdf(self, z, y, x) -> np.ndarray:
        # First-order distance estimate k0 (k0 - 1) / k1: exact for spheres, close for the
        # mild eccentricities used here.
        a, b, c = self.local(z, y, x)
        ra, rb, rc = self.radii
        k0 = np.sqrt((a / ra) ** 2 + (b / rb) ** 2 + (c / rc) ** 2)
        k1 = np.sqrt((a / ra ** 2) ** 2 + (b / rb ** 2) ** 2 + (c / rc ** 2) ** 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            d = k0 * (k0 - 1.0) / k1
        return np.where(k1 > 0, d, -min(self.radii))

    def surface_point(self, direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Point on the surface along the local `direction`, and the outward unit normal."""
        r = np.asarray(self.radii)
        p_local = direction / np.sqrt(np.sum((direction / r) ** 2))
        n_local = p_local / r ** 2
        point = np.asarray(self.centre) + self.rotation @ p_local
        normal = self.rotation @ (n_local / np.linalg.norm(n_local))
        return point, normal


@dataclass(frozen=True)
class Capsules:
    """Union of capsules (segments ``points[i] -> points[i+1]`` thickened by `radius`)."""

    points: np.ndarray  # (n, 3), n >= 2
    radius: float

    @property
    def centre(self) -> tuple[float, float, float]:
        lo, hi = self.points.min(axis=0), self.points.max(axis=0)
        return tuple((lo + hi) / 2)

    @property
    def bound(self) -> float:
        lo, hi = self.points.min(axis=0), self.points.max(axis=0)
        return float(np.linalg.norm(hi - lo) / 2 + self.radius)

    def axis_distance(self, z, y, x) -> np.ndarray:
        """Distance to the nearest segment, exact within `radius` of it (else possibly inf).

        Each segment is evaluated only on the part of the block within its own bounding box,
        since long tubes have large but mostly empty boxes.
        """
        axes = (np.ravel(z), np.ravel(y), np.ravel(x))
        best = np.full((axes[0].size, axes[1].size, axes[2].size), np.inf)
        for p0, p1 in zip(self.points[:-1], self.points[1:]):
            lo = np.minimum(p0, p1) - self.radius
            hi = np.maximum(p0, p1) + self.radius
            sl = tuple(slice(int(np.searchsorted(a, l)), int(np.searchsorted(a, h, side="right")))
                       for a, l, h in zip(axes, lo, hi))
            if any(s.stop <= s.start for s in sl):
                continue
            zz, yy, xx = axes[0][sl[0], None, None], axes[1][None, sl[1], None], axes[2][None, None, sl[2]]
            d = p1 - p0
            t = np.clip(((zz - p0[0]) * d[0] + (yy - p0[1]) * d[1] + (xx - p0[2]) * d[2]) / float(d @ d),
                        0.0, 1.0)
            dist = np.sqrt((zz - p0[0] - t * d[0]) ** 2 + (yy - p0[1] - t * d[1]) ** 2
                           + (xx - p0[2] - t * d[2]) ** 2)
            np.minimum(best[sl], dist, out=best[sl])
        return best

    def sdf(self, z, y, x) -> np.ndarray:
        return self.axis_distance(z, y, x) - self.radius


@dataclass(frozen=True)
class Union:
    """Union of several solids (minimum of their distances)."""

    parts: tuple

    @property
    def centre(self) -> tuple[float, float, float]:
        return tuple(np.mean([p.centre for p in self.parts], axis=0))

    @property
    def bound(self) -> float:
        c = np.asarray(self.centre)
        return float(max(np.linalg.norm(np.asarray(p.centre) - c) + p.bound for p in self.parts))

    def sdf(self, z, y, x) -> np.ndarray:
        out = None
        for p in self.parts:
            d = p.sdf(z, y, x)
            out = d if out is None else np.minimum(out, d)
        return out


__all__ = ["random_rotation", "random_direction", "Ellipsoid", "Capsules", "Union"]
