"""Ensembles: several checkpoints (2D or 3D, any voxel size) averaged on one output grid.

``checkpoints = [a.pt, b.pt]`` averages the members' probabilities (weighted by `weights`,
default equal); ``class_models = {mito = "m.pt"}`` takes a class from one checkpoint alone.
The output grid is the first member's (``checkpoints[0]``, else ``checkpoint``)::

    for each target crop:
        member k --csc predict (float32, its own grid, TTA as configured)--> temporary group
        output grid <-- sum_k w_k * member_k resampled (linear) to the grid / sum_k w_k
        written z-slab by z-slab (memory: one slab per member), then the temporaries go

Each member runs through :func:`pycsc.predict.predict` itself, one target at a time, so
disk use is one crop's probabilities per member and whatever predict does (tiling,
orthoplanes, TTA) applies unchanged. A member whose grid is the output grid is read back
exactly, so an ensemble of one checkpoint with itself writes that checkpoint's output.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..config import PredictConfig, write_resolved
from ..data import _store
from ..data.crops import select_shard
from ..data.dataset import read_resampled
from ..errors import ConfigError
from ..io.manifest import read_manifest, resolve_test_manifest, write_manifest_csv
from .run import Job, _encode, decode_probabilities, plan_jobs


@dataclasses.dataclass(frozen=True)
class Member:
    checkpoint: Path
    spec: dict
    weight: float
    classes: tuple[str, ...]     # classes this member contributes


def members_of(cfg: PredictConfig) -> tuple[list[Member], dict[str, Member]]:
    """General members (averaged for every class they have) and the per-class members."""
    from ..train import checkpoint as ckpt

    paths = list(cfg.checkpoints) or [cfg.checkpoint]
    weights = list(cfg.weights) or [1.0] * len(paths)
    specs: dict[str, dict] = {}

    def spec_of(path) -> dict:
        key = str(path)
        if key not in specs:
            specs[key] = ckpt.load(path)["spec"]
        return specs[key]

    general = [Member(Path(p), spec_of(p), float(w), tuple(c for c in spec_of(p)["classes"]
                                                           if c not in cfg.class_models))
               for p, w in zip(paths, weights)]
    per_class = {}
    for cls, path in cfg.class_models.items():
        spec = spec_of(path)
        if cls not in spec["classes"]:
            raise ConfigError(f"`class_models.{cls}`: {path} does not predict {cls} (it has {spec['classes']})")
        per_class[cls] = Member(Path(path), spec, 1.0, (cls,))
    return general, per_class


def _union_spec(general: list[Member], per_class: dict[str, Member]) -> dict:
    classes = list(dict.fromkeys([c for m in general for c in m.classes] + list(per_class)))
    return {**general[0].spec, "classes": classes}


def _member_config(cfg: PredictConfig, member: Member, job: Job, work: Path, test_keys: set) -> PredictConfig:
    """A plain (single-checkpoint) config predicting only `job`'s target, as float32, into `work`."""
    t = job.target
    common = dict(checkpoint=member.checkpoint, checkpoints=(), weights=(), class_models={},
                  output=str(work / "{dataset}.zarr" / "{crop}"), dtype="float32", overwrite=True,
                  classes=tuple(c for c in member.classes if c in job.classes), shard=None, progress=False)
    if t.crop.startswith("region"):
        index = int(t.crop.removeprefix("region"))
        return dataclasses.replace(cfg, crops=(), regions=(cfg.regions[index],), **common)
    if (t.dataset, t.crop) in test_keys:
        crop_id = int(t.crop.removeprefix("crop"))
        rows = [r for r in read_manifest(resolve_test_manifest(cfg.manifest))
                if r.crop_id == crop_id and r.dataset == t.dataset]
        manifest = write_manifest_csv(rows, work / "manifest.csv")
        return dataclasses.replace(cfg, crops=("test",), manifest=manifest, regions=(), **common)
    return dataclasses.replace(cfg, crops=(t.crop,), regions=(), **common)


def _combine(cfg: PredictConfig, job: Job, voxel_size, sources: dict[str, list[tuple[Path, float]]]) -> None:
    """Weighted mean of the member groups on the job's grid, written as predict writes."""
    t = job.target
    group = Path(cfg.output.format(dataset=t.dataset, crop=t.crop))
    _store.ensure_parent_groups(group)
    chunks = tuple(min(64, s) for s in job.shape)
    vs = np.asarray(voxel_size, float)
    lower = np.asarray(job.translation) - vs / 2
    for cls, parts in sources.items():
        arr = _store.create_volume(group / cls, job.shape, cfg.dtype, tuple(vs), job.translation, chunks,
                                   attrs={"pycsc_kind": "probability"})
        levels = [(_store.read_levels(path), w) for path, w in parts]
        equal = len({w for _, w in parts}) == 1
        for z0 in range(0, job.shape[0], chunks[0]):
            shape = (min(chunks[0], job.shape[0] - z0), *job.shape[1:])
            slab_lower = lower + np.array([z0, 0, 0]) * vs
            total = np.zeros(shape, np.float32)
            for lv, w in levels:
                p = decode_probabilities(read_resampled(lv, slab_lower, shape, vs, order=1))
                total += p if equal else np.float32(w) * p
            total /= np.float32(len(levels) if equal else sum(w for _, w in parts))
            arr[z0:z0 + shape[0]] = _encode(total, cfg.dtype)
        _store.mark_complete(group / cls, {"ensemble": [str(p) for p, _ in parts], "dtype": cfg.dtype})
    write_resolved(cfg, group / "predict.toml")


def predict_ensemble(cfg: PredictConfig) -> list[dict]:
    """Run the ensemble of `cfg` (``checkpoints`` and/or ``class_models``); one summary per target."""
    from tqdm.auto import tqdm

    from ..data.crops import test_targets
    from .run import predict

    general, per_class = members_of(cfg)
    spec = _union_spec(general, per_class)
    jobs = select_shard(plan_jobs(cfg, spec), cfg.shard)
    test_keys = ({(t.dataset, t.crop) for t in test_targets(resolve_test_manifest(cfg.manifest))}
                 if "test" in cfg.crops else set())
    out_root = Path(cfg.output.split("{", 1)[0] or ".")
    results = []
    for job in tqdm(jobs, desc="predict (ensemble)", unit="crop", disable=not cfg.progress):
        t = job.target
        group = Path(cfg.output.format(dataset=t.dataset, crop=t.crop))
        if not cfg.overwrite and all(_store.is_complete(group / c) for c in job.classes):
            results.append({"crop": f"{t.dataset}/{t.crop}", "skipped": True, "output": str(group)})
            continue
        out_root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".pycsc-ensemble-", dir=out_root))
        try:
            sources: dict[str, list[tuple[Path, float]]] = {}
            runs = [(m, m.classes) for m in general] + [(m, m.classes) for m in per_class.values()]
            for k, (member, classes) in enumerate(runs):
                if not set(classes) & set(job.classes):
                    continue
                mcfg = _member_config(cfg, member, job, work / f"m{k}", test_keys)
                done = predict(mcfg)
                crop_dir = Path(done[0]["output"]) if done else None
                for cls in classes:
                    if crop_dir is not None and cls in job.classes and (crop_dir / cls).is_dir():
                        sources.setdefault(cls, []).append((crop_dir / cls, member.weight))
            ordered = {c: sources[c] for c in job.classes if c in sources}
            _combine(cfg, job, spec["voxel_size_nm"], ordered)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        results.append({"crop": f"{t.dataset}/{t.crop}", "skipped": False, "output": str(group),
                        "classes": list(ordered), "shape": list(job.shape)})
    return results


__all__ = ["Member", "members_of", "predict_ensemble"]
