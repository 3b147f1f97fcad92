"""The datasplit when data is streamed: crops crawled on S3, or labels local and EM on S3.

``data_root = "s3://bucket[/prefix]"`` crawls the bucket (listing cached, see
:mod:`pycsc.io.s3_crawl`) and writes ``s3://`` rows, which ``csc train`` then reads straight
from the bucket. Mixed mode, ``s3.em_root = "s3://bucket"`` with a local `data_root`: the
(small) labels are found and read locally, the (large) EM is streamed::

    "train","s3://janelia-cosem-datasets/jrc_hela-2/jrc_hela-2.zarr","recon-1/em/fibsem-uint8",
    "/abs/data/jrc_hela-2/jrc_hela-2.zarr","recon-1/labels/groundtruth/crop7/[mito,er]"

Filters and the seeded train/validate draw are those of the local datasplit, in the same
crop order, so the same data gives the same split wherever it is stored.
"""

from __future__ import annotations

import csv
import fnmatch
import os
from pathlib import Path

import numpy as np

from ..config import DatasplitConfig
from ..errors import DataError
from ..io import s3_arrays
from . import _store
from .crops import crop_sort_key
from .datasplit import ALIGNMENT, SplitRow, _both_usages, crop_classes, draw_usage, find_crops

is_s3 = s3_arrays.is_s3


def is_streamed(cfg: DatasplitConfig) -> bool:
    """Whether `cfg` reads from S3 (its data_root or its s3.em_root is an s3:// URL)."""
    return is_s3(str(cfg.data_root)) or is_s3(str(cfg.s3.em_root or ""))


def em_group(root: str, dataset: str, raw_name: str) -> str:
    """The EM multiscale group of `dataset` below a local or ``s3://`` root."""
    return f"{str(root).rstrip('/')}/{dataset}/{dataset}.zarr/{ALIGNMENT}/{raw_name.strip('/')}"


def em_group_for(cfg, dataset: str, raw_path: str) -> str:
    """The EM group predict reads for `dataset`: below ``cfg.s3.em_root`` when set (mixed
    mode), else below ``cfg.data_root``; `raw_path` is ``recon-1/em/fibsem-uint8``.

    Raises
    ------
    DataError
        The group does not exist (locally or on S3).
    """
    root = str(cfg.s3.em_root or cfg.data_root).rstrip("/")
    group = f"{root}/{dataset}/{dataset}.zarr/{raw_path.strip('/')}"
    if not _em_present(group, {}):
        if is_s3(group):
            s3_arrays.check_bucket(group)     # a missing bucket is named as such
        where = f" (at {s3_arrays.current_settings().endpoint_url or 'AWS S3'})" if is_s3(group) else ""
        raise DataError(f"predict: no EM for dataset {dataset!r} at {group}{where}; fetch it first, "
                        "or point data_root / s3.em_root at the data")
    return group


def streamed_targets(cfg, pattern: str) -> list:
    """Predict targets for the crops on S3 below ``cfg.data_root`` whose folder name matches
    `pattern` (``crop*``, ``crop234``): the s0 grid of each crop's first class, as
    :func:`pycsc.predict.run` does for local crops. The crawl is the cached one."""
    from ..io.s3_crawl import crawl
    from .crops import Target, sort_targets

    s3_arrays.configure(cfg.s3)
    root = str(cfg.data_root).rstrip("/")
    out = []
    for ds in crawl(root, s3_arrays.current_settings(), raw_name="em/fibsem-uint8",
                    cache_dir=cfg.s3.crawl_cache, refresh=cfg.s3.refresh_crawl):
        for c in ds.crops:
            if c.classes and fnmatch.fnmatchcase(c.crop, pattern):
                first = sorted(c.classes)[0]
                group = f"{root}/{ds.name}/{ds.name}.zarr/{ALIGNMENT}/labels/groundtruth/{c.crop}/{first}"
                s0 = _store.read_levels(group)[0]
                out.append(Target(ds.name, c.crop, (), s0.voxel_size, s0.translation, s0.shape))
    if not out:
        raise DataError(f"no crop on S3 matches {pattern!r} under {root}")
    return sort_targets(out)


def _labelled_crops(cfg: DatasplitConfig):
    """(dataset, crop name, crop group, {class: s0 voxel size}, EM found by the crawl or None)
    for each crop, in the local datasplit's order; only the requested classes are sized."""
    root = str(cfg.data_root)
    if is_s3(root):
        from ..io.s3_crawl import crawl

        for ds in crawl(root, s3_arrays.current_settings(), datasets=cfg.datasets, raw_name=cfg.raw_name,
                        cache_dir=cfg.s3.crawl_cache, refresh=cfg.s3.refresh_crawl):
            for c in sorted(ds.crops, key=lambda c: crop_sort_key(c.crop)):
                if any(fnmatch.fnmatchcase(c.crop, p) for p in cfg.crops):
                    group = f"{root.rstrip('/')}/{ds.name}/{ds.name}.zarr/{ALIGNMENT}/labels/groundtruth/{c.crop}"
                    yield ds.name, c.crop, group, dict(c.classes), ds.has_em
        return
    for dataset, crop in find_crops(root, cfg.datasets, cfg.crops):
        sizes = {c: _store.read_levels(crop / c)[0].voxel_size for c in crop_classes(crop) if c in cfg.classes}
        yield dataset, crop.name, str(crop.resolve()), sizes, None


def _em_present(group: str, seen: dict) -> bool:
    if group not in seen:
        seen[group] = s3_arrays.exists(group) if is_s3(group) else Path(group).is_dir()
    return seen[group]


def _has_foreground(group: str) -> bool:
    s0 = _store.read_levels(group)[0]
    return bool(np.any(_store.open_array(s0.path).read().result()))


def make_streamed_datasplit(cfg: DatasplitConfig) -> list[SplitRow]:
    """:func:`pycsc.data.datasplit.make_datasplit` for S3 data (whole or EM only)."""
    s3_arrays.configure(cfg.s3)
    rng = np.random.default_rng(cfg.seed)
    em_root = cfg.s3.em_root or str(cfg.data_root)
    limit = None if cfg.max_voxel_size_nm is None else np.broadcast_to(
        np.asarray(cfg.max_voxel_size_nm, float), (3,))
    rows, em_seen = [], {}
    for dataset, name, group, sizes, crawled_em in _labelled_crops(cfg):
        classes = tuple(c for c in cfg.classes if c in sizes and
                        (limit is None or np.all(np.asarray(sizes[c]) <= limit + 1e-9)))
        if not classes:
            continue
        raw = em_group(em_root, dataset, cfg.raw_name)
        if not os.path.isabs(raw) and not is_s3(raw):
            raw = str(Path(raw).resolve())
        if cfg.s3.em_root is None and crawled_em is not None:
            em_seen[raw] = crawled_em       # known from the (cached) crawl: no request
        if not _em_present(raw, em_seen):
            print(f"datasplit: skipping {dataset}/{name}: no EM at {raw}")
            continue
        if cfg.skip_empty_crops and not any(_has_foreground(f"{group}/{c}") for c in classes):
            continue
        usage = draw_usage(cfg, classes, rng)
        if usage is not None:
            rows.append(SplitRow(usage, raw, group, classes))
    if not rows:
        raise DataError(f"datasplit: no crop under {cfg.data_root} has any of the classes "
                        f"{list(cfg.classes)} (with EM at {em_root} and within the filters)")
    rows = _both_usages(rows, cfg.validation_fraction)
    write_rows(rows, cfg.output)
    return rows


def split_zarr(location: str) -> tuple[str, str]:
    """``.../ds.zarr/recon-1/em`` -> (``.../ds.zarr``, ``recon-1/em``), for paths and URLs."""
    head, sep, tail = str(location).partition(".zarr/")
    if not sep:
        raise DataError(f"{location} is not inside a .zarr store")
    return head + ".zarr", tail


def write_rows(rows: list[SplitRow], path: str | Path) -> Path:
    """Write rows (local paths or ``s3://`` URLs) in the official quoting, atomically."""
    from io import StringIO

    from .._atomic import atomic_write_bytes

    text = StringIO()
    w = csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\n")
    for r in rows:
        raw_root, raw_rel = split_zarr(r.raw)
        crop_root, crop_rel = split_zarr(r.crop)
        w.writerow([r.usage, raw_root, raw_rel, crop_root, f"{crop_rel}/[{','.join(r.classes)}]"])
    return atomic_write_bytes(path, text.getvalue().encode())


__all__ = ["is_streamed", "em_group", "em_group_for", "streamed_targets", "make_streamed_datasplit", "write_rows", "split_zarr"]
