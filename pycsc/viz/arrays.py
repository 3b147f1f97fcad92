"""Lazy read-only arrays behind the viewer's layers (zarr folders and arrays inside a zip).

Neuroglancer's ``LocalVolume`` asks for one chunk at a time (``array[z0:z1, y0:y1, x0:x1]``),
so arrays are opened lazily and never read whole. A location ``<file.zip>::<path>`` names
an array inside a submission zip, read in place (no extraction).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from ..errors import DataError

_OPEN: dict[str, Any] = {}
_LOCK = threading.Lock()


def open_volume_array(location: str) -> Any:
    """A read-only zarr array for a folder or ``<file.zip>::<path>`` location (cached)."""
    with _LOCK:
        arr = _OPEN.get(location)
        if arr is None:
            arr = _OPEN[location] = _open(location)
    return arr


def _open(location: str) -> Any:
    import zarr

    try:
        if "::" in location:
            from zarr.storage import ZipStore

            zip_path, inner = location.split("::", 1)
            return zarr.open_array(store=ZipStore(zip_path, mode="r"), path=inner, mode="r")
        return zarr.open_array(location, mode="r")
    except Exception as exc:  # zarr raises several unrelated types for unreadable stores
        raise DataError(f"cannot open the array at {location}: {exc}") from None


def submission_geometry(arr: Any, location: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(voxel_size, translation) in nm from a submission array's ``voxel_size``/``translation`` attrs."""
    attrs = dict(arr.attrs)
    try:
        vs = tuple(float(v) for v in attrs["voxel_size"])
        tr = tuple(float(v) for v in attrs.get("translation", (0.0,) * len(vs)))
    except (KeyError, TypeError, ValueError):
        raise DataError(f"submission array {location} lacks `voxel_size` (and `translation`) attributes in nm; "
                        "repack it with `csc pack`") from None
    if len(vs) != 3 or len(tr) != 3 or min(vs) <= 0:
        raise DataError(f"submission array {location}: voxel_size {vs} / translation {tr} must be 3 numbers (zyx nm)")
    return vs, tr


class LazyVolume:
    """The array at a location, sliced on demand (what LocalVolume reads chunks from).

    Label volumes of dtypes neuroglancer cannot show as segmentation (signed or bool) are
    read as uint32/uint64 chunk by chunk.
    """

    def __init__(self, location: str, dtype: np.dtype | None = None):
        self.location = location
        self._arr = open_volume_array(location)
        self.shape = tuple(int(n) for n in self._arr.shape)
        self.dtype = np.dtype(dtype or self._arr.dtype)
        self.ndim = len(self.shape)

    def __getitem__(self, item) -> np.ndarray:
        return np.asarray(self._arr[item]).astype(self.dtype, copy=False)


def image_dtype(dtype: np.dtype) -> np.dtype:
    """The type neuroglancer can show as an image: float16/float64 as float32, bool as uint8."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f" and dtype != np.float32:
        return np.dtype(np.float32)
    return np.dtype(np.uint8) if dtype == np.bool_ else dtype


def segmentation_dtype(dtype: np.dtype) -> np.dtype:
    """The unsigned type neuroglancer shows as segmentation ids for a label dtype."""
    dtype = np.dtype(dtype)
    if dtype in (np.uint8, np.uint16, np.uint32, np.uint64):
        return dtype
    return np.dtype(np.uint64) if dtype.itemsize > 4 else np.dtype(np.uint32)


__all__ = ["open_volume_array", "submission_geometry", "LazyVolume", "image_dtype", "segmentation_dtype"]
