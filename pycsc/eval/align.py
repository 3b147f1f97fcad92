"""Bring a submitted array onto a test crop's grid exactly as the official ``MatchedCrop`` does.

evaluation.md §5. The steps, for a target grid (voxel size ``tgt_vs``, ``shape``,
translation ``tgt_tr`` = centre of voxel 0, all zyx)::

    source array --(size-ratio gate)--> whole read + rescale(in_vs / tgt_vs)   (<= 131 M voxels)
                                    \\--> 297^3 blocks rescaled one by one     (> 131 M voxels)
                 --> integer shift rel = snap(in_tr) vs tgt_tr --> zero pad / crop to shape

Quirks kept on purpose (leaderboard parity): instance arrays use nearest neighbour and keep
their dtype (float ids downsampled are Gaussian-smoothed first, B7); semantic arrays are
interpolated linearly and thresholded ``> 0.5`` but left untouched on the native grid (B6);
the block path leaves planes of zeros and seams (B8); the translation is snapped twice (B13).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import ops
from ..errors import DataError, InputError
from .manifest import CropGeometry
from .store import ZArray, child_arrays, is_array, read_json

#: Classes the official resampler treats as instances, whatever the scorer is told (B9).
DEFAULT_INSTANCE_CLASSES = ("nuc", "vim", "ves", "endo", "lyso", "ld", "perox", "mito", "np", "mt",
                            "cell", "instance")
#: Official size gate: source voxels / target voxels.
MAX_VOLUME_SIZE_RATIO = 4096.0
#: Official switch to block-wise resampling: source voxels * 4 bytes above 500 MiB.
CHUNKED_THRESHOLD_MB = 500.0
#: Official block edge: max(32, int((100 MiB / 4 B) ** (1/3))) = 297.
BLOCK_EDGE = max(32, int((100 * 1024 * 1024 / 4) ** (1 / 3)))


@dataclass
class Source:
    """The array chosen to represent a submitted label, with its own grid (may be unknown)."""

    array: ZArray
    voxel_size: tuple[float, ...] | None
    translation: tuple[float, ...] | None
    kind: str = "array"  # "array", "group" (non-OME levels) or "ome"
    level: str | None = None


@dataclass
class AlignInfo:
    """How a prediction was aligned: for the results table and for debugging."""

    path: str = "native"  # native | rescaled | blocks | pad_crop
    scale: tuple[float, ...] | None = None
    shift_voxels: tuple[int, ...] = (0, 0, 0)
    source_shape: tuple[int, ...] = ()
    source_dtype: str = ""
    #: "F" when the official evaluator would hold this prediction in Fortran order (a native
    #: array stored with order "F": zarr 2 reads it so); its components are numbered in memory order.
    memory_order: str = "C"
    seconds_read: float = 0.0
    seconds_resample: float = 0.0
    warnings: list[str] = field(default_factory=list)


def _attr(attrs: dict, keys: tuple[str, ...]) -> Any:
    for k in keys:
        if k in attrs:
            return attrs[k]
    return None


def _floats(value: Any, what: str, where: Path) -> tuple[float, ...] | None:
    if value is None:
        return None
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise DataError(f"{where}: attribute {what} must be a list of numbers; found {value!r}") from None
    if not all(math.isfinite(v) for v in out):
        raise DataError(f"{where}: attribute {what} must be finite; found {value!r}")
    return out


def array_grid(arr: ZArray) -> tuple[tuple[float, ...] | None, tuple[float, ...] | None]:
    """(voxel size, translation) from attrs: ``voxel_size|resolution|scale``, ``translation|offset``."""
    vs = _floats(_attr(arr.attrs, ("voxel_size", "resolution", "scale")), "voxel_size", arr.path)
    tr = _floats(_attr(arr.attrs, ("translation", "offset")), "translation", arr.path)
    return vs, tr


def _last(values: np.ndarray, n: int) -> np.ndarray:
    return values if values.size == n else values[-n:]


def _select_ome_level(path: Path, attrs: dict, tgt_vs: np.ndarray) -> tuple[str, Any, Any]:
    """cellmap-data's ``scale_level``: least summed relative voxel-size difference (B12)."""
    ms = attrs["multiscales"][0]
    axes = ms.get("axes") or [{"name": n, "type": "space"} for n in "zyx"]
    space = [i for i, a in enumerate(axes) if not isinstance(a, dict) or a.get("type", "space") == "space"]
    best, best_score = None, None
    for ds in ms["datasets"]:
        scale = translation = None
        for t in ds.get("coordinateTransformations", []):
            if t.get("type") == "scale":
                scale = t["scale"]
            elif t.get("type") == "translation":
                translation = t["translation"]
        if scale is None:
            continue
        v = _last(np.asarray([float(scale[i]) for i in space], float), tgt_vs.size)
        score = float(np.sum(np.abs(v - tgt_vs) / tgt_vs))
        if best_score is None or score < best_score:
            best, best_score = (ds["path"], scale, translation), score
    if best is None:
        raise DataError(f"{path}: OME-NGFF multiscales lists no dataset with a scale")
    return best


def locate_source(path: str | Path, target: CropGeometry) -> Source:
    """Pick the array to align for the node at `path` (array, non-OME group or OME-NGFF group)."""
    path = Path(path)
    tgt_vs = np.asarray(target.voxel_size, float)
    if is_array(path):
        arr = ZArray.open(path)
        vs, tr = array_grid(arr)
        return Source(arr, vs, tr)
    if not path.is_dir():
        raise DataError(f"{path} is neither a Zarr array nor a group")
    attrs = read_json(path / ".zattrs") if (path / ".zattrs").is_file() else {}
    if "multiscales" in attrs:
        try:
            level, scale, translation = _select_ome_level(path, attrs, tgt_vs)
            arr = ZArray.open(path / level)
            vs = tuple(float(v) for v in scale) if scale is not None else None
            tr = tuple(float(v) for v in translation) if translation is not None else None
        except (KeyError, IndexError, TypeError, ValueError, DataError) as exc:
            raise DataError(f"Failed to load OME-NGFF multiscale data from {path}. Error: {exc}") from None
        return Source(arr, vs, tr, "ome", level)
    keys = child_arrays(path)
    if not keys:
        raise DataError(f"No arrays found under {path}")
    best = None
    for key in keys:
        arr = ZArray.open(path / key)
        vs, tr = array_grid(arr)
        if vs is None:
            score = 1e18
        else:
            v = _last(np.asarray(vs, float), tgt_vs.size)
            score = float(np.linalg.norm(v - tgt_vs)) + (0.0 if np.all(v <= tgt_vs) else 1e6)
        if best is None or score < best[0]:
            best = (score, Source(arr, vs, tr, "group", key))
    return best[1]


def check_size_ratio(source: ZArray, target: CropGeometry, max_ratio: float = MAX_VOLUME_SIZE_RATIO) -> float:
    """Official gate: source/target voxel-count ratio above `max_ratio` is an error."""
    tgt = target.num_voxels
    if tgt == 0:
        raise InputError(f"Invalid target shape {target.shape}: product of dimensions is zero.")
    ratio = source.size / tgt
    mem_mb = source.size * 4 / (1024 * 1024)
    if ratio > max_ratio:
        raise InputError(
            f"Source array at {source.path} is too large compared to target shape: ratio {ratio:.1f}x > "
            f"{max_ratio}x limit. Estimated memory: {mem_mb:.1f} MB. Please downsample your predictions "
            "to a resolution closer to the target."
        )
    return mem_mb


def count_nans(image: np.ndarray) -> int:
    """NaN voxels of a float array (0 for other dtypes): the official ``check_nans`` count."""
    return int(np.count_nonzero(np.isnan(image))) if image.dtype.kind == "f" else 0


def nan_warning(where: Path, label_is_instance: bool, count: int) -> str:
    """The warning for `count` NaN voxels, saying what the official evaluator does with them."""
    effect = ("each NaN voxel is an object of its own (NaN equals nothing, not even NaN)" if label_is_instance
              else "NaN counts as background and spreads to neighbouring voxels when resampled")
    return (f"{where.name}: {count} NaN value(s) in the submitted array; scored as the official evaluator "
            f"does: {effect}. Replace them (numpy.nan_to_num) before packing")


def rescale_instance(image: np.ndarray, scale, device: str = "cpu") -> np.ndarray:
    """Official instance resampling: nearest neighbour, cast back to the input dtype."""
    return ops.rescale(image, tuple(float(s) for s in scale), 0, device=device).astype(image.dtype, copy=False)


def rescale_semantic(image: np.ndarray, scale, device: str = "cpu") -> np.ndarray:
    """Official semantic resampling before thresholding: bool -> float32, linear (float out)."""
    if image.dtype == np.bool_:
        image = image.astype(np.float32)
    return ops.rescale(image, tuple(float(s) for s in scale), 1, device=device)


def rescale_blocks(arr: ZArray, scale: np.ndarray, is_instance: bool, threads: int | None = None,
                   device: str = "cpu", nan_counter: list[int] | None = None) -> np.ndarray:
    """The official block path (§5.4), with its seams and never-written zero planes (B8).

    NaN goes through the per-block resampling as in scikit-image (it spreads through the
    Gaussian and linear weights and is background after ``> 0.5``). With `nan_counter` (a
    one-element list) the raw NaN voxels are added to it, block by block, as the official
    ``check_nans`` does.
    """
    out_shape = tuple(max(1, int(np.round(s * f))) for s, f in zip(arr.shape, scale))
    out = np.zeros(out_shape, dtype=arr.dtype.newbyteorder("=") if is_instance else np.float32)
    e = BLOCK_EDGE
    for z in range(0, arr.shape[0], e):
        for y in range(0, arr.shape[1], e):
            for x in range(0, arr.shape[2], e):
                starts = (z, y, x)
                block = arr.read(tuple(slice(s, min(s + e, n)) for s, n in zip(starts, arr.shape)), threads=threads)
                if nan_counter is not None:
                    nan_counter[0] += count_nans(block)
                res = (rescale_instance(block, scale, device) if is_instance
                       else rescale_semantic(block, scale, device))
                del block
                o = [int(s * f) for s, f in zip(starts, scale)]
                n = [min(oi + r, m) - oi for oi, r, m in zip(o, res.shape, out_shape)]
                if min(n) > 0:
                    out[o[0]:o[0] + n[0], o[1]:o[1] + n[1], o[2]:o[2] + n[2]] = res[:n[0], :n[1], :n[2]]
    return out if is_instance else out > 0.5


def pad_crop_center(image: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Centre zero-pad / centre-crop to `shape` (official fallback without a voxel size)."""
    pads = [((t - s) // 2, t - s - (t - s) // 2) if s < t else (0, 0) for s, t in zip(image.shape, shape)]
    if any(p for pair in pads for p in pair):
        image = np.pad(image, pads, mode="constant", constant_values=0)
    return image[tuple(slice((s - t) // 2, (s - t) // 2 + t) if s > t else slice(None)
                       for s, t in zip(image.shape, shape))]


def snap_shift(translation, target: CropGeometry) -> tuple[int, ...]:
    """Integer voxel shift from the source translation, snapped twice as the official (B13).

    Examples
    --------
    >>> g = CropGeometry((1.74, 2.0, 2.0), (23837.13, 7599.0, 35999.0), (96, 80, 80))
    >>> snap_shift((23837.13 + 1.74, 7599.0 - 2.0, 35999.0), g)
    (0, -1, 0)
    """
    n = len(target.shape)
    if translation is None:
        return (0,) * n
    tgt_vs = np.asarray(target.voxel_size, float)
    tgt_tr = np.asarray(target.translation, float)
    in_tr = _last(np.asarray(translation, float), tgt_tr.size)
    adj = (in_tr // tgt_vs) * tgt_vs
    rel = (np.abs(adj - tgt_tr) // tgt_vs) * np.sign(adj - tgt_tr)
    return tuple(int(r) for r in rel.astype(int))


def place(image: np.ndarray, rel: tuple[int, ...], shape: tuple[int, ...]) -> np.ndarray:
    """Copy `image` shifted by `rel` voxels into a zero array of `shape` (anchored at the start)."""
    if not any(rel) and image.shape == tuple(shape):
        return image
    out = np.zeros(shape, dtype=image.dtype)
    src, dst = [], []
    for r, n, t in zip(rel, image.shape, shape):
        if r < 0:
            a = -r
            length = min(a + t, n) - a
            src.append(slice(a, a + length))
            dst.append(slice(0, length))
        else:
            length = min(t, n + r) - r
            src.append(slice(0, length))
            dst.append(slice(r, r + length))
        if length <= 0:
            return out
    out[tuple(dst)] = image[tuple(src)]
    return out


def align_prediction(source: Source, target: CropGeometry, is_instance: bool, *,
                     max_ratio: float = MAX_VOLUME_SIZE_RATIO, threads: int | None = None,
                     device: str = "cpu", check_nans: bool = False) -> tuple[np.ndarray, AlignInfo]:
    """Return the prediction on the target grid (`target.shape`), as a NumPy array, and how it
    got there; resampling runs on `device` ("cpu" or "gpu").

    NaN in a float prediction is kept and scored as the official evaluator scores it (no
    error); ``check_nans=True`` counts the NaN voxels of the submitted array and adds a
    warning with the count (the official ``MatchedCrop.check_nans``, off by default).
    """
    arr = source.array
    info = AlignInfo(source_shape=arr.shape, source_dtype=str(arr.dtype))
    if arr.ndim != len(target.shape):
        raise InputError(f"{arr.path} is {arr.ndim}D; predictions must be {len(target.shape)}D (z, y, x)")
    mem_mb = check_size_ratio(arr, target, max_ratio)
    if source.voxel_size is None:
        info.warnings.append(f"{arr.path.name}: no voxel_size attribute; matched by shape only (centre pad/crop)")
    if source.translation is None:
        info.warnings.append(f"{arr.path.name}: no translation attribute; assumed to start at the crop origin")
    tgt_vs = np.asarray(target.voxel_size, float)
    in_vs = None if source.voxel_size is None else _last(np.asarray(source.voxel_size, float), tgt_vs.size)
    if in_vs is not None and not (np.all(np.isfinite(in_vs)) and np.all(in_vs > 0)):
        raise InputError(f"{arr.path}: voxel size {source.voxel_size} must be finite and > 0")
    t0 = time.perf_counter()
    blocks_scale = None
    if mem_mb > CHUNKED_THRESHOLD_MB:
        if in_vs is not None:
            if not np.allclose(in_vs, tgt_vs):
                blocks_scale = in_vs / tgt_vs
        else:
            ratios = np.asarray(arr.shape, float) / np.asarray(target.shape, float)
            if np.all(ratios >= 1) and not np.allclose(ratios, 1):
                blocks_scale = 1.0 / ratios
    nans = [0] if check_nans else None
    if blocks_scale is not None:
        image = rescale_blocks(arr, blocks_scale, is_instance, threads, device, nans)
        if nans is not None:  # the official counts once more on the block output (float ids only)
            nans.append(count_nans(image))
        info.path, info.scale = "blocks", tuple(float(s) for s in blocks_scale)
        info.seconds_resample = time.perf_counter() - t0
        info.warnings.append(
            f"{arr.path.name}: source above 131 M voxels resampled in official 297^3 blocks "
            "(zero planes at block seams reproduced)")
    else:
        image = arr.read(threads=threads)
        info.seconds_read = time.perf_counter() - t0
        t0 = time.perf_counter()
        resample = in_vs is not None and not np.allclose(in_vs, tgt_vs)
        if nans is not None:
            nans[0] += count_nans(image)
        if resample:
            scale = in_vs / tgt_vs
            info.path, info.scale = "rescaled", tuple(float(s) for s in scale)
            if is_instance:
                if image.dtype.kind == "f" and np.any(scale < 1):
                    info.warnings.append(f"{arr.path.name}: float instance ids are smoothed when downsampled (official quirk)")
                image = rescale_instance(image, scale, device)
            else:
                image = rescale_semantic(image, scale, device) > 0.5
        elif in_vs is None and image.shape != tuple(target.shape):
            info.path = "pad_crop"
            image = pad_crop_center(image, tuple(target.shape))
        info.seconds_resample = time.perf_counter() - t0
    for count in nans or ():
        if count:
            info.warnings.append(nan_warning(arr.path, is_instance, count))
    rel = snap_shift(source.translation, target)
    info.shift_voxels = rel
    placed = place(image, rel, tuple(target.shape))
    if arr.order == "F" and info.path == "native" and placed is image:
        info.memory_order = "F"
    return placed, info


__all__ = ["DEFAULT_INSTANCE_CLASSES", "MAX_VOLUME_SIZE_RATIO", "BLOCK_EDGE", "Source", "AlignInfo",
           "locate_source", "array_grid", "count_nans", "nan_warning", "check_size_ratio", "rescale_blocks", "pad_crop_center",
           "snap_shift", "place", "align_prediction"]
