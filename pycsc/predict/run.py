"""Sliding-window inference over test crops, local crops or free regions.

For each target box the output grid has the model's voxel size and starts at the box's
lower edge (so it covers the box; the last voxel may reach past it). Windows of the model's
patch shape overlap by `overlap` and are blended with Gaussian weights. The sweep runs
z-group by z-group of windows and writes each z-range as soon as no later window touches
it, so memory holds one window-thick slab, never the whole crop::

    z  0 ---------------------------------------------- m
       [ group 0 ]                          flushed after group 0: [0, s1)
             [ group 1 ]                    flushed after group 1: [s1, s2) ...
                   [ group 2 ]

A 2D model (patch ``(1, y, x)``) runs once per orthogonal direction (slicing along z, y
and x) unless `orthoplanes` is off; the passes are averaged through a temporary float32
memory map. Each class is written as an OME-NGFF group ``<output>/<class>`` (``s0``:
probabilities as uint8 = round(255 p), float16 or float32; zstd).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import PredictConfig, write_resolved
from ..data import _store
from ..data.crops import Target, crop_name, region_target, select_shard, test_targets
from ..data.dataset import intensity_scale, read_resampled
from ..data.datasplit import crop_classes, find_crops
from ..errors import ConfigError, DataError
from ..io.s3_arrays import configure as configure_s3
from ..data.s3_datasplit import em_group_for, is_s3, streamed_targets
from ..io.manifest import resolve_test_manifest
from .tiling import blend_weights, window_grid
from .tta import wrap_tta

RAW_NAME = "recon-1/em/fibsem-uint8"


@dataclass(frozen=True)
class Job:
    target: Target
    classes: tuple[str, ...]      # written, in model order
    channels: tuple[int, ...]     # their model output channels
    translation: tuple[float, float, float]
    shape: tuple[int, int, int]   # output grid at the model voxel size


def _local_targets(data_root: Path, pattern: str) -> list[Target]:
    out = []
    for ds, crop in find_crops(data_root, crops=(pattern,)):
        classes = crop_classes(crop)
        if not classes:
            continue
        s0 = _store.read_levels(crop / classes[0])[0]
        out.append(Target(ds, crop.name, (), s0.voxel_size, s0.translation, s0.shape))
    if not out:
        raise DataError(f"no local crop matches {pattern!r} under {data_root}")
    return out


def plan_jobs(cfg: PredictConfig, spec: dict) -> list[Job]:
    """Every (target, classes) pair this config asks for, sorted, before sharding."""
    model_classes = list(spec["classes"])
    unknown = [c for c in cfg.classes if c not in model_classes]
    if unknown:
        raise ConfigError(f"`classes` {unknown} are not outputs of the model (it has {model_classes})")
    wanted = set(cfg.classes or model_classes)
    vs = np.asarray(spec["voxel_size_nm"], float)
    targets: list[Target] = []
    for entry in cfg.crops:
        if entry == "test":
            targets += test_targets(resolve_test_manifest(cfg.manifest))
        else:
            pattern = "*" if entry == "all" else crop_name(entry)
            targets += (streamed_targets(cfg, pattern) if is_s3(str(cfg.data_root))
                        else _local_targets(Path(cfg.data_root), pattern))
    targets += [region_target(r, i, vs) for i, r in enumerate(cfg.regions)]
    jobs, seen = [], set()
    for t in targets:
        if (t.dataset, t.crop) in seen:
            continue
        seen.add((t.dataset, t.crop))
        classes = [c for c in model_classes if c in wanted and (not t.classes or c in t.classes)]
        if not classes:
            print(f"predict: skipping {t.dataset}/{t.crop}: none of its classes is predicted by the model")
            continue
        shape = np.maximum(1, np.ceil((t.upper - t.lower) / vs - 1e-6)).astype(int)
        jobs.append(Job(t, tuple(classes), tuple(model_classes.index(c) for c in classes),
                        tuple(t.lower + vs / 2), tuple(int(s) for s in shape)))
    return jobs


def _passes(spec: dict, orthoplanes: bool) -> list[tuple[int, int, int]]:
    patch = tuple(spec["patch_shape"])
    if spec["ndim"] == 3:
        return [patch]
    _, py, px = patch
    if not orthoplanes:
        return [(1, py, px)]
    return [(1, py, px), (py, 1, px), (py, px, 1)]


class _Model:
    """Runs the network on a batch of windows, returning per-class probabilities."""

    def __init__(self, model, device, channels, ndim: int):
        import torch

        self.torch, self.model, self.device = torch, model, device
        self.channels = list(channels)
        self.ndim = ndim
        self.amp = torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else None

    def __call__(self, windows: np.ndarray) -> np.ndarray:   # [B, *window] -> [B, C, *window]
        torch = self.torch
        x = torch.from_numpy(windows).to(self.device)[:, None]
        flat = None
        if self.ndim == 2:
            flat = 2 + [i for i, s in enumerate(windows.shape[1:]) if s == 1][0]
            x = x.squeeze(flat)
        with torch.inference_mode():
            if self.amp is not None:
                with torch.autocast("cuda", dtype=self.amp):
                    y = self.model(x)
            else:
                y = self.model(x)
            y = torch.sigmoid(y.float()[:, self.channels])
        if flat is not None:
            y = y.unsqueeze(flat)
        return y.cpu().numpy()


def sweep(run_model: _Model, raw_levels, scale: float, job: Job, voxel_size, window, overlap: float,
          blend: str, batch_size: int, sink) -> None:
    """Slide `window` over the job's grid; call ``sink(z0, z1, probabilities[C, z1-z0, Y, X])``."""
    m = np.asarray(job.shape)
    vs = np.asarray(voxel_size, float)
    corners = window_grid(m, window, overlap)
    weights = blend_weights(window, blend)
    wz = window[0]
    z_groups = sorted({c[0] for c in corners})
    ys = sorted({c[1] for c in corners})
    xs = sorted({c[2] for c in corners})
    y0, y1, x0, x1 = ys[0], ys[-1] + window[1], xs[0], xs[-1] + window[2]
    n_c = len(job.classes)
    acc = np.zeros((n_c, wz, y1 - y0, x1 - x0), np.float32)
    wsum = np.zeros((wz, y1 - y0, x1 - x0), np.float32)
    lower = np.asarray(job.translation) - vs / 2
    for g, zs in enumerate(z_groups):
        slab_lower = lower + np.array([zs, y0, x0]) * vs
        raw = read_resampled(raw_levels, slab_lower, (wz, y1 - y0, x1 - x0), vs, order=1).astype(np.float32)
        raw *= scale
        group = [c for c in corners if c[0] == zs]
        for b in range(0, len(group), batch_size):
            batch = group[b:b + batch_size]
            cut = [(slice(0, wz), slice(c[1] - y0, c[1] - y0 + window[1]), slice(c[2] - x0, c[2] - x0 + window[2]))
                   for c in batch]
            probs = run_model(np.stack([raw[s] for s in cut]))
            for p, s in zip(probs, cut):
                acc[(slice(None), *s)] += p * weights
                wsum[s] += weights
        end = z_groups[g + 1] if g + 1 < len(z_groups) else zs + wz
        rows = end - zs
        lo, hi = max(zs, 0), min(end, int(m[0]))
        if hi > lo:
            out = acc[:, lo - zs:hi - zs] / np.maximum(wsum[lo - zs:hi - zs], 1e-12)
            sink(lo, hi, out[:, :, -y0:-y0 + m[1], -x0:-x0 + m[2]])
        acc = np.concatenate([acc[:, rows:], np.zeros_like(acc[:, :rows])], axis=1)
        wsum = np.concatenate([wsum[rows:], np.zeros_like(wsum[:rows])], axis=0)


def _encode(p: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "uint8":
        return np.rint(np.clip(p, 0, 1) * 255).astype(np.uint8)
    return p.astype(dtype)


def decode_probabilities(data: np.ndarray) -> np.ndarray:
    """Stored predictions back to float32 probabilities (uint8 holds round(255 p))."""
    if data.dtype == np.uint8:
        return data.astype(np.float32) * np.float32(1 / 255)
    return data.astype(np.float32)


def predict_job(cfg: PredictConfig, spec: dict, run_model: _Model, job: Job) -> dict:
    t = job.target
    group = Path(cfg.output.format(dataset=t.dataset, crop=t.crop))
    if not cfg.overwrite and all(_store.is_complete(group / c) for c in job.classes):
        return {"crop": f"{t.dataset}/{t.crop}", "skipped": True, "output": str(group)}
    raw_group = em_group_for(cfg, t.dataset, RAW_NAME)   # local folder or s3:// URL
    raw_levels = _store.read_levels(raw_group)
    vs = tuple(spec["voxel_size_nm"])
    _store.ensure_parent_groups(group)
    chunks = tuple(min(64, s) for s in job.shape)
    arrays = [_store.create_volume(group / c, job.shape, cfg.dtype, vs, job.translation, chunks,
                                   attrs={"pycsc_kind": "probability"}) for c in job.classes]

    def write(z0, z1, probs):
        for arr, p in zip(arrays, probs):
            arr[z0:z1] = _encode(p, cfg.dtype)

    passes = _passes(spec, cfg.orthoplanes)
    scale = intensity_scale(raw_levels)
    if len(passes) == 1:
        sweep(run_model, raw_levels, scale, job, vs, passes[0], cfg.overlap, cfg.blend, cfg.batch_size, write)
    else:
        fd, tmp = tempfile.mkstemp(suffix=".npy", dir=group)
        os.close(fd)
        try:
            total = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32,
                                              shape=(len(job.classes), *job.shape))

            def add(z0, z1, probs):
                total[:, z0:z1] += probs

            for window in passes:
                sweep(run_model, raw_levels, scale, job, vs, window, cfg.overlap, cfg.blend, cfg.batch_size, add)
            step = max(1, chunks[0])
            for z in range(0, job.shape[0], step):
                write(z, min(z + step, job.shape[0]), total[:, z:z + step] / len(passes))
            del total
        finally:
            Path(tmp).unlink(missing_ok=True)
    for c in job.classes:
        _store.mark_complete(group / c, {"model_classes": list(spec["classes"]), "dtype": cfg.dtype})
    write_resolved(cfg, group / "predict.toml")
    return {"crop": f"{t.dataset}/{t.crop}", "skipped": False, "output": str(group),
            "classes": list(job.classes), "shape": list(job.shape)}


def predict(cfg: PredictConfig) -> list[dict]:
    """Run `cfg`; returns one summary per target (written or skipped as already complete)."""
    import torch

    from ..train import checkpoint as ckpt
    from ..train.models import build_model

    if cfg.checkpoints or cfg.class_models:
        from .ensemble import predict_ensemble

        return predict_ensemble(cfg)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    configure_s3(cfg.s3)
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("`device` = 'cuda' but torch sees no CUDA device; use 'auto' or 'cpu'")
    device = torch.device("cuda" if cfg.device != "cpu" and torch.cuda.is_available() else "cpu")
    state = ckpt.load(cfg.checkpoint, map_location=device)
    spec = state["spec"]
    model = build_model(spec)
    model.load_state_dict(state["model"])
    model.to(device).eval()
    jobs = select_shard(plan_jobs(cfg, spec), cfg.shard)
    from tqdm.auto import tqdm

    results = []
    for job in tqdm(jobs, desc="predict", unit="crop", disable=not cfg.progress):
        run_model = wrap_tta(_Model(model, device, job.channels, spec["ndim"]), cfg.tta, spec["voxel_size_nm"])
        results.append(predict_job(cfg, spec, run_model, job))
    return results
