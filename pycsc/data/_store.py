"""The pipeline's narrow view of storage: OME-NGFF levels, boxed reads, prediction groups.

Every pipeline module reaches zarr and tensorstore only through these few functions, so
that the training loader, predict, process and pack share one geometry convention:

* positions are zyx nanometres; a level's ``translation`` is the centre of its voxel 0, so
  voxel ``i`` covers ``[t + (i - 1/2) v, t + (i + 1/2) v)`` and the level's lower *edge* is
  ``t - v/2``;
* a box is given by its lower edge and its shape on a grid of voxel size ``v``.

Arrays are read through tensorstore (fast, threaded, partial chunk reads); groups and
attributes are written through zarr-python as Zarr v2 (the challenge's format).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError

_ARRAYS: dict[str, Any] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Level:
    """One scale level of an OME-NGFF multiscale group."""

    path: str                 # the array's folder
    voxel_size: tuple[float, float, float]
    translation: tuple[float, float, float]
    shape: tuple[int, int, int]

    @property
    def edge(self) -> np.ndarray:
        """World position of the lower edge of voxel 0."""
        return np.asarray(self.translation) - np.asarray(self.voxel_size) / 2


def read_attrs(path: str | Path) -> dict:
    """User attributes of a local zarr v2 or v3 node (empty when it has none)."""
    path = Path(path)
    for name, key in ((".zattrs", None), ("zarr.json", "attributes")):
        f = path / name
        if f.is_file():
            data = json.loads(f.read_text())
            return data.get(key, {}) if key else data
    return {}


def _array_shape(path: Path) -> tuple[int, ...]:
    for name in (".zarray", "zarr.json"):
        f = path / name
        if f.is_file():
            return tuple(int(s) for s in json.loads(f.read_text())["shape"])
    raise DataError(f"{path} is not a zarr array (no .zarray or zarr.json)")


def read_levels(group: str | Path) -> list[Level]:
    """The levels of the OME-NGFF multiscale group at `group`, in the order listed."""
    g = Path(group)
    attrs = read_attrs(g)
    try:
        ms = attrs["multiscales"][0]
        datasets = ms["datasets"]
    except (KeyError, IndexError, TypeError):
        raise DataError(f"{g} is not an OME-NGFF multiscale group (no 'multiscales' attribute); "
                        "point at the group that holds s0, s1, ...") from None
    levels = []
    for ds in datasets:
        scale, translation = None, (0.0, 0.0, 0.0)
        for tr in ds.get("coordinateTransformations", []):
            if tr.get("type") == "scale":
                scale = tuple(float(v) for v in tr["scale"][-3:])
            elif tr.get("type") == "translation":
                translation = tuple(float(v) for v in tr["translation"][-3:])
        if scale is None:
            raise DataError(f"{g}: level {ds.get('path')!r} has no scale transformation")
        path = g / ds["path"]
        levels.append(Level(str(path), scale, translation, _array_shape(path)[-3:]))
    if not levels:
        raise DataError(f"{g}: the multiscale group lists no levels")
    return levels


def choose_level(levels: list[Level], voxel_size: np.ndarray) -> Level:
    """The level to read for a target voxel size.

    A level within 1 % of the target wins; else the coarsest level that is finer than the
    target on every axis (down-sampling it loses least); else the finest level (up-sampled).
    """
    target = np.asarray(voxel_size, float)
    for lv in levels:
        if np.all(np.abs(np.asarray(lv.voxel_size) - target) <= 0.01 * target):
            return lv
    finer = [lv for lv in levels if np.all(np.asarray(lv.voxel_size) <= target)]
    if finer:
        return max(finer, key=lambda lv: float(np.prod(lv.voxel_size)))
    return min(levels, key=lambda lv: float(np.prod(lv.voxel_size)))


def open_array(path: str) -> Any:
    """A cached read-only tensorstore handle (one per process; handles are thread-safe)."""
    handle = _ARRAYS.get(path)
    if handle is None:
        import tensorstore as ts

        driver = "zarr" if (Path(path) / ".zarray").is_file() else "zarr3"
        try:
            handle = ts.open({"driver": driver, "kvstore": {"driver": "file", "path": path}},
                             read=True, open=True).result()
        except Exception as exc:  # tensorstore raises ValueError with a long status text
            raise DataError(f"cannot open the zarr array {path}: {exc}") from None
        with _LOCK:
            _ARRAYS[path] = handle
    return handle


def read_box(level: Level, start, shape) -> np.ndarray:
    """Voxels ``[start, start + shape)`` of `level`; parts outside the array read as 0."""
    start = np.asarray(start, dtype=np.int64)
    stop = start + np.asarray(shape, dtype=np.int64)
    lo = np.clip(start, 0, level.shape)
    hi = np.clip(stop, 0, level.shape)
    arr = open_array(level.path)
    if np.all(lo == start) and np.all(hi == stop):
        return arr[tuple(slice(a, b) for a, b in zip(lo, hi))].read().result()
    out = np.zeros(tuple(int(s) for s in shape), dtype=arr.dtype.numpy_dtype)
    if np.all(hi > lo):
        data = arr[tuple(slice(a, b) for a, b in zip(lo, hi))].read().result()
        out[tuple(slice(a - s, b - s) for a, b, s in zip(lo, hi, start))] = data
    return out


def level_box(level: Level) -> tuple[np.ndarray, np.ndarray]:
    """World lower and upper edges of a level."""
    edge = level.edge
    return edge, edge + np.asarray(level.shape) * np.asarray(level.voxel_size)


# ---- writing ---------------------------------------------------------------------------------

def _multiscale_attrs(name: str, voxel_size, translation) -> dict:
    axes = [{"name": a, "type": "space", "unit": "nanometer"} for a in "zyx"]
    return {"multiscales": [{
        "version": "0.4", "name": name, "axes": axes,
        "datasets": [{"path": "s0", "coordinateTransformations": [
            {"type": "scale", "scale": [float(v) for v in voxel_size]},
            {"type": "translation", "translation": [float(t) for t in translation]}]}],
    }]}


def create_volume(group: str | Path, shape, dtype, voxel_size, translation, chunks,
                  attrs: dict | None = None) -> Any:
    """Create (replacing) an OME-NGFF single-level group ``group`` with array ``s0``.

    Returns the zarr array to fill. Zstd-compressed Zarr v2, chunk separator ``/``.
    """
    import zarr
    from numcodecs import Blosc

    g = zarr.open_group(str(group), mode="w", zarr_format=2)
    g.attrs.update(_multiscale_attrs(Path(group).name, voxel_size, translation))
    if attrs:
        g.attrs.update(attrs)
    chunks = tuple(int(min(c, s)) or 1 for c, s in zip(chunks, shape))
    return g.create_array("s0", shape=tuple(int(s) for s in shape), dtype=dtype, chunks=chunks,
                          fill_value=0, compressors=Blosc(cname="zstd", clevel=3, shuffle=Blosc.BITSHUFFLE),
                          chunk_key_encoding={"name": "v2", "separator": "/"})


def ensure_parent_groups(group: str | Path) -> None:
    """Give every folder from the ``*.zarr`` root down to `group`'s parent a ``.zgroup``."""
    p = Path(group)
    parts = p.parts
    roots = [i for i, part in enumerate(parts) if part.endswith(".zarr")]
    start = roots[0] if roots else len(parts) - 1
    for i in range(start, len(parts)):
        folder = Path(*parts[: i + 1])
        folder.mkdir(parents=True, exist_ok=True)
        marker = folder / ".zgroup"
        if not marker.exists() and not (folder / ".zarray").exists():
            marker.write_text('{\n    "zarr_format": 2\n}')


def mark_complete(group: str | Path, info: dict) -> None:
    """Record in the group's attributes that it was written to the end (resume marker)."""
    import zarr

    g = zarr.open_group(str(group), mode="r+", zarr_format=2)
    g.attrs["pycsc"] = {"complete": True, **info}


def is_complete(group: str | Path) -> bool:
    return bool(read_attrs(Path(group)).get("pycsc", {}).get("complete", False))
