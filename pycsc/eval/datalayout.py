"""Score against the fetched (or simulated) data layout: ground truth where ``csc fetch`` puts it.

The evaluator reads a flat truth store (``crop<N>/<class>`` single-scale arrays, spec:
evaluation.md section 4). Annotated crops of the data layout hold the same facts in another
shape: one OME-NGFF multiscale group per class, whose finest level is the annotation at its
own voxel size::

    data/<ds>/<ds>.zarr/recon-1/labels/groundtruth/crop234/mito/{s0, s1, ...}
                                  |
                                  |  finest level, linked (or copied when not Zarr v2)
                                  v
    <temporary folder>/truth.zarr/crop234/mito        + manifest.csv row (crop, class, s0 grid)

The store is built in a temporary folder that is removed afterwards; nothing is written
into the user's data. Instance vs semantic scoring follows the class name, as always.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from ..errors import DataError, InputError
from ..io.manifest import CropRow, write_manifest_csv

TRUTH_NAME = "truth.zarr"
MANIFEST_NAME = "manifest.csv"


@dataclass(frozen=True)
class TruthSource:
    """One (crop, class) of the data layout: its group and finest level."""

    crop_id: int
    dataset: str
    class_label: str
    level_path: Path
    voxel_size: tuple[float, float, float]
    translation: tuple[float, float, float]
    shape: tuple[int, int, int]

    def row(self) -> CropRow:
        return CropRow(self.crop_id, self.dataset, self.class_label, self.voxel_size, self.translation,
                       self.shape)


def is_data_layout(path: str | os.PathLike) -> bool:
    """True when `path` holds ``<ds>/<ds>.zarr/recon-1/labels/groundtruth`` folders."""
    from ..data.datasplit import find_crops

    p = Path(path)
    return p.is_dir() and bool(find_crops(p))


def parse_crop_ids(text: str | Sequence) -> tuple[str, ...]:
    """``"234,crop236"`` or a list -> ``("crop234", "crop236")``; ``"all"`` -> ``("*",)``.

    Examples
    --------
    >>> parse_crop_ids("234, crop236"), parse_crop_ids("all")
    (('crop234', 'crop236'), ('*',))
    """
    items = [t.strip() for t in text.split(",")] if isinstance(text, str) else [str(t) for t in text]
    items = [t for t in items if t]
    if items == ["all"]:
        return ("*",)
    out = []
    for t in items:
        digits = t.removeprefix("crop")
        if not digits.isdigit():
            raise InputError(f"`crops` must be 'all' or comma-separated crop ids like 234,236; got {t!r}")
        out.append(f"crop{int(digits)}")
    if not out:
        raise InputError("`crops` is empty; name crop ids like 234,236 or 'all'")
    return tuple(out)


def _finest(group: Path):
    from ..data import _store

    levels = _store.read_levels(group)
    return min(levels, key=lambda lv: float(np.prod(lv.voxel_size)))


def _sources_of_crop(dataset: str, crop: Path, classes: Sequence[str]) -> list[TruthSource]:
    from ..data.datasplit import crop_classes

    out = []
    for label in crop_classes(crop):
        if classes and label not in classes:
            continue
        lv = _finest(crop / label)
        out.append(TruthSource(int(crop.name.removeprefix("crop")), dataset, label, Path(lv.path),
                               tuple(map(float, lv.voxel_size)), tuple(map(float, lv.translation)),
                               tuple(int(s) for s in lv.shape)))
    return out


def find_truth(data_root: str | os.PathLike | None = None, crops: str | Sequence = (),
               datasplit: str | os.PathLike | None = None,
               classes: Sequence[str] = ()) -> list[TruthSource]:
    """The (crop, class) pairs to score: the crops named by `crops` under `data_root`, or the
    ``validate`` rows of `datasplit`; only `classes` when given (else every annotated class).

    Raises
    ------
    InputError
        Neither crops nor a datasplit, or a crop id found in no (or in two) datasets.
    DataError
        Nothing to score.
    """
    from ..data.datasplit import find_crops, read_datasplit

    found: list[tuple[str, Path]] = []
    if datasplit is not None:
        for r in read_datasplit(datasplit):
            if r.usage == "validate":
                found.append((Path(r.crop).parents[3].stem, Path(r.crop)))
        if not found:
            raise DataError(f"datasplit {datasplit} has no 'validate' rows to score")
    elif crops:
        if data_root is None:
            raise InputError("`crops` needs the data folder (--truth data/) that holds them")
        names = parse_crop_ids(crops)
        for name in names:
            hits = find_crops(data_root, crops=(name,))
            if not hits:
                raise InputError(f"crop {name} is not under {data_root} "
                                 "(<dataset>/<dataset>.zarr/recon-1/labels/groundtruth/<crop>); fetch it first")
            found += hits
    else:
        raise InputError("name the crops to score: --crops 234,236 (or 'all'), or --datasplit file.csv")
    ids: dict[int, str] = {}
    for ds, crop in found:
        cid = int(crop.name.removeprefix("crop"))
        if ids.setdefault(cid, ds) != ds:
            raise InputError(f"crop id {cid} exists in two datasets ({ids[cid]}, {ds}); the evaluation "
                             "layout needs unique crop ids: name one dataset's data folder")
    sources = [s for ds, crop in dict.fromkeys(found) for s in _sources_of_crop(ds, crop, classes)]
    if not sources:
        raise DataError(f"no annotated class{' among ' + ', '.join(classes) if classes else ''} "
                        f"in the chosen crops ({', '.join(sorted({c.name for _, c in found}))})")
    return sources


def _link_or_copy(src: Path, dest: Path) -> None:
    """The evaluator reads Zarr v2 arrays: link v2 levels (no copy), rewrite others."""
    if (src / ".zarray").is_file():
        try:
            os.symlink(src.resolve(), dest, target_is_directory=True)
            return
        except OSError:
            pass              # no symlinks here (some filesystems, Windows): copy instead
    from ..data import _store
    from ..io.arrays import write_array

    data = _store.open_array(str(src)).read().result()
    write_array(dest, data, chunks=tuple(min(64, s) for s in data.shape))


def build_truth_store(sources: Sequence[TruthSource], folder: str | os.PathLike) -> tuple[Path, Path]:
    """Write the evaluation-layout truth store and its manifest below `folder`.

    Returns ``(truth store, manifest CSV)``.
    """
    folder = Path(folder)
    truth = folder / TRUTH_NAME
    truth.mkdir(parents=True, exist_ok=True)
    (truth / ".zgroup").write_text('{"zarr_format": 2}')
    for s in sources:
        crop = truth / f"crop{s.crop_id}"
        if not crop.is_dir():
            crop.mkdir()
            (crop / ".zgroup").write_text('{"zarr_format": 2}')
        _link_or_copy(s.level_path, crop / s.class_label)
    manifest = write_manifest_csv([s.row() for s in sources], folder / MANIFEST_NAME)
    return truth, manifest


@contextmanager
def truth_from_data(sources: Sequence[TruthSource], work_dir: str | os.PathLike | None = None
                    ) -> Iterator[tuple[Path, Path]]:
    """``with truth_from_data(find_truth(...)) as (truth, manifest):`` a temporary truth store."""
    if work_dir is not None:
        Path(work_dir).mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="pycsc-truth-", dir=work_dir))
    try:
        yield build_truth_store(sources, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)   # removes the links, never their targets


def evaluate_on_data(submission: str | os.PathLike, data_root: str | os.PathLike | None = None,
                     crops: str | Sequence = (), *, datasplit: str | os.PathLike | None = None,
                     classes: Sequence[str] = (), config=None, shard=None):
    """Score `submission` against the ground truth of the data layout (see the module text).

    Parameters
    ----------
    submission : path
        Submission ``.zip`` or ``.zarr`` with ``crop<N>/<class>`` arrays.
    data_root : path
        The data folder (``<dataset>/<dataset>.zarr/...``), as written by ``csc fetch``.
    crops : str or sequence
        Crop ids (``"234,236"``) or ``"all"``; or leave empty and give `datasplit`.
    datasplit : path, optional
        Datasplit CSV: its ``validate`` rows are the crops scored.
    classes : sequence of str
        Score only these classes (default: every class annotated in the crops).
    config : EvaluateConfig, optional
        Scoring settings; `truth` and `manifest` in it are ignored.

    Returns
    -------
    Evaluation
        As :func:`pycsc.eval.evaluate`; ``meta["truth"]`` names the data folder and crops.
    """
    from .api import evaluate

    sources = find_truth(data_root, crops, datasplit, classes)
    work_dir = getattr(config, "work_dir", None)
    with truth_from_data(sources, work_dir) as (truth, manifest):
        ev = evaluate(submission, truth, manifest, config=config, shard=shard)
    ev.meta["truth"] = f"{data_root or datasplit} (data layout)"
    ev.meta["manifest"] = None
    ev.meta["truth_crops"] = sorted({f"crop{s.crop_id}" for s in sources})
    return ev


__all__ = ["TruthSource", "is_data_layout", "parse_crop_ids", "find_truth", "build_truth_store",
           "truth_from_data", "evaluate_on_data"]
