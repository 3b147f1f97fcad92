"""Probabilities -> segmentations: threshold, connected components, size filter, watershed.

Per (crop, class) found under the `input` template:

* semantic class: ``probability > threshold`` as uint8 0/1, block by block;
* instance class: the same mask labelled into objects (connected components with
  `connectivity`, merged across blocks, :mod:`pycsc.process.blockwise`), objects smaller
  than `min_size` voxels removed, ids as uint32 (uint64 beyond 2**32 - 1 objects);
  with `watershed`, touching objects are split by a distance-transform watershed
  (scikit-image, whole volume in memory);
* with `hook = "file.py:function"` (or ``"package.module:function"``) the user function
  replaces all of that: ``function(probabilities, class_name=..., voxel_size=...,
  instance=...) -> array`` of the same shape (labels or mask), whole volume in memory.

The output group has the input's voxel size and translation (OME-NGFF, ``s0``).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import shutil
from pathlib import Path
from typing import Callable

import numpy as np

from ..config import ProcessConfig, write_resolved
from ..data import _store
from ..data.crops import crop_name, crop_sort_key, select_shard, test_targets
from ..errors import ConfigError, DataError
from ..predict.run import decode_probabilities
from .blockwise import blocks, label_blockwise, relabel_blocks
from .decode import DecodeParams, choose_decoder, decode_group, target_of


def load_hook(spec: str) -> Callable:
    """The function named by ``'path/to/file.py:function'`` or ``'package.module:function'``."""
    where, sep, name = spec.rpartition(":")
    if not sep or not where or not name:
        raise ConfigError(f"`hook` must look like 'file.py:function' or 'module:function'; got {spec!r}")
    if where.endswith(".py"):
        path = Path(where)
        if not path.is_file():
            raise ConfigError(f"`hook` file {path} does not exist")
        module_spec = importlib.util.spec_from_file_location(f"pycsc_hook_{path.stem}", path)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as exc:
            raise ConfigError(f"`hook` module {where!r} cannot be imported: {exc}") from None
    fn = getattr(module, name, None)
    if not callable(fn):
        raise ConfigError(f"`hook`: {where} has no function {name!r}")
    return fn


def watershed_split(probabilities: np.ndarray, mask: np.ndarray, voxel_size, min_distance: int) -> np.ndarray:
    """Split touching objects of `mask`: seeds at distance-transform maxima, watershed on
    the negated distance, restricted to the mask (scikit-image, imported only here)."""
    try:
        from skimage.feature import peak_local_max
        from skimage.segmentation import watershed
    except ImportError:
        raise ConfigError("`watershed` needs scikit-image: pip install scikit-image") from None
    from ..ops import connected_components, distance_transform_edt

    distance = distance_transform_edt(mask, sampling=voxel_size)
    objects, _ = connected_components(mask.astype(np.uint8), connectivity=26)
    peaks = peak_local_max(distance, min_distance=min_distance, labels=objects, exclude_border=False)
    markers = np.zeros(mask.shape, np.int64)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    return watershed(-distance, markers, mask=mask).astype(np.uint64)


def _filter_sizes(labels: np.ndarray, min_size: int) -> np.ndarray:
    """Drop objects smaller than `min_size` and renumber the rest 1..n."""
    from ..ops import voxel_counts

    ids, counts = voxel_counts(labels)
    ids, counts = np.asarray(ids), np.asarray(counts)
    keep = ids[(ids != 0) & (counts >= max(1, min_size))]
    lut = np.zeros(int(labels.max()) + 1, np.uint64)
    lut[keep.astype(np.int64)] = np.arange(1, keep.size + 1, dtype=np.uint64)
    return lut[labels.astype(np.int64)]


def _id_dtype(n: int) -> str:
    return "uint32" if n < 2**32 else "uint64"


def process_class(cfg: ProcessConfig, in_group: Path, out_group: Path, cls: str) -> dict:
    """Process one class volume; returns a summary."""
    decoder = choose_decoder(target_of(_store.read_attrs(in_group)), cfg.decoders.get(cls), f"`decoders.{cls}`")
    if decoder != "threshold" and cfg.hook is None:  # sdt / boundary / affinity predictions
        params = DecodeParams(float(cfg.thresholds.get(cls, cfg.threshold)), cfg.seed_threshold,
                              cfg.connectivity, cls in cfg.instance_classes)
        return decode_group(in_group, out_group, cls, decoder, params, int(cfg.min_sizes.get(cls, cfg.min_size)))
    s0 = _store.read_levels(in_group)[0]
    src = _store.open_array(s0.path)
    shape = s0.shape
    threshold = float(cfg.thresholds.get(cls, cfg.threshold))
    instance = cls in cfg.instance_classes
    min_size = int(cfg.min_sizes.get(cls, cfg.min_size))
    chunks = tuple(min(64, s) for s in shape)

    def read_probs(sl=None):
        return decode_probabilities(src[sl if sl is not None else ()].read().result())

    def create(dtype):
        return _store.create_volume(out_group, shape, dtype, s0.voxel_size, s0.translation, chunks,
                                    attrs={"pycsc_kind": "instance" if instance else "semantic"})

    whole = cfg.hook is not None or (instance and cfg.watershed)
    if whole:
        probs = read_probs()
        if cfg.hook is not None:
            result = np.asarray(load_hook(cfg.hook)(probs, class_name=cls, voxel_size=s0.voxel_size,
                                                    instance=instance))
            if result.shape != tuple(shape):
                raise DataError(f"hook {cfg.hook} returned shape {result.shape} for {in_group}; "
                                f"expected {tuple(shape)}")
            if result.dtype == np.bool_:
                result = result.astype(np.uint8)
        else:
            result = _filter_sizes(watershed_split(probs, probs > threshold, s0.voxel_size,
                                                   cfg.watershed_min_distance), min_size)
            result = result.astype(_id_dtype(int(result.max(initial=0))))
        create(result.dtype)[:] = result
        n = int(len(np.unique(result)) - (result.min(initial=0) == 0)) if instance else None
    elif instance:
        scratch = out_group.parent / f".{out_group.name}.provisional"
        shutil.rmtree(scratch, ignore_errors=True)
        import zarr

        provisional = zarr.create_array(str(scratch), shape=shape, dtype="uint64", chunks=chunks,
                                        zarr_format=2, overwrite=True)
        try:
            n, table = label_blockwise(lambda sl: read_probs(sl) > threshold, shape, cfg.block_shape,
                                       cfg.connectivity, min_size, provisional)
            dtype = np.dtype(_id_dtype(n))
            out = create(dtype)
            relabel_blocks(provisional, table.astype(dtype), shape, cfg.block_shape,
                           lambda sl, labels: out.__setitem__(sl, labels))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    else:
        out = create("uint8")
        for sl in blocks(shape, cfg.block_shape):
            out[sl] = (read_probs(sl) > threshold).astype(np.uint8)
        n = None
    _store.mark_complete(out_group, {"threshold": threshold, "instance": instance})
    return {"class": cls, "instance": instance, "objects": n, "output": str(out_group)}


def _template_regex(template: str) -> re.Pattern:
    parts = re.split(r"(\{dataset\}|\{crop\})", template)
    body = "".join({"{dataset}": "(?P<dataset>[^/]+)", "{crop}": "(?P<crop>[^/]+)"}.get(p, re.escape(p))
                   for p in parts)
    return re.compile(body + "$")


def find_groups(template: str, crop: str = "*") -> list[tuple[str, str]]:
    """(dataset, crop) pairs for which the `template` folder exists."""
    import glob

    pattern = template.replace("{dataset}", "*").replace("{crop}", crop)
    rx = _template_regex(template)
    found = []
    for hit in glob.glob(pattern):
        m = rx.match(hit)
        if m and Path(hit).is_dir():
            found.append((m.group("dataset") if "dataset" in rx.groupindex else "", m.group("crop")))
    return sorted(set(found))


def _targets(cfg: ProcessConfig) -> list[tuple[str, str, tuple[str, ...]]]:
    out = []
    for entry in cfg.crops:
        if entry == "test":
            if cfg.manifest is None:
                raise ConfigError("crops = ['test'] needs `manifest` (the test-crop manifest CSV)")
            out += [(t.dataset, t.crop, t.classes) for t in test_targets(cfg.manifest)]
        else:
            out += [(ds, cr, ()) for ds, cr in find_groups(cfg.input, "*" if entry == "all" else crop_name(entry))]
    seen, unique = set(), []
    for ds, cr, classes in out:
        if (ds, cr) not in seen:
            seen.add((ds, cr))
            unique.append((ds, cr, classes))
    return sorted(unique, key=lambda t: (t[0], crop_sort_key(t[1])))


def process(cfg: ProcessConfig) -> list[dict]:
    """Run `cfg` over its crops (this shard's share); returns one summary per class written."""
    results = []
    for ds, crop, manifest_classes in select_shard(_targets(cfg), cfg.shard):
        in_crop = Path(cfg.input.format(dataset=ds, crop=crop))
        out_crop = Path(cfg.output.format(dataset=ds, crop=crop))
        if not in_crop.is_dir():
            print(f"process: skipping {ds}/{crop}: no predictions at {in_crop}")
            continue
        found = [p.name for p in sorted(in_crop.iterdir()) if p.is_dir() and _store.read_attrs(p).get("multiscales")]
        classes = [c for c in found if (not cfg.classes or c in cfg.classes)
                   and (not manifest_classes or c in manifest_classes)]
        _store.ensure_parent_groups(out_crop / "_")
        for cls in classes:
            if not cfg.overwrite and _store.is_complete(out_crop / cls):
                results.append({"class": cls, "skipped": True, "output": str(out_crop / cls)})
                continue
            results.append({"crop": f"{ds}/{crop}", **process_class(cfg, in_crop / cls, out_crop / cls, cls)})
        write_resolved(cfg, out_crop / "process.toml")
    return results
