"""What ``csc visualize`` shows: the volumes and crop boxes found on disk, placed in nm.

Nothing here imports neuroglancer: a :class:`Scene` is plain data (array locations and
OME-NGFF geometry), built from the layout ``csc fetch`` / ``csc simulate`` write::

    <data_root>/<ds>/<ds>.zarr/recon-1/em/fibsem-uint8/s<k>            kind em
    <data_root>/<ds>/<ds>.zarr/recon-1/labels/groundtruth/crop<N>/<c>  kind gt
    predictions/<ds>.zarr/crop<N>/<c>/s0                                kind predictions
    processed/<ds>.zarr/crop<N>/<c>/s0                                  kind processed
    submission.(zip|zarr)/crop<N>/<c>                                   kind submission

Geometry: ``translation`` is the centre of voxel 0, so a volume spans
``[translation - voxel_size/2, translation - voxel_size/2 + shape * voxel_size)`` nm::

    edge = translation - voxel_size / 2
    |<-- voxel 0 -->|<-- voxel 1 -->| ...
    ^edge   ^translation
"""

from __future__ import annotations

import fnmatch
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..data import _store
from ..data.crops import crop_name, crop_sort_key, read_manifest_rows
from ..data.datasplit import crop_classes, find_crops
from ..errors import DataError
from .config import VisualizeConfig

RAW_GROUP = "recon-1/em/fibsem-uint8"


@dataclass(frozen=True)
class Volume:
    """One layer: an array location and where its voxels sit in the world (zyx, nm)."""

    name: str
    kind: str                       # em | gt | predictions | processed | submission
    render: str                     # image | segmentation | probability
    location: str                   # zarr array folder, or "<file.zip>::<path inside>"
    voxel_size: tuple[float, float, float]
    translation: tuple[float, float, float]
    shape: tuple[int, int, int]
    dataset: str = ""
    crop: str = ""
    source_url: str = ""            # public URL of the same data (links), when known

    @property
    def edge_nm(self) -> np.ndarray:
        return np.asarray(self.translation, float) - np.asarray(self.voxel_size, float) / 2


@dataclass(frozen=True)
class CropBox:
    """A crop's extent in nm (lower and upper edges, zyx) for a bounding-box annotation."""

    dataset: str
    crop: str
    lower_nm: tuple[float, float, float]
    upper_nm: tuple[float, float, float]

    @property
    def centre_nm(self) -> np.ndarray:
        return (np.asarray(self.lower_nm) + np.asarray(self.upper_nm)) / 2


@dataclass
class Scene:
    volumes: list[Volume] = field(default_factory=list)
    boxes: list[CropBox] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def finest_voxel_nm(self) -> tuple[float, float, float]:
        sizes = [v.voxel_size for v in self.volumes if v.kind != "em"] or [v.voxel_size for v in self.volumes]
        return tuple(float(x) for x in np.min(np.asarray(sizes, float), axis=0)) if sizes else (1.0, 1.0, 1.0)


def _box(ds: str, crop: str, vs, tr, shape) -> CropBox:
    lower = np.asarray(tr, float) - np.asarray(vs, float) / 2
    upper = lower + np.asarray(shape, float) * np.asarray(vs, float)
    return CropBox(ds, crop, tuple(lower.tolist()), tuple(upper.tolist()))


def _wanted(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _class_ok(label: str, cfg: VisualizeConfig) -> bool:
    return not cfg.classes or label in cfg.classes


def _level_volume(name, kind, render, group: Path, ds, crop, level: str | None = None) -> Volume:
    levels = _store.read_levels(group)
    lv = next((x for x in levels if Path(x.path).name == level), None) if level else levels[0]
    if lv is None:
        raise DataError(f"{group} has no level {level!r}; levels are {[Path(x.path).name for x in levels]}")
    return Volume(name, kind, render, lv.path, lv.voxel_size, lv.translation, lv.shape, ds, crop)


def manifest_path(cfg: VisualizeConfig) -> Path | None:
    if cfg.manifest is not None:
        if not Path(cfg.manifest).is_file():
            raise DataError(f"manifest {cfg.manifest} does not exist; pass the test-crop manifest CSV")
        return Path(cfg.manifest)
    default = Path(cfg.data_root) / "test_crop_manifest.csv"
    return default if default.is_file() else None


def _test_boxes(cfg: VisualizeConfig) -> list[CropBox]:
    manifest = manifest_path(cfg)
    if manifest is None:
        raise DataError(f"crops 'test' need the test-crop manifest: pass --manifest (none found at "
                        f"{Path(cfg.data_root) / 'test_crop_manifest.csv'})")
    merged: dict[tuple[str, str], CropBox] = {}
    for crop, ds, label, vs, tr, shape in read_manifest_rows(manifest):
        if not _wanted(ds, cfg.datasets):
            continue
        box = _box(ds, crop, vs, tr, shape)
        old = merged.get((ds, crop))
        if old is not None:
            box = CropBox(ds, crop, tuple(np.minimum(old.lower_nm, box.lower_nm).tolist()),
                          tuple(np.maximum(old.upper_nm, box.upper_nm).tolist()))
        merged[(ds, crop)] = box
    return list(merged.values())


def _crop_patterns(cfg: VisualizeConfig) -> list[str]:
    return ["*" if c in ("*", "all") else crop_name(c) for c in cfg.crops if c != "test"]


def _local_crops(cfg: VisualizeConfig, scene: Scene) -> None:
    patterns = _crop_patterns(cfg)
    if not patterns:
        return
    for ds, folder in find_crops(cfg.data_root, cfg.datasets, patterns):
        labels = [c for c in crop_classes(folder) if _class_ok(c, cfg)]
        geometry = _level_volume("", "gt", "segmentation", folder / (labels or crop_classes(folder) or ["all"])[0],
                                 ds, folder.name)
        scene.boxes.append(_box(ds, folder.name, geometry.voxel_size, geometry.translation, geometry.shape))
        if "gt" in cfg.kinds:
            for label in labels:
                scene.volumes.append(_level_volume(f"gt {folder.name} {label}", "gt", "segmentation",
                                                   folder / label, ds, folder.name))


def _outputs(cfg: VisualizeConfig, scene: Scene, kind: str, template: str) -> None:
    render = "probability" if kind == "predictions" else "segmentation"
    found = 0
    for box in scene.boxes:
        group = Path(template.format(dataset=box.dataset, crop=box.crop))
        if not group.is_dir():
            continue
        for child in sorted(p for p in group.iterdir() if p.is_dir()):
            if _class_ok(child.name, cfg) and _store.read_attrs(child).get("multiscales"):
                scene.volumes.append(_level_volume(f"{kind} {box.crop} {child.name}", kind, render, child,
                                                   box.dataset, box.crop))
                found += 1
    if not found:
        scene.notes.append(f"no {kind} found at {template} for the crops shown")


def _submission_arrays(path: Path) -> list[tuple[str, str, str]]:
    """(crop, class, location) of every array in a submission .zip or .zarr."""
    pattern = re.compile(r"(?:(.*)/)?(crop\d+)/([^/]+)/(?:\.zarray|zarr\.json)$")
    out = []
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
        for n in names:
            m = pattern.match(n)
            if m:
                out.append((m.group(2), m.group(3), f"{path}::{n.rsplit('/', 1)[0]}"))
    elif path.is_dir():
        for root, _dirs, files in os.walk(path):
            rel = os.path.relpath(root, path).replace(os.sep, "/")
            for f in files:
                m = pattern.match(f"{rel}/{f}")
                if m:
                    out.append((m.group(2), m.group(3), root))
    else:
        raise DataError(f"submission {path} is neither a .zip file nor a .zarr folder")
    if not out:
        raise DataError(f"submission {path} holds no crop<N>/<class> arrays; expected what `csc pack` writes")
    return sorted(out, key=lambda t: (crop_sort_key(t[0]), t[1]))


def _submission(cfg: VisualizeConfig, scene: Scene) -> None:
    from .arrays import open_volume_array, submission_geometry

    manifest = manifest_path(cfg)
    datasets = {r[0]: r[1] for r in read_manifest_rows(manifest)} if manifest else {}
    wanted = set(_crop_patterns(cfg)) | {b.crop for b in scene.boxes}
    for crop, label, location in _submission_arrays(Path(cfg.submission)):
        if not (_class_ok(label, cfg) and (crop in wanted or "*" in wanted)):
            continue
        arr = open_volume_array(location)
        vs, tr = submission_geometry(arr, location)
        ds = datasets.get(crop, "")
        scene.volumes.append(Volume(f"submission {crop} {label}", "submission", "segmentation", location,
                                    vs, tr, tuple(int(n) for n in arr.shape), ds, crop))
        if not any(b.crop == crop for b in scene.boxes):
            scene.boxes.append(_box(ds, crop, vs, tr, arr.shape))


def _em(cfg: VisualizeConfig, scene: Scene) -> None:
    target = np.asarray(scene.finest_voxel_nm)
    for ds in sorted({b.dataset for b in scene.boxes if b.dataset}):
        group = Path(cfg.data_root) / ds / f"{ds}.zarr" / RAW_GROUP
        if not group.is_dir():
            scene.notes.append(f"no EM for {ds} at {group}")
            continue
        levels = _store.read_levels(group)
        if cfg.em_level:
            vol = _level_volume(f"em {ds}", "em", "image", group, ds, "", cfg.em_level)
        else:
            lv = _store.choose_level(levels, target)
            vol = Volume(f"em {ds}", "em", "image", lv.path, lv.voxel_size, lv.translation, lv.shape, ds)
        scene.volumes.insert(0, vol)


def build_scene(cfg: VisualizeConfig, need_volumes: bool = True) -> Scene:
    """Every volume and crop box `cfg` asks for, EM first.

    With `need_volumes` False (public links) crop boxes alone are enough.

    Raises
    ------
    DataError
        When nothing matches (the message says where it looked).
    """
    scene = Scene()
    if "test" in cfg.crops:
        scene.boxes += _test_boxes(cfg)
    _local_crops(cfg, scene)
    for kind, template in (("predictions", cfg.predictions), ("processed", cfg.processed)):
        if kind in cfg.kinds:
            _outputs(cfg, scene, kind, template)
    if "submission" in cfg.kinds:
        _submission(cfg, scene)
    if "em" in cfg.kinds:
        _em(cfg, scene)
    scene.boxes.sort(key=lambda b: (b.dataset, crop_sort_key(b.crop)))
    if not scene.volumes and (need_volumes or not scene.boxes):
        where = Path(cfg.data_root) / "<dataset>" / "<dataset>.zarr" / "recon-1"
        raise DataError(f"nothing to show for datasets {list(cfg.datasets)}, crops {list(cfg.crops)}, classes "
                        f"{list(cfg.classes) or 'all'}, kinds {list(cfg.kinds)}: looked under {where}"
                        + ("; " + "; ".join(scene.notes) if scene.notes else "")
                        + ". Check --data-root, -d and -c (crop ids, 'test' or '*')")
    return scene


__all__ = ["Volume", "CropBox", "Scene", "build_scene", "manifest_path", "RAW_GROUP"]
