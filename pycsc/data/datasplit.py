"""The train/validate split CSV, in the official format, from local data.

One row per crop, every field quoted, no header::

    "train","/abs/data/ds/ds.zarr","recon-1/em/fibsem-uint8","/abs/data/ds/ds.zarr","recon-1/labels/groundtruth/crop7/[mito,er]"

Columns: usage, zarr root, EM group, zarr root, crop group + ``/[classes present]``. The
official reader (``csv.reader``, columns 0-4) accepts it unchanged.
"""

from __future__ import annotations

import csv
import glob
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import DatasplitConfig
from ..errors import DataError
from . import _store
from .crops import crop_sort_key

ALIGNMENT = "recon-1"
CROPS_FOLDER = "labels/groundtruth"


@dataclass(frozen=True)
class SplitRow:
    """One crop of a datasplit: where its EM and labels live and which classes it annotates."""

    usage: str                  # "train" or "validate"
    raw: str                    # EM multiscale group
    crop: str                   # crop group (holds one multiscale group per class)
    classes: tuple[str, ...]    # classes annotated in this crop

    @property
    def name(self) -> str:
        return f"{Path(self.crop).parents[3].stem}/{Path(self.crop).name}"


def find_crops(data_root: str | Path, datasets=("*",), crops=("*",)) -> list[tuple[str, Path]]:
    """(dataset, crop folder) for every local ground-truth crop matching the patterns, sorted."""
    found = set()
    for ds in datasets:
        for cr in crops:
            pattern = os.path.join(str(data_root), ds, f"{ds}.zarr", ALIGNMENT, CROPS_FOLDER, cr)
            for hit in glob.glob(pattern):
                p = Path(hit)
                if p.is_dir():
                    found.add((p.parents[3].stem, p))
    return sorted(found, key=lambda t: (t[0], crop_sort_key(t[1].name)))


def raw_group_of(crop: Path, raw_name: str) -> Path:
    """The EM group of the dataset a crop belongs to (``recon-1/em/fibsem-uint8``)."""
    return crop.parents[2] / raw_name


def crop_classes(crop: Path) -> list[str]:
    """Class groups present in a crop folder (multiscale groups; ``all`` excluded)."""
    out = []
    for child in sorted(crop.iterdir()):
        if child.is_dir() and child.name != "all" and _store.read_attrs(child).get("multiscales"):
            out.append(child.name)
    return out


def _keep_scale(group: Path, max_vs: tuple[float, ...] | None) -> bool:
    if max_vs is None:
        return True
    s0 = _store.read_levels(group)[0]
    limit = np.broadcast_to(np.asarray(max_vs, float), (3,))
    return bool(np.all(np.asarray(s0.voxel_size) <= limit + 1e-9))


def _has_foreground(group: Path) -> bool:
    s0 = _store.read_levels(group)[0]
    return bool(np.any(_store.open_array(s0.path).read().result()))


def draw_usage(cfg: DatasplitConfig, classes: tuple[str, ...], rng) -> str | None:
    """'train' or 'validate' for a crop annotating `classes` (None: left out by
    ``force_all_classes = "all"``); one draw from `rng` per crop kept, in crop order."""
    complete = len(classes) == len(cfg.classes)
    if cfg.force_all_classes == "all" and not complete:
        return None
    usage = "validate" if rng.random() < cfg.validation_fraction else "train"
    if not complete and cfg.force_all_classes == usage:
        usage = "train" if usage == "validate" else "validate"
    return usage


def make_datasplit(cfg: DatasplitConfig) -> list[SplitRow]:
    """Crawl `cfg.data_root`, filter, draw usages, write `cfg.output` and return the rows.

    Filters, in order: classes requested and present; s0 voxel size <= `max_voxel_size_nm`;
    EM present; optionally crops whose requested classes are all empty. Usage: validate with
    probability `validation_fraction` (seeded); then `force_all_classes`; finally, with two or
    more crops, at least one of each usage when the fraction is strictly between 0 and 1.
    """
    from .s3_datasplit import is_streamed, make_streamed_datasplit

    if is_streamed(cfg):  # data_root or s3.em_root is s3://
        return make_streamed_datasplit(cfg)
    rng = np.random.default_rng(cfg.seed)
    rows: list[SplitRow] = []
    for dataset, crop in find_crops(cfg.data_root, cfg.datasets, cfg.crops):
        present = set(crop_classes(crop))
        classes = tuple(c for c in cfg.classes if c in present and _keep_scale(crop / c, cfg.max_voxel_size_nm))
        if not classes:
            continue
        raw = raw_group_of(crop, cfg.raw_name)
        if not raw.is_dir():
            print(f"datasplit: skipping {dataset}/{crop.name}: no EM at {raw}")
            continue
        if cfg.skip_empty_crops and not any(_has_foreground(crop / c) for c in classes):
            continue
        usage = draw_usage(cfg, classes, rng)
        if usage is not None:
            rows.append(SplitRow(usage, str(raw.resolve()), str(crop.resolve()), classes))
    if not rows:
        raise DataError(f"datasplit: no crop under {cfg.data_root} has any of the classes "
                        f"{list(cfg.classes)} (with EM and within the filters)")
    rows = _both_usages(rows, cfg.validation_fraction)
    write_datasplit(rows, cfg.output)
    return rows


def _both_usages(rows: list[SplitRow], fraction: float) -> list[SplitRow]:
    if len(rows) < 2 or not 0.0 < fraction < 1.0:
        return rows
    usages = [r.usage for r in rows]
    if "validate" not in usages:
        rows[-1] = SplitRow("validate", *_rest(rows[-1]))
    elif "train" not in usages:
        rows[0] = SplitRow("train", *_rest(rows[0]))
    return rows


def _rest(r: SplitRow) -> tuple:
    return r.raw, r.crop, r.classes


def _split_zarr(path: str) -> tuple[str, str]:
    p = Path(path)
    for parent in [p, *p.parents]:
        if parent.suffix == ".zarr":
            return str(parent), str(p.relative_to(parent))
    raise DataError(f"{path} is not inside a .zarr store")


def write_datasplit(rows: list[SplitRow], path: str | Path) -> Path:
    """Write rows in the official quoting (atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n")
        for r in rows:
            raw_root, raw_rel = _split_zarr(r.raw)
            crop_root, crop_rel = _split_zarr(r.crop)
            w.writerow([r.usage, raw_root, raw_rel, crop_root, f"{crop_rel}/[{','.join(r.classes)}]"])
    os.replace(tmp, path)
    return path


def read_datasplit(path: str | Path) -> list[SplitRow]:
    """Read a datasplit CSV (ours or the official toolbox's)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"datasplit {path} does not exist; run `csc datasplit` first")
    rows = []
    with path.open(newline="") as fh:
        for i, rec in enumerate(csv.reader(fh), start=1):
            if not rec:
                continue
            if len(rec) < 5 or rec[0] not in ("train", "validate") or "[" not in rec[4]:
                raise DataError(f"{path}:{i}: expected 5 quoted fields 'usage,root,raw,root,"
                                f"crop/[classes]'; got {rec}")
            crop, _, bracket = rec[4].rpartition("/[")
            classes = tuple(c for c in bracket.rstrip("]").split(",") if c)
            rows.append(SplitRow(rec[0], os.path.join(rec[1], rec[2]), os.path.join(rec[3], crop), classes))
    if not rows:
        raise DataError(f"datasplit {path} has no rows")
    return rows
