"""The submission: every (test crop, class) of the manifest on the test crop's own grid.

Layout of the zip (Zarr v2, read by the official evaluator and ``pycsc evaluate``)::

    .zgroup
    crop557/.zgroup
    crop557/mito/.zarray .zattrs 0/0/0 ...   voxel_size, translation, shape attributes

Each class is brought to the crop grid here, so that the evaluator's own alignment is an
identity (same voxel size, shape and translation): a different voxel size is resampled with
the evaluator's rules (:func:`pycsc.ops.rescale`, nearest for instance ids, linear and
``> 0.5`` for semantic masks); the volume is then placed by its lower edge (OME-NGFF:
translation = centre of voxel 0) and cut or zero-padded to the crop shape. Semantic masks
are uint8 0/1; instance ids stay uint32 (uint64 when needed), never wrapped to uint8 as the
official ``pack-results`` does (ids 256 and 0 would merge).
"""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import numpy as np

from ..config import PackConfig, write_resolved
from ..data import _store
from ..data.crops import crop_sort_key, read_manifest_rows
from ..errors import DataError
from ..io.manifest import resolve_test_manifest


def align_to_crop(group: str | Path, voxel_size, translation, shape, instance: bool) -> np.ndarray:
    """The volume of the OME-NGFF group `group` on the crop grid (voxel size, translation, shape)."""
    levels = _store.read_levels(group)
    target = np.asarray(voxel_size, float)
    lv = next((lv for lv in levels if np.allclose(lv.voxel_size, target, rtol=1e-5, atol=1e-8)), levels[0])
    data = _store.open_array(lv.path).read().result()
    return align_array(data, lv.voxel_size, lv.translation, voxel_size, translation, shape, instance)


def align_array(data: np.ndarray, source_voxel_size, source_translation, voxel_size, translation, shape,
                instance: bool) -> np.ndarray:
    """`data` (on a grid of `source_voxel_size` and `source_translation`) on the crop grid."""
    target = np.asarray(voxel_size, float)
    if instance:
        if data.dtype.kind == "f":
            data = np.rint(data).astype(np.uint64)
        if data.dtype.kind == "b":
            data = data.astype(np.uint8)
    same_grid = np.allclose(source_voxel_size, target, rtol=1e-5, atol=1e-8)
    if not same_grid:
        from ..ops import rescale

        factors = tuple(float(a) / float(b) for a, b in zip(source_voxel_size, target))
        if instance:
            data = rescale(data, factors, order=0)
        else:
            data = rescale((data > 0).astype(np.float32), factors, order=1) > 0.5
    if not instance:
        data = (data > 0).astype(np.uint8)
    elif data.dtype.itemsize < 4 or (data.dtype == np.uint64 and data.size and data.max() < 2**32):
        data = data.astype(np.uint32)
    elif data.dtype.kind == "i":
        data = data.astype(np.uint64)
    # placement by lower edges, in crop voxels
    src_edge = np.asarray(source_translation, float) - np.asarray(source_voxel_size, float) / 2
    crop_edge = np.asarray(translation, float) - target / 2
    offset = np.rint((src_edge - crop_edge) / target).astype(int)
    out = np.zeros(tuple(int(s) for s in shape), data.dtype)
    dst = [slice(max(0, o), min(s, o + n)) for o, s, n in zip(offset, out.shape, data.shape)]
    src = [slice(d.start - o, d.stop - o) for d, o in zip(dst, offset)]
    if all(d.stop > d.start for d in dst):
        out[tuple(dst)] = data[tuple(src)]
    return out


def _write_array(group, name: str, data: np.ndarray, attrs: dict) -> int:
    from numcodecs import Blosc

    chunks = tuple(min(64, s) for s in data.shape)
    arr = group.create_array(name, shape=data.shape, dtype=data.dtype, chunks=chunks, fill_value=0,
                             compressors=Blosc(cname="zstd", clevel=3, shuffle=Blosc.BITSHUFFLE),
                             chunk_key_encoding={"name": "v2", "separator": "."})
    arr[:] = data
    arr.attrs.update(attrs)
    return int(data.nbytes)


def zip_folder(folder: Path, dest: Path) -> Path:
    """Zip the *contents* of `folder` (files only, deflated, names relative), atomically."""
    tmp = dest.with_name(f".{dest.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for base, dirs, files in os.walk(folder):
            dirs.sort()
            for f in sorted(files):
                path = Path(base) / f
                zf.write(path, path.relative_to(folder).as_posix())
    os.replace(tmp, dest)
    return dest


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} GiB"


def pack(cfg: PackConfig) -> dict:
    """Build ``<output>.zarr`` and zip it to `cfg.output`; returns what was packed and missed."""
    rows = read_manifest_rows(resolve_test_manifest(cfg.manifest))
    sources, missing = [], []
    for crop, ds, label, vs, tr, shape in rows:
        src = Path(cfg.input.format(dataset=ds, crop=crop)) / label
        (sources if (src / ".zattrs").is_file() or (src / "zarr.json").is_file() else missing).append(
            (crop, ds, label, vs, tr, shape, src))
    if missing:
        by_crop: dict[str, list[str]] = {}
        for crop, *_rest in missing:
            by_crop.setdefault(crop, []).append(_rest[1])
        total = {c: sum(1 for r in rows if r[0] == c) for c in by_crop}
        listed = [f"{c}: {'all ' + str(total[c]) + ' classes' if len(v) == total[c] else ', '.join(v)}"
                  for c, v in sorted(by_crop.items(), key=lambda kv: crop_sort_key(kv[0]))]
        text = (f"{len(missing)} of {len(rows)} manifest (crop, class) pairs have no processed volume "
                f"under {cfg.input}/<class>: " + "; ".join(listed))
        if cfg.missing == "error":
            raise DataError(text + "; process them, or pass --missing skip (left out: scored as "
                            "missing) or --missing empty (all-background arrays)")
        counts = ", ".join(f"{c} {len(v)}" for c, v in sorted(by_crop.items(), key=lambda kv: crop_sort_key(kv[0])))
        print(f"pack: {len(missing)} of {len(rows)} manifest (crop, class) pairs have no processed volume "
              f"({counts}); {'left out' if cfg.missing == 'skip' else 'packed as background'}")
    if not sources:
        raise DataError(f"pack: nothing to pack: no processed volume under {cfg.input}")
    if cfg.missing == "empty":
        sources += [(*m[:6], None) for m in missing]
    out_zip = Path(cfg.output)
    zarr_dir = out_zip.with_suffix(".zarr")
    if (out_zip.exists() or zarr_dir.exists()) and not cfg.overwrite:
        raise DataError(f"{out_zip} or {zarr_dir} exists; pass --overwrite to replace them")
    shutil.rmtree(zarr_dir, ignore_errors=True)
    import zarr

    root = zarr.open_group(str(zarr_dir), mode="w", zarr_format=2)
    groups = {crop: root.require_group(crop) for crop in sorted({r[0] for r in rows}, key=crop_sort_key)}
    packed, raw_bytes = [], 0
    for crop, ds, label, vs, tr, shape, src in sources:
        instance = label in cfg.instance_classes
        data = np.zeros(shape, np.uint8) if src is None else align_to_crop(src, vs, tr, shape, instance)
        raw_bytes += _write_array(groups[crop], label, data,
                                  {"voxel_size": list(vs), "translation": list(tr), "shape": list(shape)})
        packed.append({"crop": crop, "class": label, "dtype": str(data.dtype), "shape": list(shape),
                       "bytes": int(data.nbytes)})
    write_resolved(cfg, out_zip.with_name(out_zip.stem + ".pack.toml"))
    zip_folder(zarr_dir, out_zip)
    zip_bytes = out_zip.stat().st_size
    print(f"pack: {len(packed)} arrays in {len(groups)} crops, {_human(raw_bytes)} uncompressed, "
          f"zip {_human(zip_bytes)} -> {out_zip}")
    return {"zip": str(out_zip), "zarr": str(zarr_dir), "packed": packed,
            "missing": [(r[0], r[2]) for r in missing], "uncompressed_bytes": raw_bytes, "zip_bytes": zip_bytes}
