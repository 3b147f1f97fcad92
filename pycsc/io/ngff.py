"""OME-NGFF 0.4 ``multiscales`` metadata: parse, build, read and write multiscale groups.

The challenge's EM and label groups carry (spec: data.md section 4)::

    {"multiscales": [{"version": "0.4",
                      "axes": [{"name": "z", "type": "space", "unit": "nanometer"}, ...],
                      "datasets": [{"path": "s0", "coordinateTransformations": [
                          {"type": "scale", "scale": [zs, ys, xs]},
                          {"type": "translation", "translation": [zt, yt, xt]}]}, ...]}]}

OME-NGFF 0.5 (zarr v3, metadata under ``attributes["ome"]``) is read as well.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import DataError
from .arrays import S3Options, _parallel, read_attrs, write_arrays
from .geometry import VoxelGrid, as_vector, level_translation

SPATIAL_AXES = ("z", "y", "x")


@dataclass(frozen=True)
class ScaleLevel:
    """One level of a multiscale group: its array path, voxel size and translation (nm)."""

    path: str
    voxel_size: tuple[float, ...]
    translation: tuple[float, ...]

    def grid(self, shape: Sequence[int]) -> VoxelGrid:
        return VoxelGrid(self.voxel_size, self.translation, tuple(shape))


@dataclass(frozen=True)
class Multiscale:
    """The levels of one multiscale image, finest first as listed in the metadata."""

    levels: tuple[ScaleLevel, ...]
    axes: tuple[str, ...] = SPATIAL_AXES
    name: str | None = None
    version: str = "0.4"

    @property
    def voxel_sizes(self) -> list[tuple[float, ...]]:
        return [lv.voxel_size for lv in self.levels]

    def level(self, path: str) -> ScaleLevel:
        for lv in self.levels:
            if lv.path == path:
                return lv
        raise DataError(f"multiscale has no level {path!r}; levels are {[lv.path for lv in self.levels]}")

    def finest(self) -> ScaleLevel:
        return min(self.levels, key=lambda lv: float(np.prod(lv.voxel_size)))


def pyramid(voxel_size0, translation0, n_levels: int, factor: int = 2, name: str | None = None) -> Multiscale:
    """Metadata of levels ``s0..s{n-1}``, each `factor` times coarser than the previous.

    Examples
    --------
    >>> ms = pyramid((2, 2, 2), (-1, -1, -1), 4)
    >>> ms.levels[3]
    ScaleLevel(path='s3', voxel_size=(16.0, 16.0, 16.0), translation=(6.0, 6.0, 6.0))
    """
    v0 = as_vector(voxel_size0, "voxel_size0", positive=True)
    t0 = as_vector(translation0, "translation0")
    levels = []
    for k in range(n_levels):
        vk = tuple(v * factor ** k for v in v0)
        levels.append(ScaleLevel(f"s{k}", vk, level_translation(t0, v0, vk)))
    return Multiscale(tuple(levels), name=name)


def to_attrs(ms: Multiscale) -> dict[str, Any]:
    """The ``.zattrs`` document (OME-NGFF 0.4) of a multiscale group."""
    entry: dict[str, Any] = {
        "version": ms.version,
        "axes": [{"name": a, "type": "space", "unit": "nanometer"} for a in ms.axes],
        "datasets": [{"path": lv.path, "coordinateTransformations": [
            {"type": "scale", "scale": list(lv.voxel_size)},
            {"type": "translation", "translation": list(lv.translation)}]} for lv in ms.levels],
    }
    if ms.name is not None:
        entry["name"] = ms.name
    return {"multiscales": [entry]}


def _transform(transforms: Sequence[Mapping], kind: str, ndim: int, where: str) -> np.ndarray | None:
    for t in transforms or ():
        if t.get("type") == kind:
            values = t.get(kind)
            if values is None or len(values) != ndim:
                raise DataError(f"{where}: {kind} transform must list {ndim} values; got {values!r}")
            return np.asarray(values, dtype=np.float64)
    return None


def parse_multiscales(attrs: Mapping[str, Any], where: str = "group") -> Multiscale:
    """Parse the first ``multiscales`` entry of `attrs` (0.4, or 0.5 under ``ome``).

    Only spatial axes are kept (a channel or time axis is dropped from the vectors).
    A multiscale-level ``coordinateTransformations`` scale is applied on top of each level's.
    """
    ms_list = attrs.get("multiscales")
    if ms_list is None and isinstance(attrs.get("ome"), Mapping):
        ms_list = attrs["ome"].get("multiscales")
    if not ms_list:
        raise DataError(f"{where} has no OME-NGFF `multiscales` metadata; expected a multiscale group")
    entry = ms_list[0]
    axes_doc = entry.get("axes") or [{"name": a, "type": "space"} for a in SPATIAL_AXES]
    names = [a["name"] if isinstance(a, Mapping) else str(a) for a in axes_doc]
    spatial = [i for i, a in enumerate(axes_doc)
               if not isinstance(a, Mapping) or a.get("type", "space") == "space"]
    ndim = len(names)
    global_scale = _transform(entry.get("coordinateTransformations"), "scale", ndim, where)
    levels = []
    for ds in entry.get("datasets") or []:
        loc = f"{where}/{ds.get('path')}"
        scale = _transform(ds.get("coordinateTransformations"), "scale", ndim, loc)
        if scale is None:
            raise DataError(f"{loc}: dataset lacks a scale transform")
        trans = _transform(ds.get("coordinateTransformations"), "translation", ndim, loc)
        trans = np.zeros(ndim) if trans is None else trans
        if global_scale is not None:
            scale, trans = scale * global_scale, trans * global_scale
        levels.append(ScaleLevel(str(ds["path"]), tuple(float(scale[i]) for i in spatial),
                                 tuple(float(trans[i]) for i in spatial)))
    if not levels:
        raise DataError(f"{where}: `multiscales` lists no datasets")
    return Multiscale(tuple(levels), tuple(names[i] for i in spatial), entry.get("name"),
                      str(entry.get("version", "0.4")))


def read_multiscale(location: str | os.PathLike, s3: S3Options | None = None) -> Multiscale:
    """Read and parse the multiscale metadata of the group at `location` (local or s3://)."""
    return parse_multiscales(read_attrs(location, s3), str(location))


def write_multiscale_group(location: str | os.PathLike, ms: Multiscale,
                           extra_attrs: Mapping[str, Any] | None = None, zarr_format: int = 2) -> None:
    """Create (or open) the local group at `location` and write its multiscale attributes."""
    import zarr

    group = zarr.open_group(str(location), mode="a", zarr_format=zarr_format)
    group.update_attributes({**(extra_attrs or {}), **to_attrs(ms)})


def write_multiscale(location: str | os.PathLike, levels: Sequence[np.ndarray], ms: Multiscale,
                     chunks: Sequence[int], zarr_format: int = 2,
                     extra_attrs: Mapping[str, Any] | None = None) -> None:
    """Write a whole multiscale group: metadata plus one array per level (``ms`` paths)."""
    write_multiscales([(location, levels, ms)], chunks, zarr_format, extra_attrs)


def write_multiscales(items: Sequence[tuple[str | os.PathLike, Sequence[np.ndarray], Multiscale]],
                      chunks: Sequence[int], zarr_format: int = 2,
                      extra_attrs: Mapping[str, Any] | None = None) -> None:
    """Write several multiscale groups at once (``(location, level arrays, metadata)`` each)."""
    for location, levels, ms in items:
        if len(levels) != len(ms.levels):
            raise DataError(f"{location}: {len(levels)} arrays given for {len(ms.levels)} levels")
    _parallel(write_multiscale_group, [(loc, ms, extra_attrs, zarr_format) for loc, _, ms in items])
    arrays = [(os.path.join(str(loc), lv.path), data)
              for loc, levels, ms in items for data, lv in zip(levels, ms.levels)]
    write_arrays(arrays, chunks, zarr_format=zarr_format)


__all__ = [
    "ScaleLevel", "Multiscale", "pyramid", "to_attrs", "parse_multiscales", "read_multiscale",
    "write_multiscale_group", "write_multiscale", "write_multiscales",
]
