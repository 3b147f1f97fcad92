"""Sample a :class:`~.scene.Scene` on a voxel grid, and derive the per-class label arrays.

A voxel takes the label of the scene at its centre. Membranes are at least one voxel
(the largest voxel side) thick, so that a coarse annotation still draws them, as human
annotators do. Every organelle paints only over the cytoplasm of its own cell (nuclear
chromatin and pores over the nucleus's own voxels, ER exit sites over ER too), so objects
never overwrite each other and stay inside their cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..io.classes import CLASS_IDS as C
from ..io.classes import atomic_ids, is_instance_class
from ..io.geometry import Box, VoxelGrid
from .scene import Mito, Nucleus, Organelle, Scene

_TWO_LAYER = {"ves": (C["ves_mem"], C["ves_lum"]), "lyso": (C["lyso_mem"], C["lyso_lum"]),
              "endo": (C["endo_mem"], C["endo_lum"]), "ld": (C["ld_mem"], C["ld_lum"]),
              "perox": (C["perox_mem"], C["perox_lum"]), "er": (C["er_mem"], C["er_lum"]),
              "eres": (C["eres_mem"], C["eres_lum"]), "golgi": (C["golgi_mem"], C["golgi_lum"]),
              "mt": (C["mt_out"], C["mt_in"]), "mito": (C["mito_mem"], C["mito_lum"])}
_PAINTS_OVER = {"eres": np.array([C["cyto"], C["er_mem"], C["er_lum"]], np.uint8)}
_CYTO_ONLY = np.array([C["cyto"]], np.uint8)


@dataclass
class Raster:
    """Scene sampled on a grid: atomic class ids, cell ids, organelle ids, pore ids."""

    atomic: np.ndarray   # uint8, ids of classes.csv (0 nowhere: every voxel is ecs, pm, cyto or an organelle part)
    cell: np.ndarray     # uint32, 0 in ecs
    organelle: np.ndarray  # uint32, Organelle.obj_id
    pore: np.ndarray     # uint32, nuclear pore id


def _layers(d: np.ndarray, membrane: float, mem_id: int, lum_id: int) -> np.ndarray:
    out = np.zeros(d.shape, np.uint8)
    out[d <= 0] = lum_id
    out[(d <= 0) & (d > -membrane)] = mem_id
    return out


def _paint_mito(o: Mito, z, y, x, t: float) -> np.ndarray:
    d = o.shape.sdf(z, y, x)
    out = _layers(d, t, C["mito_mem"], C["mito_lum"])
    u = o.shape.local(z, y, x)[0]
    cristae = (np.mod(u, o.cristae_period_nm) < t) & (d < -2 * t)
    out[cristae] = C["mito_mem"]
    r = max(o.ribosome_radius_nm, 0.5 * t)
    for c in o.ribosomes:
        ribo = ((z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= r * r) & (out == C["mito_lum"])
        out[ribo] = C["mito_ribo"]
    return out


def _paint_nucleus(o: Nucleus, z, y, x, t: float) -> tuple[np.ndarray, np.ndarray]:
    d = o.shape.sdf(z, y, x)
    lumen = max(o.lumen_nm, t)
    out = np.zeros(d.shape, np.uint8)
    inside = d <= 0
    out[inside] = C["nucpl"]
    out[inside & (d > -(2 * t + lumen + o.band_nm))] = C["hchrom"]
    for c, r, cid in o.chromatin:
        blob = inside & ((z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= r * r)
        out[blob] = cid
    out[inside & (d > -(2 * t + lumen))] = C["ne_mem"]
    out[inside & (d <= -t) & (d > -(t + lumen))] = C["ne_lum"]
    pores = np.zeros(d.shape, np.uint32)
    half_depth = t + lumen / 2 + t / 2
    r_out, r_in = max(o.pore_radius_nm, t), max(o.pore_radius_nm / 2, t / 2)
    for pid, surf, normal in o.pores:
        centre = surf - normal * (t + lumen / 2)
        dz, dy, dx = z - centre[0], y - centre[1], x - centre[2]
        along = dz * normal[0] + dy * normal[1] + dx * normal[2]
        radial2 = dz * dz + dy * dy + dx * dx - along * along
        ring = (np.abs(along) <= half_depth) & (radial2 <= r_out * r_out) & inside
        out[ring] = C["np_out"]
        out[ring & (radial2 <= r_in * r_in)] = C["np_in"]
        pores[ring] = pid
    return out, pores


def _paint(o: Organelle, z, y, x, t: float) -> tuple[np.ndarray, np.ndarray | None]:
    if isinstance(o, Nucleus):
        return _paint_nucleus(o, z, y, x, t)
    if isinstance(o, Mito):
        return _paint_mito(o, z, y, x, t), None
    mem, lum = _TWO_LAYER[o.kind]
    return _layers(o.shape.sdf(z, y, x), max(o.membrane_nm, t), mem, lum), None


def rasterize(scene: Scene, grid: VoxelGrid) -> Raster:
    """Sample `scene` at the voxel centres of `grid`."""
    z = grid.centres(0)[:, None, None]
    y = grid.centres(1)[None, :, None]
    x = grid.centres(2)[None, None, :]
    t = max(grid.voxel_size)
    cells = scene.cells
    first, h = cells.bisector_distance(z, y, x)
    atomic = np.full(grid.shape, C["cyto"], np.uint8)
    atomic[h < cells.ecs_half_nm + max(cells.pm_nm, t)] = C["pm"]
    atomic[h < cells.ecs_half_nm] = C["ecs"]
    cell = np.where(atomic == C["ecs"], 0, first + 1).astype(np.uint32)
    organelle = np.zeros(grid.shape, np.uint32)
    pore = np.zeros(grid.shape, np.uint32)
    for o in scene.organelles:
        c, r = np.asarray(o.shape.centre), o.shape.bound + t
        sl = grid.slices_covering(Box(tuple(c - r), tuple(c + r)))
        if any(s.stop <= s.start for s in sl):
            continue
        labels, pores = _paint(o, z[sl[0]], y[:, sl[1]], x[:, :, sl[2]], t)
        tgt_atomic, tgt_org = atomic[sl], organelle[sl]
        allowed = (labels != 0) & (cell[sl] == o.cell) & np.isin(tgt_atomic, _PAINTS_OVER.get(o.kind, _CYTO_ONLY))
        tgt_atomic[allowed] = labels[allowed]
        tgt_org[allowed] = o.obj_id
        if pores is not None:
            pore[sl][allowed] = pores[allowed]
    return Raster(atomic, cell, organelle, pore)


def _consecutive(ids: np.ndarray) -> np.ndarray:
    """Renumber ids to 1..n in increasing order of the original id; 0 stays 0."""
    uniq, inverse = np.unique(ids, return_inverse=True)
    inverse = inverse.reshape(ids.shape)
    if uniq.size and uniq[0] != 0:
        inverse += 1
    return inverse.astype(np.uint32)


def class_volume(name: str, raster: Raster) -> np.ndarray:
    """The label array of class `name`: uint32 object ids for instance classes, uint8 0/1
    masks for semantic ones."""
    mask = np.isin(raster.atomic, np.asarray(atomic_ids(name), np.uint8))
    if not is_instance_class(name):
        return mask.astype(np.uint8)
    ids = raster.cell if name == "cell" else raster.pore if name == "np" else raster.organelle
    return _consecutive(np.where(mask, ids, 0))


def all_volume(classes, raster: Raster) -> np.ndarray:
    """The ``all`` array: atomic ids where an annotated class covers the voxel, else 0."""
    atoms = sorted({a for c in classes for a in atomic_ids(c)})
    return np.where(np.isin(raster.atomic, np.asarray(atoms, np.uint8)), raster.atomic, 0).astype(np.uint8)


__all__ = ["Raster", "rasterize", "class_volume", "all_volume"]
