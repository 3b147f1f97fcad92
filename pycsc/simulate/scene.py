"""A random, analytic "tissue": cells tiling space with organelles inside.

Cells are the Voronoi regions of random seeds, separated by extracellular space (``ecs``)
and wrapped in plasma membrane (``pm``); the rest of a cell is ``cyto``. Organelles are
solids with a membrane shell and a lumen (plus cristae and ribosomes for mitochondria; an
envelope, pores and chromatin for nuclei). Everything is defined in nanometres, so
:mod:`.raster` can sample the same scene on any grid. Same seed, same scene.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..io.geometry import Box
from .shapes import Capsules, Ellipsoid, Union, random_direction, random_rotation

#: (min, max) sizes in nm: radius for round organelles, (long, short) radii for mito.
SIZES_NM = {
    "ves": (18.0, 40.0), "lyso": (90.0, 200.0), "endo": (80.0, 170.0), "ld": (110.0, 260.0),
    "perox": (60.0, 120.0), "mito_long": (150.0, 380.0), "mito_short": (80.0, 130.0),
    "er_radius": (22.0, 34.0), "eres": (30.0, 45.0), "golgi_radius": (180.0, 380.0),
}
#: Mean number per cubic micrometre of view; every kind appears at least `MIN_COUNT` times.
DENSITY_PER_UM3 = {"golgi": 0.6, "mito": 5.0, "lyso": 2.5, "endo": 2.5, "perox": 2.5,
                   "ld": 1.2, "ves": 90.0, "er": 14.0, "mt": 5.0}
MIN_COUNT = {"golgi": 1, "mito": 2, "lyso": 1, "endo": 1, "perox": 1, "ld": 1, "ves": 4,
             "er": 3, "mt": 2}
MEMBRANE_NM = 8.0


@dataclass(frozen=True)
class Organelle:
    """One object: `kind` picks its painter in :mod:`.raster`; ids are unique per scene."""

    kind: str
    obj_id: int
    cell: int
    shape: object
    membrane_nm: float = MEMBRANE_NM


@dataclass(frozen=True)
class Mito(Organelle):
    cristae_period_nm: float = 45.0
    ribosomes: tuple = ()          # ((z, y, x), ...)
    ribosome_radius_nm: float = 11.0


@dataclass(frozen=True)
class Nucleus(Organelle):
    lumen_nm: float = 16.0
    band_nm: float = 40.0          # heterochromatin band under the envelope
    pores: tuple = ()              # ((pore_id, centre, normal), ...)
    pore_radius_nm: float = 40.0
    chromatin: tuple = ()          # ((centre, radius, atomic_id), ...)


@dataclass(frozen=True)
class Cells:
    """Voronoi cells of `seeds` (ids 1..K), ECS of half-width `ecs_half_nm` between them."""

    seeds: np.ndarray
    ecs_half_nm: float = 14.0
    pm_nm: float = MEMBRANE_NM

    def bisector_distance(self, z, y, x) -> tuple[np.ndarray, np.ndarray]:
        """Nearest seed index and distance to the boundary with the second nearest."""
        d = np.stack(np.broadcast_arrays(*[(z - s[0]) ** 2 + (y - s[1]) ** 2 + (x - s[2]) ** 2
                                           for s in self.seeds]))
        first = np.argmin(d, axis=0)[None]
        d1 = np.take_along_axis(d, first, 0)
        np.put_along_axis(d, first, np.inf, 0)
        second = np.argmin(d, axis=0)[None]
        d2 = np.take_along_axis(d, second, 0)
        sep = np.linalg.norm(self.seeds[first[0]] - self.seeds[second[0]], axis=-1)
        return first[0], ((d2 - d1) / (2 * sep))[0]


@dataclass(frozen=True)
class Scene:
    cells: Cells
    organelles: tuple = field(default_factory=tuple)


def _point_cell(cells: Cells, p: np.ndarray) -> tuple[int, float]:
    first, h = cells.bisector_distance(*(np.asarray([v]) for v in p))
    return int(first[0]) + 1, float(h[0])


class _Placer:
    """Rejection sampling of organelle centres inside cytoplasm, without overlaps."""

    def __init__(self, cells: Cells, view: Box, rng: np.random.Generator):
        self.cells, self.view, self.rng = cells, view, rng
        self.occupied: list[tuple[np.ndarray, float, int]] = []

    def sample(self, radius: float, tries: int = 60) -> tuple[np.ndarray, int] | None:
        lo, hi = np.asarray(self.view.start), np.asarray(self.view.stop)
        for _ in range(tries):
            p = lo + self.rng.random(3) * (hi - lo)
            cell, h = _point_cell(self.cells, p)
            if h < self.cells.ecs_half_nm + self.cells.pm_nm + 0.6 * radius:
                continue
            if self.occupied:
                centres = np.asarray([q for q, _, _ in self.occupied])
                radii = np.asarray([r for _, r, _ in self.occupied])
                if np.any(np.linalg.norm(centres - p, axis=1) < radius + radii + 12.0):
                    continue
            self.occupied.append((p, radius, cell))
            return p, cell
        return None


def _count(kind: str, volume_um3: float, rng: np.random.Generator) -> int:
    return max(MIN_COUNT[kind], int(rng.poisson(DENSITY_PER_UM3[kind] * volume_um3)))


def _uniform(rng, key):
    lo, hi = SIZES_NM[key]
    return float(rng.uniform(lo, hi))


def build_scene(view: Box, rng: np.random.Generator, cell_spacing_nm: float = 1200.0) -> Scene:
    """Random cells and organelles covering `view` (nm box)."""
    region = view.grow(cell_spacing_nm / 2)
    size = np.asarray(region.size)
    n_seeds = max(2, int(round(np.prod(size) / cell_spacing_nm ** 3)))
    seeds: list[np.ndarray] = []
    while len(seeds) < n_seeds:
        p = np.asarray(region.start) + rng.random(3) * size
        if all(np.linalg.norm(p - s) > 0.6 * cell_spacing_nm for s in seeds) or rng.random() < 0.02:
            seeds.append(p)
    cells = Cells(np.asarray(seeds))
    placer = _Placer(cells, view, rng)
    volume_um3 = float(np.prod(view.size)) / 1e9
    ids = iter(range(1, 1 << 31))
    out: list[Organelle] = []

    pore_ids = iter(range(1, 1 << 31))
    for k, s in enumerate(cells.seeds):
        if rng.random() > 0.8:
            continue
        others = np.delete(cells.seeds, k, axis=0)
        base = 0.33 * float(np.min(np.linalg.norm(others - s, axis=1)))
        shape = Ellipsoid(tuple(s), (base, base * rng.uniform(0.8, 1.0), base * rng.uniform(0.65, 0.85)),
                          random_rotation(rng))
        placer.occupied.append((s, base, k + 1))
        pores = tuple((next(pore_ids), *shape.surface_point(random_direction(rng)))
                      for _ in range(int(8 + base ** 2 / 2.0e4)))
        chrom = tuple((tuple(np.asarray(s) + shape.rotation @ (random_direction(rng) * rng.uniform(0, 0.7)
                                                                * np.asarray(shape.radii))),
                       float(rng.uniform(0.06, 0.14) * base), 24 if rng.random() < 0.4 else 26)
                      for _ in range(10))
        out.append(Nucleus("nuc", next(ids), k + 1, shape, pores=pores, chromatin=chrom))

    for _ in range(_count("golgi", volume_um3, rng)):
        radius = _uniform(rng, "golgi_radius")
        got = placer.sample(radius)
        if got is None:
            continue
        (c, cell), rot = got, random_rotation(rng)
        n_cist = int(rng.integers(3, 6))
        disks = tuple(Ellipsoid(tuple(c + rot[:, 2] * (i - (n_cist - 1) / 2) * 55.0),
                                (radius * rng.uniform(0.8, 1.0), radius * rng.uniform(0.5, 0.8), 18.0), rot)
                      for i in range(n_cist))
        out.append(Organelle("golgi", next(ids), cell, Union(disks)))

    for _ in range(_count("mito", volume_um3, rng)):
        long_r, short_r = _uniform(rng, "mito_long"), _uniform(rng, "mito_short")
        got = placer.sample(long_r)
        if got is None:
            continue
        c, cell = got
        shape = Ellipsoid(tuple(c), (long_r, short_r, short_r * rng.uniform(0.8, 1.0)), random_rotation(rng))
        ribos = tuple(tuple(c + shape.rotation @ (random_direction(rng) * rng.uniform(0, 0.6)
                                                  * np.asarray(shape.radii)))
                      for _ in range(int(rng.integers(2, 7))))
        out.append(Mito("mito", next(ids), cell, shape, cristae_period_nm=rng.uniform(38, 55),
                        ribosomes=ribos))

    for kind in ("lyso", "endo", "perox", "ld", "ves"):
        for _ in range(_count(kind, volume_um3, rng)):
            r = _uniform(rng, kind)
            got = placer.sample(r)
            if got is None:
                continue
            c, cell = got
            radii = (r, r * rng.uniform(0.85, 1.0), r * rng.uniform(0.85, 1.0))
            out.append(Organelle(kind, next(ids), cell, Ellipsoid(tuple(c), radii, random_rotation(rng)),
                                 membrane_nm=5.0 if kind == "ld" else MEMBRANE_NM))

    lo, hi = np.asarray(view.start), np.asarray(view.stop)
    for _ in range(_count("er", volume_um3, rng)):
        p = lo + rng.random(3) * (hi - lo)
        cell, h = _point_cell(cells, p)
        if h < cells.ecs_half_nm + 40:
            continue
        points, d = [p], random_direction(rng)
        for _ in range(int(rng.integers(3, 9))):
            d = d + 0.8 * random_direction(rng)
            d /= np.linalg.norm(d)
            points.append(points[-1] + d * rng.uniform(80, 200))
        pts = np.asarray(points)
        out.append(Organelle("er", next(ids), cell, Capsules(pts, _uniform(rng, "er_radius"))))
        if rng.random() < 0.5:
            r = _uniform(rng, "eres")
            out.append(Organelle("eres", next(ids), cell,
                                 Ellipsoid(tuple(pts[-1]), (r, r, r), np.eye(3))))

    for _ in range(_count("mt", volume_um3, rng)):
        p = lo + rng.random(3) * (hi - lo)
        cell, h = _point_cell(cells, p)
        if h < cells.ecs_half_nm + 40:
            continue
        d = random_direction(rng) * rng.uniform(800, 2500) / 2
        out.append(Organelle("mt", next(ids), cell, Capsules(np.asarray([p - d, p + d]), 12.5),
                             membrane_nm=5.5))
    return Scene(cells, tuple(out))


__all__ = ["Organelle", "Mito", "Nucleus", "Cells", "Scene", "build_scene", "SIZES_NM",
           "DENSITY_PER_UM3", "MIN_COUNT"]
