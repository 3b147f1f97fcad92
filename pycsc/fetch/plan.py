"""What to download: every ground-truth key of the chosen crops, and the EM chunks around them.

For each crop and each EM level kept (the annotation's resolution and coarser ones, or all
with ``all_resolutions``), the crop box maps to the level's voxels (``raw_padding`` more on
each side, clamped to the array), and every chunk touched is planned::

    EM level k chunks  +-----+-----+-----+-----+
                       |     |  ###|##   |     |     ### crop box (+ padding)
                       |     |  ###|##   |     |     planned: the 2 chunks it touches
                       +-----+-----+-----+-----+

A level is kept when ``level_voxel_size / annotation_voxel_size > 0.8`` on every axis (the
official rule), and never when an axis has length 1. Chunk keys are built from the level's
metadata (zarr v2 ``dimension_separator``, or the v3 chunk key encoding), whether or not
the chunk exists: absent chunks read as the fill value, so a 404 on a chunk is not an error.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ..io.geometry import VoxelGrid, chunk_indices
from ..io.manifest import CropRow
from ..io.ngff import parse_multiscales
from ..io.s3 import S3Client
from .crawl import Crawl, CropSource, dataset_root

LEVEL_RATIO = 0.8


@dataclass(frozen=True)
class Item:
    """One object to copy. `required`: a 404 is an error (metadata, listed keys)."""

    key: str
    size: int | None = None
    etag: str | None = None
    required: bool = True


@dataclass(frozen=True)
class EmLevel:
    path: str
    grid: VoxelGrid
    chunks: tuple[int, ...]
    key_prefix: str          # prepended to the joined chunk index
    separator: str

    def chunk_key(self, index) -> str:
        return self.key_prefix + self.separator.join(str(i) for i in index)


@dataclass(frozen=True)
class EmSource:
    dataset: str
    prefix: str                       # ".../em/fibsem-uint8/"
    levels: tuple[EmLevel, ...]
    metadata_keys: tuple[str, ...]     # required: the multiscale attributes, each level's array metadata
    optional_keys: tuple[str, ...] = ()  # copied when present: .zgroup, level .zattrs


@dataclass
class CropPlan:
    crop: CropSource
    gt_items: list[Item] = field(default_factory=list)
    em_items: list[Item] = field(default_factory=list)
    em_levels: list[str] = field(default_factory=list)


@dataclass
class FetchPlan:
    crops: list[CropPlan]
    items: list[Item]                 # deduplicated, metadata first
    rows: list[CropRow]
    metadata: dict[str, bytes]
    warnings: list[str]


def _json(client: S3Client, key: str, cache: dict[str, bytes], missing_ok: bool = False) -> dict | None:
    if key not in cache:
        data = client.get(key, missing_ok=missing_ok)
        if data is None:
            return None
        cache[key] = data
    return json.loads(cache[key])


def _level(client: S3Client, prefix: str, path: str, voxel_size, translation, v3: bool,
           cache: dict[str, bytes]) -> tuple[EmLevel, str]:
    base = f"{prefix}{path}/"
    if v3:
        key = f"{base}zarr.json"
        doc = _json(client, key, cache)
        chunks = tuple(doc["chunk_grid"]["configuration"]["chunk_shape"])
        enc = doc.get("chunk_key_encoding", {"name": "default"})
        sep = enc.get("configuration", {}).get("separator", "/" if enc["name"] == "default" else ".")
        key_prefix = base + (f"c{sep}" if enc["name"] == "default" else "")
    else:
        key = f"{base}.zarray"
        doc = _json(client, key, cache)
        chunks, sep, key_prefix = tuple(doc["chunks"]), doc.get("dimension_separator") or ".", base
    grid = VoxelGrid(voxel_size, translation, tuple(doc["shape"])[-len(voxel_size):])
    return EmLevel(path, grid, tuple(chunks)[-len(voxel_size):], key_prefix, sep), key


def read_em(client: S3Client, dataset: str, alignment: str, raw_name: str,
            cache: dict[str, bytes]) -> EmSource | None:
    """The EM multiscale group's levels, or None where the dataset has none."""
    prefix = f"{dataset_root(dataset)}/{alignment}/{raw_name.strip('/')}/"
    attrs = _json(client, f"{prefix}.zattrs", cache, missing_ok=True)
    v3 = attrs is None
    if v3:
        doc = _json(client, f"{prefix}zarr.json", cache, missing_ok=True)
        if doc is None:
            return None
        attrs = doc.get("attributes", {})
    ms = parse_multiscales(attrs, client.url(prefix))
    keys = [f"{prefix}zarr.json"] if v3 else [f"{prefix}.zattrs"]
    optional = [] if v3 else [f"{prefix}.zgroup"]
    with ThreadPoolExecutor(max(1, min(len(ms.levels), 8))) as pool:
        found = list(pool.map(lambda lv: _level(client, prefix, lv.path, lv.voxel_size, lv.translation,
                                                v3, cache), ms.levels))
    levels = [level for level, _ in found]
    keys += [key for _, key in found]
    if not v3:
        optional += [f"{prefix}{lv.path}/.zattrs" for lv in ms.levels]
    return EmSource(dataset, prefix, tuple(levels), tuple(keys), tuple(optional))


def select_levels(em: EmSource, reference_nm, all_resolutions: bool) -> list[EmLevel]:
    """EM levels to fetch for an annotation at voxel size `reference_nm`."""
    ref = [round(float(v), 4) for v in reference_nm]
    threshold = 0.0 if all_resolutions else LEVEL_RATIO
    return [lv for lv in em.levels
            if min(lv.grid.shape) > 1
            and all(v / r > threshold for v, r in zip(lv.grid.voxel_size, ref))]


def em_chunk_keys(level: EmLevel, crop: VoxelGrid, padding: int) -> list[str]:
    region = level.grid.slices_covering(crop.box, padding)
    return [level.chunk_key(i) for i in chunk_indices(region, level.chunks)]


def hierarchy_keys(dataset: str, alignment: str, raw_name: str) -> list[str]:
    """Metadata of the groups above the arrays, copied when present (zarr v2 and v3)."""
    root = dataset_root(dataset)
    raw_parent = raw_name.strip("/").rsplit("/", 1)[0] if "/" in raw_name.strip("/") else ""
    nodes = [root, f"{root}/{alignment}", f"{root}/{alignment}/labels",
             f"{root}/{alignment}/labels/groundtruth"]
    if raw_parent:
        nodes.append(f"{root}/{alignment}/{raw_parent}")
    return [f"{n}/{name}" for n in nodes for name in (".zgroup", ".zattrs", "zarr.json")]


def build_plan(client: S3Client, found: Crawl, alignment: str, raw_name: str, raw_padding: int,
               all_resolutions: bool, workers: int = 16) -> FetchPlan:
    """Turn crawled crops into the list of keys to copy."""
    cache = found.metadata
    warnings = list(found.warnings)
    names = sorted({c.dataset for c in found.crops})
    with ThreadPoolExecutor(max(1, min(workers, len(names) or 1))) as pool:
        ems = dict(zip(names, pool.map(lambda d: read_em(client, d, alignment, raw_name, cache), names)))
    plans, meta_items, seen_ds = [], [], set()
    for crop in found.crops:
        if crop.dataset not in seen_ds:
            seen_ds.add(crop.dataset)
            meta_items += [Item(k, required=False) for k in hierarchy_keys(crop.dataset, alignment, raw_name)]
            if ems[crop.dataset] is None:
                warnings.append(f"{crop.dataset}: no EM group {raw_name}; its EM is skipped")
            else:
                meta_items += [Item(k) for k in ems[crop.dataset].metadata_keys]
                meta_items += [Item(k, required=False) for k in ems[crop.dataset].optional_keys]
        plan = CropPlan(crop, [Item(o.key, o.size, o.etag) for o in crop.objects])
        em = ems[crop.dataset]
        if em is not None and crop.grid is not None:
            for level in select_levels(em, crop.grid.voxel_size, all_resolutions):
                plan.em_levels.append(level.path)
                plan.em_items += [Item(k, required=False) for k in em_chunk_keys(level, crop.grid, raw_padding)]
        elif em is not None:
            warnings.append(f"crop{crop.crop_id} ({crop.dataset}): annotation geometry unknown; EM skipped")
        plans.append(plan)
    items, seen = [], set()
    for item in meta_items + [i for p in plans for i in p.gt_items] + [i for p in plans for i in p.em_items]:
        if item.key not in seen:
            seen.add(item.key)
            items.append(item)
    rows = [r for c in found.crops if not c.test for r in c.rows]
    return FetchPlan(plans, items, rows, cache, warnings)


__all__ = ["Item", "EmLevel", "EmSource", "CropPlan", "FetchPlan", "read_em", "select_levels",
           "em_chunk_keys", "hierarchy_keys", "build_plan", "LEVEL_RATIO"]
