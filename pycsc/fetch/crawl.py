"""Discover datasets, crops and classes by listing the bucket; no manifest download.

Bucket layout (spec: data.md sections 1-5)::

    <dataset>/<dataset>.zarr/<alignment>/labels/groundtruth/crop<N>/<class>/{.zattrs, s0/, s1/ ...}
    <dataset>/<dataset>.zarr/<alignment>/em/fibsem-uint8/{.zattrs, s0/, s1/ ...}

Datasets are the top-level prefixes that have a ``groundtruth`` folder; a crop's classes are
the folders below it. One recursive listing per crop gives every ground-truth key with its
size; the class metadata (``.zattrs`` and the finest level's ``.zarray``) is read to get
the annotation geometry for the manifest and for choosing the EM levels.
"""

from __future__ import annotations

import fnmatch
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ..errors import DataError, FetchError, InputError
from ..io.geometry import VoxelGrid
from ..io.manifest import CropRow, merge_by_crop, read_manifest
from ..io.ngff import parse_multiscales
from ..io.s3 import ObjectInfo, S3Client


@dataclass(frozen=True)
class CropSelection:
    """Which crops ``--crops`` asks for: crawled training crops, test crops, and/or ids."""

    train: bool = True
    test: bool = True
    ids: frozenset[int] | None = None

    def wants(self, crop_id: int, test: bool) -> bool:
        if self.ids is not None:
            return crop_id in self.ids
        return self.test if test else self.train


def parse_crops(text: str) -> CropSelection:
    """``all``, ``test`` or comma-separated ids (``12,crop34``).

    Examples
    --------
    >>> parse_crops("crop12, 34").ids == frozenset({12, 34})
    True
    """
    t = text.strip().lower()
    if t == "all":
        return CropSelection()
    if t == "test":
        return CropSelection(train=False)
    ids = set()
    for part in t.split(","):
        part = part.strip().removeprefix("crop")
        if not part.isdigit():
            raise InputError(f"`crops` must be 'all', 'test' or comma-separated crop ids; got {text!r}")
        ids.add(int(part))
    return CropSelection(ids=frozenset(ids))


@dataclass(frozen=True)
class CropSource:
    """A crop to fetch: its annotation geometry and (training crops) its ground-truth keys."""

    dataset: str
    crop_id: int
    grid: VoxelGrid | None            # finest annotation level; None if unreadable
    classes: tuple[str, ...]
    objects: tuple[ObjectInfo, ...] = ()
    test: bool = False
    rows: tuple[CropRow, ...] = ()


@dataclass
class Crawl:
    crops: list[CropSource] = field(default_factory=list)
    metadata: dict[str, bytes] = field(default_factory=dict)   # key -> bytes already read
    warnings: list[str] = field(default_factory=list)


def dataset_root(dataset: str) -> str:
    return f"{dataset}/{dataset}.zarr"


def gt_prefix(dataset: str, alignment: str) -> str:
    return f"{dataset_root(dataset)}/{alignment}/labels/groundtruth/"


def list_datasets(client: S3Client, patterns: tuple[str, ...]) -> list[str]:
    """Top-level prefixes of the bucket matching any of the glob `patterns` (all if none)."""
    names = client.list_prefixes("")
    return sorted(n for n in names if not patterns or any(fnmatch.fnmatchcase(n, p) for p in patterns))


def _array_shape(doc: dict) -> tuple[int, ...]:
    return tuple(int(s) for s in doc["shape"])


def _class_geometry(client: S3Client, prefix: str, cls: str, keys: set[str],
                    metadata: dict[str, bytes]) -> VoxelGrid:
    """s0 geometry of the class group `prefix + cls` (v2 ``.zattrs``/``.zarray`` or v3)."""
    def get_json(key: str) -> dict:
        if key not in keys:
            raise DataError(f"{client.url(key)} is not in the listing")
        if key not in metadata:
            metadata[key] = client.get(key)
        return json.loads(metadata[key])

    base = f"{prefix}{cls}/"
    v3 = f"{base}zarr.json" in keys
    attrs_doc = get_json(f"{base}zarr.json") if v3 else get_json(f"{base}.zattrs")
    attrs = attrs_doc.get("attributes", {}) if v3 else attrs_doc
    ms = parse_multiscales(attrs, client.url(base))
    finest = ms.finest()
    array_doc = get_json(f"{base}{finest.path}/zarr.json" if v3 else f"{base}{finest.path}/.zarray")
    return finest.grid(_array_shape(array_doc)[-len(finest.voxel_size):])


def _geometry_or_warning(client: S3Client, dataset: str, crop_id: int, prefix: str, cls: str,
                         keys: set[str], metadata: dict[str, bytes]) -> VoxelGrid | str:
    try:
        return _class_geometry(client, prefix, cls, keys, metadata)
    except FetchError:
        raise
    except (DataError, KeyError, ValueError) as exc:
        return (f"crop{crop_id} ({dataset}) class {cls}: unreadable metadata ({exc}); "
                "copied as is, left out of the manifest")


def _top(prefix: str, key: str) -> str | None:
    """First path component below `prefix` if `key` is inside a sub-folder, else None."""
    rest = key[len(prefix):]
    return rest.split("/", 1)[0] if "/" in rest else None


def crawl(client: S3Client, datasets: tuple[str, ...], selection: CropSelection,
          classes: tuple[str, ...], alignment: str, workers: int,
          test_manifest=None) -> Crawl:
    """Find the selected crops (training crops by listing, test crops from `test_manifest`).

    Three concurrent stages (crop folders per dataset, one recursive listing per crop, the
    metadata of each (crop, class)) so that request latency is paid a few times, not once
    per class.
    """
    out = Crawl()
    names = list_datasets(client, datasets)
    jobs = []
    with ThreadPoolExecutor(max(1, workers)) as pool:
        if selection.train or selection.ids is not None:
            listed = dict(zip(names, pool.map(lambda d: client.list_prefixes(gt_prefix(d, alignment)), names)))
            for ds in names:
                for name in listed[ds]:
                    digits = name.removeprefix("crop")
                    if name.startswith("crop") and digits.isdigit() and selection.wants(int(digits), False):
                        jobs.append((ds, int(digits), f"{gt_prefix(ds, alignment)}{name}/"))
        listings = list(pool.map(lambda j: client.list_objects(j[2]), jobs))
        chosen, tasks = [], []
        for (ds, crop_id, prefix), objects in zip(jobs, listings):
            found = sorted({t for o in objects if (t := _top(prefix, o.key)) is not None})
            chosen.append([c for c in found if not classes or c in classes])
            keys = {o.key for o in objects}
            tasks += [(ds, crop_id, prefix, c, keys) for c in chosen[-1]]
        geoms = dict(zip([(t[0], t[1], t[3]) for t in tasks], pool.map(
            lambda t: _geometry_or_warning(client, t[0], t[1], t[2], t[3], t[4], out.metadata), tasks)))
    for (ds, crop_id, prefix), objects, cls_list in zip(jobs, listings, chosen):
        rows, grid = [], None
        for cls in cls_list:
            g = geoms[(ds, crop_id, cls)]
            if isinstance(g, str):
                out.warnings.append(g)
                continue
            grid = grid or g
            if cls != "all":
                rows.append(CropRow(crop_id, ds, cls, g.voxel_size, g.translation, g.shape))
        wanted = tuple(o for o in objects if _top(prefix, o.key) in (None, *cls_list))
        out.crops.append(CropSource(ds, crop_id, grid, tuple(cls_list), wanted, False, tuple(rows)))
    if test_manifest is not None and (selection.test or selection.ids is not None):
        rows = read_manifest(test_manifest)
        absent = []
        for crop_id, merged in sorted(merge_by_crop(rows).items()):
            in_scope = not datasets or any(fnmatch.fnmatchcase(merged.dataset, p) for p in datasets)
            if in_scope and selection.wants(crop_id, True) and merged.dataset not in names:
                absent.append(f"crop{crop_id} ({merged.dataset})")   # no EM to fetch there
            elif in_scope and selection.wants(crop_id, True):
                labels = tuple(sorted({r.class_label for r in rows if r.crop_id == crop_id}))
                grid = VoxelGrid(merged.voxel_size, merged.translation, merged.shape)
                out.crops.append(CropSource(merged.dataset, crop_id, grid, labels, test=True))
        if absent and not selection.train:
            out.warnings.append(f"{len(absent)} test crop(s) of {test_manifest} are in datasets absent "
                                f"from the bucket and were skipped: {', '.join(absent[:5])}"
                                + (" ..." if len(absent) > 5 else ""))
    return out


__all__ = ["CropSelection", "parse_crops", "CropSource", "Crawl", "crawl", "list_datasets",
           "dataset_root", "gt_prefix"]
