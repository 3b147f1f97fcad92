"""Submissions from numpy arrays, for models that run elsewhere (nnU-Net, PyTC, ...).

Two routes, both checked against the test-crop manifest as ``csc pack`` checks its inputs
(the (crop, class) pair exists, 3D zyx array, dtype, 0/1 masks, the array covers the crop)::

    array --write_prediction-->  processed/<dataset>.zarr/crop<N>/<class>  --csc pack--> zip
    array --add_to_submission--> submission.zarr/crop<N>/<class>  --zip_submission--> zip

``voxel_size`` and ``translation`` are z, y, x in nm, translation = centre of voxel 0 (the
OME-NGFF convention of the data). An array on another grid than the crop's is resampled
with the evaluator's rules (nearest for instance ids, linear then ``> 0.5`` for masks).
A class-label map (one official class id per voxel) gives every class's mask through
:func:`write_class_labels`; group classes (``mito``) are the union of their atomic ids.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..data.crops import crop_name, crop_sort_key, read_manifest_rows
from ..errors import DataError, InputError
from ..io.classes import CLASS_IDS, INSTANCE_CLASSES, atomic_ids
from ..io.manifest import resolve_test_manifest

#: Largest source / crop voxel-count ratio the official evaluator accepts.
MAX_VOLUME_RATIO = 4096.0


@dataclass(frozen=True)
class CropClass:
    """A manifest row: the grid a (crop, class) is scored on."""

    crop: str
    dataset: str
    label: str
    voxel_size: tuple[float, float, float]
    translation: tuple[float, float, float]
    shape: tuple[int, int, int]

    @property
    def instance(self) -> bool:
        return self.label in INSTANCE_CLASSES


def manifest_rows(manifest: str | os.PathLike | None = None) -> dict[tuple[str, str], CropClass]:
    """``{(crop, class): CropClass}`` of the test manifest (default: the shipped official one)."""
    return {(r[0], r[2]): CropClass(*r) for r in read_manifest_rows(resolve_test_manifest(manifest))}


def _lookup(crop, label: str, manifest) -> CropClass:
    rows = manifest_rows(manifest)
    key = (crop_name(crop), label)
    if key not in rows:
        scored = sorted(lb for c, lb in rows if c == key[0])
        where = resolve_test_manifest(manifest)
        raise DataError(f"({key[0]}, {label}) is not a scored pair of the manifest {where}; "
                        + (f"{key[0]} scores {', '.join(scored)}" if scored else
                           f"it has no {key[0]} (check the crop id or pass the right manifest)"))
    return rows[key]


def _vector(value, name: str) -> tuple[float, float, float]:
    v = tuple(float(x) for x in np.asarray(value, float).ravel())
    if len(v) != 3 or not all(np.isfinite(v)):
        raise InputError(f"`{name}` must be 3 finite numbers (z, y, x in nm); got {value!r}")
    return v


def check_array(array: np.ndarray, crop, label: str, voxel_size, translation,
                manifest: str | os.PathLike | None = None) -> CropClass:
    """Validate `array` for (crop, label) against the manifest; returns the manifest row.

    Raises
    ------
    DataError
        The pair is not in the manifest; the array is not 3D, has a float dtype, a semantic
        mask holds values other than 0/1, instance ids are negative, or the array does not
        cover the crop box.
    """
    row = _lookup(crop, label, manifest)
    a = np.asarray(array)
    vs = _vector(voxel_size, "voxel_size")
    tr = _vector(translation, "translation")
    where = f"{row.crop}/{label}"
    if min(vs) <= 0:
        raise InputError(f"{where}: `voxel_size` must be positive; got {vs}")
    if a.ndim != 3:
        raise DataError(f"{where}: expected a 3D (z, y, x) array; got shape {a.shape}")
    if a.dtype.kind not in "biu":
        raise DataError(f"{where}: expected {'integer object ids' if row.instance else 'a bool or 0/1 mask'}; "
                        f"got dtype {a.dtype}" + ("" if row.instance else "; threshold probabilities first"))
    if a.size and a.dtype.kind == "i" and a.min() < 0:
        raise DataError(f"{where}: object ids must be >= 0 (0 = background); found {a.min()}")
    if not row.instance and a.size and a.dtype.kind != "b" and a.max() > 1:
        raise DataError(f"{where}: {label} is scored as a semantic mask: values must be 0/1; found up to "
                        f"{a.max()} (a class-label map goes through write_class_labels)")
    ratio = a.size / float(np.prod(row.shape))
    if ratio > MAX_VOLUME_RATIO:
        raise DataError(f"{where}: {a.size} voxels is {ratio:.0f} times the crop's {np.prod(row.shape)}; "
                        f"the evaluator refuses more than {MAX_VOLUME_RATIO:.0f}x; downsample it")
    lo = np.asarray(tr) - np.asarray(vs) / 2
    hi = lo + np.asarray(a.shape) * np.asarray(vs)
    c_lo = np.asarray(row.translation) - np.asarray(row.voxel_size) / 2
    c_hi = c_lo + np.asarray(row.shape) * np.asarray(row.voxel_size)
    tol = np.asarray(vs) / 2
    if np.any(lo > c_lo + tol) or np.any(hi < c_hi - tol):
        expected = tuple(int(n) for n in np.ceil((c_hi - c_lo) / np.asarray(vs) - 1e-6))
        start = (c_lo + np.asarray(vs) / 2).round(4).tolist()
        raise DataError(
            f"{where}: the array spans {lo.round(2).tolist()}..{hi.round(2).tolist()} nm but the crop spans "
            f"{c_lo.round(2).tolist()}..{c_hi.round(2).tolist()} nm; at voxel size {list(vs)} it needs "
            f"shape {expected} from translation {start} (axes z, y, x); got shape {a.shape}")
    return row


def write_prediction(array: np.ndarray, crop, label: str, voxel_size, translation, *,
                     output: str = "processed/{dataset}.zarr/{crop}", dataset: str | None = None,
                     manifest: str | os.PathLike | None = None) -> Path:
    """Write `array` where ``csc pack`` reads it: the OME-NGFF group ``<output>/<label>``.

    Parameters
    ----------
    array : ndarray
        3D zyx: a 0/1 (or bool) mask for a semantic class, object ids for an instance class.
    crop : int or str
        Test crop id (``557`` or ``"crop557"``).
    label : str
        Class name, as in the manifest.
    voxel_size, translation : sequence of 3 floats
        The array's grid in nm (translation = centre of voxel 0).
    output : str
        Group template with ``{crop}`` (and ``{dataset}``): the ``input`` of ``csc pack``.
    dataset : str, optional
        Fills ``{dataset}``; default the manifest's dataset of the crop.
    manifest : path, optional
        Test-crop manifest (default: the official one shipped with pycsc).

    Returns
    -------
    Path
        The class group written.
    """
    from ..data import _store

    row = check_array(array, crop, label, voxel_size, translation, manifest)
    a = np.asarray(array)
    data = a.astype(np.uint8) if a.dtype.kind == "b" else a
    group = Path(output.format(dataset=dataset or row.dataset, crop=row.crop)) / label
    _store.ensure_parent_groups(group)
    arr = _store.create_volume(group, data.shape, data.dtype, _vector(voxel_size, "voxel_size"),
                               _vector(translation, "translation"), tuple(min(64, s) for s in data.shape),
                               attrs={"pycsc_kind": "instance" if row.instance else "mask"})
    arr.write(data).result()
    _store.mark_complete(group, {"written_by": "pycsc.pack.write_prediction"})
    return group


def class_mask(labels: np.ndarray, label: str) -> np.ndarray:
    """Voxels of class `label` in a class-label map (its own id or any of its atomic ids).

    Examples
    --------
    >>> class_mask(np.array([[[0, 3, 4, 50, 1]]]), "mito").astype(int).tolist()
    [[[0, 1, 1, 1, 0]]]
    """
    ids = sorted({CLASS_IDS[label], *atomic_ids(label)})
    return np.isin(labels, ids)


def write_class_labels(labels: np.ndarray, crop, voxel_size, translation, classes: Sequence[str] = (), *,
                       output: str = "processed/{dataset}.zarr/{crop}", dataset: str | None = None,
                       manifest: str | os.PathLike | None = None) -> list[Path]:
    """Write the mask of every class of a class-label map (official class ids per voxel).

    `classes` defaults to every class the manifest scores in the crop. Instance classes are
    written as masks: the evaluator labels their connected components.
    """
    a = np.asarray(labels)
    if a.dtype.kind not in "iu":
        raise DataError(f"{crop_name(crop)}: a class-label map holds integer class ids; got dtype {a.dtype}")
    rows = manifest_rows(manifest)
    wanted = list(classes) or sorted(lb for c, lb in rows if c == crop_name(crop))
    unknown = [c for c in wanted if c not in CLASS_IDS]
    if unknown:
        raise InputError(f"`classes` {unknown} are not classes of the official classes.csv")
    return [write_prediction(class_mask(a, c).view(np.uint8), crop, c, voxel_size, translation,
                             output=output, dataset=dataset, manifest=manifest) for c in wanted]


def _open_submission(submission: str | os.PathLike):
    import zarr

    path = Path(submission)
    if path.suffix == ".zip":
        raise InputError(f"{path}: add arrays to the submission folder (a .zarr), then zip_submission it")
    return zarr.open_group(str(path), mode="a", zarr_format=2)


def add_to_submission(submission: str | os.PathLike, array: np.ndarray, crop, label: str, voxel_size,
                      translation, *, manifest: str | os.PathLike | None = None) -> tuple[int, ...]:
    """Put `array` on the crop's grid and store it as ``<submission>/crop<N>/<label>``.

    The submission is a Zarr v2 folder (created when absent), laid out as ``csc pack`` writes
    it; an existing array of the same (crop, class) is replaced. Returns the stored shape.
    """
    from .run import _write_array, align_array

    row = check_array(array, crop, label, voxel_size, translation, manifest)
    data = align_array(np.asarray(array), _vector(voxel_size, "voxel_size"), _vector(translation, "translation"),
                       row.voxel_size, row.translation, row.shape, row.instance)
    group = _open_submission(submission).require_group(row.crop)
    if label in group:
        del group[label]
    _write_array(group, label, data, {"voxel_size": list(row.voxel_size),
                                      "translation": list(row.translation), "shape": list(row.shape)})
    return data.shape


def zip_submission(submission: str | os.PathLike, dest: str | os.PathLike | None = None, *,
                   manifest: str | os.PathLike | None = None, missing: str = "error") -> Path:
    """Check the submission folder against the manifest and zip it (default ``<folder>.zip``).

    `missing` decides for manifest pairs without an array: ``"error"`` (stop, listing them),
    ``"skip"`` (left out: scored as missing) or ``"empty"`` (all-background arrays added).
    An array whose shape differs from its manifest row is an error.
    """
    from .run import _write_array, zip_folder

    if missing not in ("error", "skip", "empty"):
        raise InputError(f"`missing` must be 'error', 'skip' or 'empty'; got {missing!r}")
    folder = Path(submission)
    if not folder.is_dir():
        raise DataError(f"submission folder {folder} does not exist; add arrays with add_to_submission first")
    root = _open_submission(folder)
    absent: list[CropClass] = []
    for (crop, label), row in sorted(manifest_rows(manifest).items(), key=lambda kv: (crop_sort_key(kv[0][0]),
                                                                                       kv[0][1])):
        node = root.get(f"{crop}/{label}")
        if node is None:
            absent.append(row)
        elif tuple(node.shape) != tuple(row.shape):
            raise DataError(f"{folder}/{crop}/{label}: shape {tuple(node.shape)} differs from the manifest's "
                            f"{row.shape}; write it with add_to_submission")
    if absent and missing == "error":
        listed = ", ".join(f"{r.crop}/{r.label}" for r in absent[:10]) + (" ..." if len(absent) > 10 else "")
        raise DataError(f"{len(absent)} manifest (crop, class) pairs have no array in {folder}: {listed}; add "
                        "them, or pass missing='skip' (scored as missing) or missing='empty' (background)")
    if missing == "empty":
        for r in absent:
            _write_array(root.require_group(r.crop), r.label, np.zeros(r.shape, np.uint8),
                         {"voxel_size": list(r.voxel_size), "translation": list(r.translation),
                          "shape": list(r.shape)})
    out = Path(dest) if dest is not None else folder.with_suffix(".zip")
    return zip_folder(folder, out)


__all__ = ["CropClass", "manifest_rows", "check_array", "write_prediction", "class_mask",
           "write_class_labels", "add_to_submission", "zip_submission"]
