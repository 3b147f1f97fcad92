"""Probabilities -> segmentations: threshold, connected components, size filter, watershed.

Per (crop, class) found under the `input` template, one function per path:

* :func:`threshold_semantic`: ``probability > threshold`` as uint8 0/1;
* :func:`label_in_memory`: the same mask labelled into objects (connected components with
  `connectivity`), objects smaller than `min_size` voxels removed, the rest numbered 1..n in
  raster order (as cc3d + dust + fastremap.renumber), ids in the smallest unsigned dtype
  for n (:mod:`pycsc.process.segment`), when the volume fits `max_memory_gb`;
* :func:`label_in_blocks`: the same labels, exactly, block by block for larger volumes
  (:mod:`pycsc.process.blockwise`);
* :func:`run_watershed` (`watershed`): touching objects split by a distance-transform
  watershed (scikit-image, whole volume in memory);
* :func:`run_hook`, with `hook = "file.py:function"` (or ``"package.module:function"``): the
  user function replaces all of that: ``function(probabilities, class_name=...,
  voxel_size=..., instance=...) -> array`` of the same shape (labels or mask), whole volume
  in memory.

The output group has the input's voxel size and translation (OME-NGFF, ``s0``). Outputs are
written in the background by a :class:`~pycsc.process.writer.VolumeWriter`, which marks each
class complete only once all its chunks are stored (a rerun skips complete classes).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..config import ProcessConfig, write_resolved
from ..data import _store
from ..data.crops import crop_name, crop_sort_key, select_shard, test_targets
from ..errors import ConfigError, DataError
from ..io.manifest import resolve_test_manifest
from ..predict.run import decode_probabilities
from .blockwise import blocks, label_blockwise, write_blockwise
from .segment import foreground, id_dtype, label_objects, release_buffers
from .writer import VolumeWriter
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


def memory_budget_bytes(cfg: ProcessConfig) -> int:
    """`max_memory_gb`, or half the memory available now (Linux MemAvailable; else 4 GiB)."""
    if cfg.max_memory_gb is not None:
        return int(cfg.max_memory_gb * 2**30)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 // 2
    except OSError:
        pass
    return 4 * 2**30


@dataclass(frozen=True)
class ClassJob:
    """One class volume to process: where it is, how it is stored, what to do with it."""

    cls: str
    level: _store.Level
    src: Any                          # tensorstore handle of the prediction
    out_group: Path
    threshold: float
    instance: bool
    min_size: int
    connectivity: int
    budget: int                       # bytes of working memory for one class
    block_shape: tuple[int, int, int]

    @property
    def chunks(self) -> tuple[int, ...]:
        return tuple(min(64, s) for s in self.level.shape)

    def read(self, region: tuple = ()) -> np.ndarray:
        return self.src[region].read().result()

    def fits(self, bytes_per_voxel: int) -> bool:
        return int(np.prod(self.level.shape)) * bytes_per_voxel <= self.budget

    def create(self, dtype) -> Any:
        lv = self.level
        return _store.create_volume(self.out_group, lv.shape, dtype, lv.voxel_size, lv.translation,
                                    self.chunks, attrs={"pycsc_kind": "instance" if self.instance else "semantic"})


def _stored_bytes(job: ClassJob) -> int:
    """Bytes per voxel of the prediction as read plus its float32 decoding where one is made."""
    itemsize = job.src.dtype.numpy_dtype.itemsize
    return itemsize + (4 if itemsize not in (1, 4) else 0)


def threshold_semantic(job: ClassJob, writer: VolumeWriter) -> None:
    """Semantic class: ``probability > threshold`` as uint8 0/1, whole or block by block."""
    out = job.create("uint8")
    regions = [()] if job.fits(_stored_bytes(job) + 1) else blocks(job.level.shape, job.block_shape)
    for region in regions:
        writer.write(out, region, foreground(job.read(region), job.threshold).as_mask())


def label_in_memory(job: ClassJob, writer: VolumeWriter) -> int:
    """Instance class that fits the memory budget: threshold, label, size filter in one go."""
    fg = foreground(job.read(), job.threshold)
    owned = fg.data.flags.writeable and fg.data.flags.c_contiguous   # a fresh read: ours to overwrite
    labels, n = label_objects(fg, job.connectivity, job.min_size, in_place=owned, reuse_ids=True)
    writer.write(job.create(labels.dtype), (), labels)
    return n


def label_in_blocks(job: ClassJob, writer: VolumeWriter) -> int:
    """Instance class beyond the memory budget: exact blockwise components (two passes)."""
    def read_fg(region):
        return foreground(job.read(region), job.threshold)

    from tqdm.auto import tqdm

    shape = job.level.shape
    n_blocks = int(np.prod([-(-s // b) for s, b in zip(shape, job.block_shape)]))
    with tqdm(total=2 * n_blocks, desc=f"process {job.cls} blockwise", unit="block", disable=None,
              leave=False) as bar:           # shown on a terminal only
        labels = label_blockwise(read_fg, shape, job.block_shape, job.connectivity, job.min_size,
                                 progress=bar.update)
        out = job.create(labels.table.dtype)
        write_blockwise(read_fg, labels, job.connectivity, lambda region, data: writer.write(out, region, data),
                        progress=bar.update)
    return labels.n


def _instance_bytes(job: ClassJob) -> int:
    """Peak bytes per voxel of :func:`label_in_memory`: input, mask, ids, output."""
    wide = int(np.prod(job.level.shape)) >= 2**32
    return _stored_bytes(job) + 1 + (16 if wide else 8)


def run_hook(cfg: ProcessConfig, job: ClassJob, writer: VolumeWriter) -> int | None:
    """The user's function replaces everything: whole volume in memory."""
    probs = decode_probabilities(job.read())
    result = np.asarray(load_hook(cfg.hook)(probs, class_name=job.cls, voxel_size=job.level.voxel_size,
                                            instance=job.instance))
    if result.shape != tuple(job.level.shape):
        raise DataError(f"hook {cfg.hook} returned shape {result.shape} for {job.level.path}; "
                        f"expected {tuple(job.level.shape)}")
    if result.dtype == np.bool_:
        result = result.astype(np.uint8)
    writer.write(job.create(result.dtype), (), np.ascontiguousarray(result))
    return int(len(np.unique(result)) - (result.min(initial=0) == 0)) if job.instance else None


def run_watershed(cfg: ProcessConfig, job: ClassJob, writer: VolumeWriter) -> int:
    """Instance class split by a distance watershed (scikit-image, whole volume in memory)."""
    probs = decode_probabilities(job.read())
    result = _filter_sizes(watershed_split(probs, probs > job.threshold, job.level.voxel_size,
                                           cfg.watershed_min_distance), job.min_size)
    n = int(result.max(initial=0))
    writer.write(job.create(id_dtype(n)), (), result.astype(id_dtype(n)))
    return n


def process_class(cfg: ProcessConfig, in_group: Path, out_group: Path, cls: str,
                  writer: VolumeWriter | None = None) -> dict:
    """Process one class volume; returns a summary.

    With a `writer` the output may still be being written when this returns (the writer marks
    it complete once stored); without one it is written and marked before returning.
    """
    decoder = choose_decoder(target_of(_store.read_attrs(in_group)), cfg.decoders.get(cls), f"`decoders.{cls}`")
    if decoder != "threshold" and cfg.hook is None:  # sdt / boundary / affinity predictions
        params = DecodeParams(float(cfg.thresholds.get(cls, cfg.threshold)), cfg.seed_threshold,
                              cfg.connectivity, cls in cfg.instance_classes)
        return decode_group(in_group, out_group, cls, decoder, params, int(cfg.min_sizes.get(cls, cfg.min_size)))
    if writer is None:
        try:
            with VolumeWriter(memory_budget_bytes(cfg) // 2) as own:
                return process_class(cfg, in_group, out_group, cls, own)
        finally:
            release_buffers()
    s0 = _store.read_levels(in_group)[0]
    job = ClassJob(cls, s0, _store.open_array(s0.path), out_group, float(cfg.thresholds.get(cls, cfg.threshold)),
                   cls in cfg.instance_classes, int(cfg.min_sizes.get(cls, cfg.min_size)), cfg.connectivity,
                   memory_budget_bytes(cfg) // 2, tuple(cfg.block_shape))
    n = None
    if cfg.hook is not None:
        n = run_hook(cfg, job, writer)
    elif job.instance and cfg.watershed:
        n = run_watershed(cfg, job, writer)
    elif job.instance:
        n = (label_in_memory if job.fits(_instance_bytes(job)) else label_in_blocks)(job, writer)
    else:
        threshold_semantic(job, writer)
    writer.mark_when_stored(out_group, {"threshold": job.threshold, "instance": job.instance})
    return {"class": cls, "instance": job.instance, "objects": n, "output": str(out_group)}


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
            out += [(t.dataset, t.crop, t.classes) for t in test_targets(resolve_test_manifest(cfg.manifest))]
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
    try:
        with VolumeWriter(memory_budget_bytes(cfg) // 2) as writer:
            for ds, crop, manifest_classes in select_shard(_targets(cfg), cfg.shard):
                _process_crop(cfg, ds, crop, manifest_classes, writer, results)
    finally:
        release_buffers()
    return results


def _process_crop(cfg: ProcessConfig, ds: str, crop: str, manifest_classes, writer: VolumeWriter,
                  results: list) -> None:
    in_crop = Path(cfg.input.format(dataset=ds, crop=crop))
    out_crop = Path(cfg.output.format(dataset=ds, crop=crop))
    if not in_crop.is_dir():
        print(f"process: skipping {ds}/{crop}: no predictions at {in_crop}")
        return
    found = [p.name for p in sorted(in_crop.iterdir()) if p.is_dir() and _store.read_attrs(p).get("multiscales")]
    classes = [c for c in found if (not cfg.classes or c in cfg.classes)
               and (not manifest_classes or c in manifest_classes)]
    _store.ensure_parent_groups(out_crop)
    for cls in classes:
        if not cfg.overwrite and _store.is_complete(out_crop / cls):
            results.append({"class": cls, "skipped": True, "output": str(out_crop / cls)})
            continue
        summary = process_class(cfg, in_crop / cls, out_crop / cls, cls, writer)
        results.append({"crop": f"{ds}/{crop}", **summary})
    write_resolved(cfg, out_crop / "process.toml")
