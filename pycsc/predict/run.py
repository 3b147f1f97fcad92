"""Sliding-window inference over test crops, local crops or free regions.

The model is rebuilt from the checkpoint alone (its spec names the registry entry, the
channel layout and both grids). For each target box the output grid has the model's output
(target) voxel size and starts at the box's lower edge (so it covers the box; the last voxel
may reach past it). Each output window reads the EM window of the model's input shape at the
input voxel size, centred on it (more context, or a coarser grid as COSEM setup_04)::

    input  window  [.........................]  input_shape x input_voxel_size_nm
    output window        [...........]           output_shape x voxel_size_nm (centred)

When both grids agree the EM is read once per slab of windows, else once per window. Windows of the model's
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
values in [0, 1] as uint8 = round(255 p), float16 or float32; zstd): sigmoid channels as
they are, tanh channels (signed distances) as ``(t + 1) / 2``. A class with several channels
(boundary, affinity) is ``[C, z, y, x]``; its attributes carry ``pycsc.target`` (kind,
channel names, parameters) so that ``csc process`` picks the decoder.
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
from ..models.spec import upgrade_spec
from .tiling import blend_weights, window_grid
from .tta import wrap_tta

RAW_NAME = "recon-1/em/fibsem-uint8"


@dataclass(frozen=True)
class Job:
    target: Target
    classes: tuple[str, ...]      # written, in model order
    channels: tuple[int, ...]     # their model output channels, class by class
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
    spec = upgrade_spec(spec)
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
        channels = tuple(i for c in classes for i, ch in enumerate(spec["channels"]) if ch["cls"] == c)
        jobs.append(Job(t, tuple(classes), channels,
                        tuple(t.lower + vs / 2), tuple(int(s) for s in shape)))
    return jobs


@dataclass(frozen=True)
class Window:
    """One sweep direction: output window (output grid) and the input window read for it."""

    output: tuple[int, int, int]
    input: tuple[int, int, int]
    output_vs: tuple[float, float, float]
    input_vs: tuple[float, float, float]

    @property
    def same_grid(self) -> bool:
        return self.output == self.input and np.allclose(self.output_vs, self.input_vs, rtol=1e-6)

    def input_offset_nm(self) -> np.ndarray:
        """Input window lower edge minus output window lower edge (centred windows)."""
        return (np.multiply(self.output, self.output_vs) - np.multiply(self.input, self.input_vs)) / 2


def _passes(spec: dict, orthoplanes: bool) -> list[Window]:
    out, inp = tuple(spec["output_shape"]), tuple(spec["input_shape"])
    ovs, ivs = tuple(spec["voxel_size_nm"]), tuple(spec["input_voxel_size_nm"])
    if spec["ndim"] == 3:
        return [Window(out, inp, ovs, ivs)]
    planes = [(0, 1, 2)] if not orthoplanes else [(0, 1, 2), (1, 0, 2), (1, 2, 0)]
    # a 2D window (1, y, x) laid along each slicing direction: the flat axis moves
    return [Window(tuple(out[i] for i in order), tuple(inp[i] for i in order), ovs, ivs) for order in planes]


class _Model:
    """Runs the network on a batch of windows, returning activated channels in [0, 1]."""

    def __init__(self, model, device, channels, ndim: int, tanh=()):
        import torch

        self.torch, self.model, self.device = torch, model, device
        self.channels = list(channels)
        self.tanh = torch.tensor([bool(t) for t in tanh] or [False] * len(self.channels), device=device)
        self.ndim = ndim
        self.amp = torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else None

    def __call__(self, windows: np.ndarray, output_window=None) -> np.ndarray:
        """``[B, *input window]`` -> ``[B, C, *output window]`` (centre of the model output)."""
        from ..train.loop import crop_to

        torch = self.torch
        output_window = tuple(output_window or windows.shape[1:])
        x = torch.from_numpy(np.ascontiguousarray(windows)).to(self.device)[:, None]
        flat = None
        if self.ndim == 2:
            flat = 2 + [i for i, s in enumerate(windows.shape[1:]) if s == 1][0]
            x = x.squeeze(flat)
        spatial = tuple(s for i, s in enumerate(output_window) if flat is None or i != flat - 2)
        with torch.inference_mode():
            if self.amp is not None:
                with torch.autocast("cuda", dtype=self.amp):
                    y = self.model(x)
            else:
                y = self.model(x)
            y = crop_to(y.float()[:, self.channels], spatial)
            tanh = self.tanh.reshape(1, -1, *([1] * (y.ndim - 2)))
            y = torch.where(tanh, (torch.tanh(y) + 1) / 2, torch.sigmoid(y))
        if flat is not None:
            y = y.unsqueeze(flat)
        return y.cpu().numpy()


def _sweep_windows(run_model: _Model, raw_levels, scale: float, job: Job, win: Window, corners, blend: str,
                   batch_size: int, sink) -> None:
    """The general sweep: each output window reads its own centred input window (another grid
    or shape); accumulation rolls over z as in :func:`sweep`."""
    m = np.asarray(job.shape)
    ovs = np.asarray(win.output_vs, float)
    weights = blend_weights(win.output, blend)
    lower = np.asarray(job.translation) - ovs / 2
    offset = win.input_offset_nm()
    wz = win.output[0]
    acc = np.zeros((len(job.channels), wz, int(m[1]), int(m[2])), np.float32)
    wsum = np.zeros((wz, int(m[1]), int(m[2])), np.float32)
    z_groups = sorted({c[0] for c in corners})
    for g, zs in enumerate(z_groups):
        group = [c for c in corners if c[0] == zs]
        for b in range(0, len(group), batch_size):
            batch = group[b:b + batch_size]
            raws = [read_resampled(raw_levels, lower + np.asarray(c) * ovs + offset, win.input, win.input_vs,
                                   order=1).astype(np.float32) * scale for c in batch]
            values = run_model(np.stack(raws), win.output)
            for v, c in zip(values, batch):
                dst, src = [slice(0, wz)], [slice(0, wz)]
                for a in (1, 2):   # a window longer than the volume hangs over both ends
                    lo, hi = max(c[a], 0), min(c[a] + win.output[a], int(m[a]))
                    dst.append(slice(lo, hi))
                    src.append(slice(lo - c[a], hi - c[a]))
                acc[(slice(None), *dst)] += v[(slice(None), *src)] * weights[tuple(src)]
                wsum[tuple(dst)] += weights[tuple(src)]
        end = z_groups[g + 1] if g + 1 < len(z_groups) else zs + wz
        rows = end - zs
        lo, hi = max(zs, 0), min(end, int(m[0]))
        if hi > lo:
            sink(lo, hi, acc[:, lo - zs:hi - zs] / np.maximum(wsum[lo - zs:hi - zs], 1e-12))
        acc = np.concatenate([acc[:, rows:], np.zeros_like(acc[:, :rows])], axis=1)
        wsum = np.concatenate([wsum[rows:], np.zeros_like(wsum[:rows])], axis=0)


def sweep(run_model: _Model, raw_levels, scale: float, job: Job, win: Window, overlap: float,
          blend: str, batch_size: int, sink) -> None:
    """Slide the window over the job's grid; call ``sink(z0, z1, values[C, z1-z0, Y, X])``."""
    m = np.asarray(job.shape)
    window = win.output
    corners = window_grid(m, window, overlap)
    if not win.same_grid:
        return _sweep_windows(run_model, raw_levels, scale, job, win, corners, blend, batch_size, sink)
    vs = np.asarray(win.output_vs, float)
    weights = blend_weights(window, blend)
    wz = window[0]
    z_groups = sorted({c[0] for c in corners})
    ys = sorted({c[1] for c in corners})
    xs = sorted({c[2] for c in corners})
    y0, y1, x0, x1 = ys[0], ys[-1] + window[1], xs[0], xs[-1] + window[2]
    n_c = len(job.channels)
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
            probs = run_model(np.stack([raw[s] for s in cut]), window)
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


def _class_channels(spec: dict, job: Job) -> list[list[int]]:
    """For each class of the job, the positions of its channels within ``job.channels``."""
    out, k = [], 0
    for c in job.classes:
        n = sum(1 for i in job.channels if spec["channels"][i]["cls"] == c)
        out.append(list(range(k, k + n)))
        k += n
    return out


def _target_attrs(spec: dict, cls: str) -> dict:
    mine = [c for c in spec["channels"] if c["cls"] == cls]
    return {"kind": mine[0]["kind"], "channels": [c["name"] for c in mine], **dict(mine[0].get("params", {}))}


def predict_job(cfg: PredictConfig, spec: dict, run_model: _Model, job: Job) -> dict:
    spec = upgrade_spec(spec)
    t = job.target
    group = Path(cfg.output.format(dataset=t.dataset, crop=t.crop))
    if not cfg.overwrite and all(_store.is_complete(group / c) for c in job.classes):
        return {"crop": f"{t.dataset}/{t.crop}", "skipped": True, "output": str(group)}
    raw_group = em_group_for(cfg, t.dataset, RAW_NAME)   # local folder or s3:// URL
    raw_levels = _store.read_levels(raw_group)
    vs = tuple(spec["voxel_size_nm"])
    _store.ensure_parent_groups(group)
    chunks = tuple(min(64, s) for s in job.shape)
    per_class = _class_channels(spec, job)
    arrays = []
    for c, idx in zip(job.classes, per_class):
        lead = (len(idx),) if len(idx) > 1 else ()
        arrays.append(_store.create_volume(group / c, lead + tuple(job.shape), cfg.dtype, vs, job.translation,
                                           lead + chunks, attrs={"pycsc_kind": "probability",
                                                                 "pycsc": {"target": _target_attrs(spec, c)}}))

    def write(z0, z1, values):
        for arr, idx in zip(arrays, per_class):
            if len(idx) > 1:
                arr[:, z0:z1] = _encode(values[idx], cfg.dtype)
            else:
                arr[z0:z1] = _encode(values[idx[0]], cfg.dtype)

    passes = _passes(spec, cfg.orthoplanes)
    scale = intensity_scale(raw_levels)
    if len(passes) == 1:
        sweep(run_model, raw_levels, scale, job, passes[0], cfg.overlap, cfg.blend, cfg.batch_size, write)
    else:
        fd, tmp = tempfile.mkstemp(suffix=".npy", dir=group)
        os.close(fd)
        try:
            total = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32,
                                              shape=(len(job.channels), *job.shape))

            def add(z0, z1, values):
                total[:, z0:z1] += values

            for window in passes:
                sweep(run_model, raw_levels, scale, job, window, cfg.overlap, cfg.blend, cfg.batch_size, add)
            step = max(1, chunks[0])
            for z in range(0, job.shape[0], step):
                write(z, min(z + step, job.shape[0]), total[:, z:z + step] / len(passes))
            del total
        finally:
            Path(tmp).unlink(missing_ok=True)
    for c in job.classes:
        _store.mark_complete(group / c, {"model_classes": list(spec["classes"]), "dtype": cfg.dtype,
                                         "target": _target_attrs(spec, c)})
    write_resolved(cfg, group / "predict.toml")
    return {"crop": f"{t.dataset}/{t.crop}", "skipped": False, "output": str(group),
            "classes": list(job.classes), "shape": list(job.shape)}


def load_model(checkpoint, device) -> tuple:
    """``(model in eval mode on device, format-2 spec)`` rebuilt from a checkpoint alone."""
    from ..models.spec import build_model
    from ..train import checkpoint as ckpt

    state = ckpt.load(checkpoint, map_location=device)
    spec = upgrade_spec(state["spec"])
    model = build_model(spec)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        raise DataError(f"checkpoint {checkpoint} does not fit the model its spec names ({spec['model']}): "
                        f"{str(exc).splitlines()[0]}; was it edited or written by another tool?") from None
    return model.to(device).eval(), spec


def predict(cfg: PredictConfig) -> list[dict]:
    """Run `cfg`; returns one summary per target (written or skipped as already complete)."""
    import torch

    from ..train.loop import select_device

    if cfg.checkpoints or cfg.class_models:
        from .ensemble import predict_ensemble

        return predict_ensemble(cfg)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    configure_s3(cfg.s3)
    device = select_device(cfg.device)
    model, spec = load_model(cfg.checkpoint, device)
    jobs = select_shard(plan_jobs(cfg, spec), cfg.shard)
    from tqdm.auto import tqdm

    results = []
    for job in tqdm(jobs, desc="predict", unit="crop", disable=not cfg.progress):
        tanh = [spec["channels"][i]["activation"] == "tanh" for i in job.channels]
        run_model = wrap_tta(_Model(model, device, job.channels, spec["ndim"], tanh), cfg.tta, spec["voxel_size_nm"])
        results.append(predict_job(cfg, spec, run_model, job))
    return results
