"""The training loop: masked losses, any torch optimiser and schedule, accumulation, clipping,
AMP, DDP, early stopping and the best k checkpoints.

Layout of ``output_dir``::

    train.toml               the resolved config
    class_counts.json        cached foreground fractions (for the class weights)
    checkpoints/latest.pt    written atomically every `checkpoint_every` steps and per epoch
    checkpoints/best.pt      the state with the best validation mean Dice (or train loss)
    checkpoints/best-<e>.pt  with keep_best = k > 1: the k best epochs (e = epoch number)
    logs/metrics.jsonl       loss, lr, validation Dice/IoU per class (+ TensorBoard if installed)

A run killed at any point restarts from ``latest.pt`` with the same data draws (samplers are
seeded per epoch and skip what was already consumed). Under ``torchrun`` each process trains
on its own sample stream (seed + rank) with DistributedDataParallel; rank 0 writes files.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from ..config import DatasplitConfig, TrainConfig, write_resolved
from ..data.dataset import GridPatches, PatchReader, RandomPatches
from ..data.datasplit import make_datasplit, read_datasplit
from ..io.s3_arrays import configure as configure_s3
from ..data.sampling import ClassBalancedSampler, UniformSampler, class_matrix, positive_weights
from ..errors import ConfigError, DataError
from . import checkpoint as ckpt
from .log import ScalarLog
from ..models import load_weights
from ..models.spec import build_model, channel_names, model_spec, upgrade_spec
from .losses import ChannelLoss, confusion_counts, dice_iou
from .official import OfficialValidator, epoch_score, is_validation_epoch
from .options import build_optimizer, build_scheduler
from .slices import write_sample_slices


class _EpochSampler:
    """The sampler of the current epoch, minus the draws consumed before a resume.

    The DataLoader (and its worker processes) live for the whole run; only this object's
    state changes between epochs, so workers are started once.
    """

    def __init__(self, sampler):
        self.sampler, self.skip = sampler, 0

    def start(self, epoch: int, skip: int) -> None:
        self.sampler.set_epoch(epoch)
        self.skip = skip

    def __len__(self) -> int:
        return len(self.sampler) - self.skip

    def __iter__(self):
        it = iter(self.sampler)
        for _ in range(self.skip):
            next(it)
        yield from it


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)


def _distributed() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, 0
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0"))


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def select_device(requested: str, local_rank: int = 0) -> torch.device:
    """`requested` ('auto', 'cpu', 'cuda', 'mps') as a torch device; auto tries cuda, mps, cpu."""
    if requested == "cuda" and not torch.cuda.is_available():
        raise ConfigError("`device` = 'cuda' but torch sees no CUDA device; use 'auto' or 'cpu'")
    if requested == "mps" and not _mps_available():
        raise ConfigError("`device` = 'mps' but torch sees no Apple MPS device; use 'auto' or 'cpu'")
    if requested in ("auto", "cuda") and torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    if requested in ("auto", "mps") and _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _rows(cfg: TrainConfig, rank: int, split_cfg: DatasplitConfig | None):
    if not Path(cfg.datasplit).is_file():
        if rank == 0:
            if split_cfg is None:
                split_cfg = DatasplitConfig(data_root=cfg.data_root, output=cfg.datasplit,
                                            classes=cfg.classes, seed=cfg.seed, s3=cfg.s3)
                print(f"train: {cfg.datasplit} not found; making it from {cfg.data_root}")
            else:
                split_cfg = dataclasses.replace(split_cfg, output=Path(cfg.datasplit))
                print(f"train: {cfg.datasplit} not found; making it with the [datasplit] table "
                      f"(data_root {split_cfg.data_root})")
            make_datasplit(split_cfg)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.barrier()
    rows = read_datasplit(cfg.datasplit)
    train_rows = [r for r in rows if r.usage == "train" and set(r.classes) & set(cfg.classes)]
    val_rows = [r for r in rows if r.usage == "validate" and set(r.classes) & set(cfg.classes)]
    if not train_rows:
        raise DataError(f"{cfg.datasplit} has no training crop with any of {list(cfg.classes)}")
    return train_rows, val_rows


def _loader(dataset, cfg: TrainConfig, sampler=None):
    kwargs = {}
    if cfg.num_workers > 0:
        # spawn, not fork: tensorstore's thread pools do not survive a fork
        kwargs = dict(num_workers=cfg.num_workers, multiprocessing_context="spawn",
                      worker_init_fn=_worker_init, persistent_workers=True, prefetch_factor=2)
    return torch.utils.data.DataLoader(dataset, batch_size=cfg.batch_size, sampler=sampler,
                                       shuffle=False, pin_memory=torch.cuda.is_available(), **kwargs)


def _autocast(cfg: TrainConfig, device: torch.device):
    if device.type != "cuda" or not cfg.mixed_precision:
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def crop_to(output: torch.Tensor, spatial: tuple[int, ...]) -> torch.Tensor:
    """The centre of `output` ``[B, C, *s]`` with spatial shape `spatial` (a model whose output
    covers more than the target, e.g. an up-sampling net with more input context)."""
    have = tuple(output.shape[2:])
    if have == tuple(spatial):
        return output
    if len(have) != len(spatial) or any(h < w for h, w in zip(have, spatial)):
        raise DataError(f"the model outputs spatial shape {have} but the targets are {tuple(spatial)}; "
                        "check [train.model], `input_shape` and `target_shape`")
    cut = tuple(slice((h - w) // 2, (h - w) // 2 + w) for h, w in zip(have, spatial))
    return output[(slice(None), slice(None), *cut)]


def _batch(batch: dict, device) -> tuple:
    mask = batch.get("mask")
    return (batch["raw"].to(device, non_blocking=True), batch["target"].to(device, non_blocking=True),
            None if mask is None else mask.to(device, non_blocking=True))


@torch.no_grad()
def validate(model, loader, device, loss_fn, amp_dtype, tanh=None, seconds: float = 0.0) -> dict:
    """Mean masked loss and per-channel Dice / IoU (counts pooled over the validation patches);
    stops after `seconds` (> 0) once at least one batch is done."""
    model.eval()
    losses, counts = [], None
    start = time.perf_counter()
    for batch in loader:
        raw, target, mask = _batch(batch, device)
        with torch.autocast(device.type, dtype=amp_dtype) if amp_dtype else nullcontext():
            logits = crop_to(model(raw), target.shape[2:]).float()
        losses.append(float(loss_fn(logits, target, mask)))
        c = confusion_counts(logits, target, mask, tanh)
        counts = c if counts is None else counts + c
        if seconds and time.perf_counter() - start > seconds:
            break
    model.train()
    dice, iou = dice_iou(counts)
    return {"loss": float(np.mean(losses)), "dice": dice, "iou": iou, "batches": len(losses)}


def _load_start_weights(cfg: TrainConfig, model, spec: dict, main: bool) -> None:
    """`init_from` (a pycsc checkpoint of the same model) or `weights` (any state_dict file)."""
    names = channel_names(spec)
    if cfg.init_from is not None:
        state = ckpt.load(cfg.init_from)
        theirs = upgrade_spec(state["spec"])["model"]
        if theirs != spec["model"]:
            raise ConfigError(f"`init_from` {cfg.init_from} holds model {theirs}, not {spec['model']}; "
                              "use the same [train.model] table, or `weights` with weights_strict = false")
        report = load_weights(model, cfg.init_from, strict=cfg.weights_strict,
                              channel_map=cfg.weights_channel_map or None, channel_names=names)
    elif cfg.weights is not None:
        report = load_weights(model, cfg.weights, strict=cfg.weights_strict,
                              channel_map=cfg.weights_channel_map or None, channel_names=names)
    else:
        return
    if main:
        print(f"train: loaded {report['loaded']} tensors from {cfg.init_from or cfg.weights}"
              + (f", {len(report['skipped'])} left initialised" if report["skipped"] else "")
              + (f", output channels {report['mapped']}" if report["mapped"] else ""))


def _keep_best(ckpt_dir: Path, kept: list, k: int, score: float, epoch: int, state: dict) -> list:
    """Save `state` as best-<epoch>.pt when it is among the `k` best; drop the one it displaces."""
    if k <= 1:
        return kept
    kept = sorted(kept + [[score, f"best-{epoch + 1:04d}.pt"]], key=lambda e: -e[0])
    for _, name in kept[k:]:
        (ckpt_dir / name).unlink(missing_ok=True)
    kept = kept[:k]
    if any(name == f"best-{epoch + 1:04d}.pt" for _, name in kept):
        ckpt.save({**state, "best_k": kept}, ckpt_dir / f"best-{epoch + 1:04d}.pt")
    return kept


def train(cfg: TrainConfig, datasplit: DatasplitConfig | None = None) -> dict:
    """Train as `cfg` says; returns a summary (steps, best score, checkpoint paths).

    `datasplit` makes the split CSV when ``cfg.datasplit`` does not exist (the ``[datasplit]``
    table of the same TOML file); without it, every crop of ``cfg.data_root`` with a class.
    """
    rank, world, local_rank = _distributed()
    main = rank == 0
    device = select_device(cfg.device, local_rank)
    out = Path(cfg.output_dir)
    ckpt_dir = out / "checkpoints"
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    configure_s3(cfg.s3)   # s3:// rows of the datasplit are streamed with these settings
    torch.manual_seed(cfg.seed + rank)
    np.random.seed((cfg.seed + rank) % 2**32)
    if main:
        write_resolved(cfg, out / "train.toml")
    train_rows, val_rows = _rows(cfg, rank, datasplit)
    spec = model_spec(cfg)

    reader = PatchReader.from_config(train_rows, cfg)
    per_epoch = cfg.iterations_per_epoch * cfg.batch_size * cfg.gradient_accumulation
    if cfg.weighted_sampler:
        sampler = ClassBalancedSampler(class_matrix(train_rows, cfg.classes), per_epoch, cfg.seed + rank)
    else:
        sampler = UniformSampler([reader.crop(i).volume_nm3 for i in range(len(train_rows))],
                                 per_epoch, cfg.seed + rank)
    epoch_sampler = _EpochSampler(sampler)
    train_loader = _loader(RandomPatches(reader, cfg.ndim, cfg.augment), cfg, epoch_sampler)
    pos_weight = None
    if cfg.weight_loss:
        per_class = positive_weights(train_rows, cfg.classes, cfg.target_grid()[1], cache=out / "class_counts.json")
        index = {c: i for i, c in enumerate(cfg.classes)}
        # the class's foreground weight fits its foreground-like channel (binary, sdt, "fg"),
        # not boundary or affinity channels, whose balance differs
        pos_weight = torch.tensor([float(per_class[index[c["cls"]]]) if c["name"] in ("", "fg") else 1.0
                                   for c in spec["channels"]], dtype=torch.float32, device=device)
    loss_fn = ChannelLoss(dict(cfg.loss or {}), spec["channels"], pos_weight)
    tanh = torch.tensor([c["activation"] == "tanh" for c in spec["channels"]])
    val_loader = None
    if val_rows and cfg.validation_batches:
        val_set = GridPatches(PatchReader.from_config(val_rows, cfg), cfg.ndim,
                              limit=cfg.validation_batches * cfg.batch_size)
        val_loader = _loader(val_set, cfg)

    official = None
    if main and cfg.validation_metric == "official":
        official = OfficialValidator(cfg, val_rows, out / "validation")

    model = build_model(spec)
    _load_start_weights(cfg, model, spec, main)
    model = model.to(device)
    optimizer = build_optimizer(cfg, model.parameters())
    total_steps = cfg.epochs * cfg.iterations_per_epoch
    scheduler = build_scheduler(cfg, optimizer, total_steps)
    amp_dtype = _autocast(cfg, device)
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    step, best, best_epoch, validation_seconds, stale, kept = 0, None, None, 0.0, 0, []
    if cfg.resume and (ckpt_dir / ckpt.LATEST).is_file():
        state = ckpt.load(ckpt_dir / ckpt.LATEST, map_location=device)
        if upgrade_spec(state["spec"]) != spec:
            raise ConfigError(f"{ckpt_dir / ckpt.LATEST} holds a different model ({state['spec']}); "
                              "use another output_dir or --no-resume to start over")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state.get("scheduler"):
            scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        step, best, best_epoch = int(state["step"]), state["best"], state.get("best_epoch")
        stale, kept = int(state.get("stale", 0)), list(state.get("best_k", []))
        ckpt.set_rng_state(state["rng"])
        if main:
            print(f"train: resuming from {ckpt_dir / ckpt.LATEST} at step {step}")
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[local_rank] if device.type == "cuda" else None)

    def snapshot() -> dict:
        return {"spec": spec, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict() if scheduler is not None else None,
                "scaler": scaler.state_dict(), "step": step, "best": best, "best_epoch": best_epoch,
                "rng": ckpt.rng_state(), "stale": stale, "best_k": kept, "config": cfg.__class__.__name__}

    log = ScalarLog(out / "logs", enabled=main)
    t_start = time.perf_counter()
    from tqdm.auto import tqdm

    bar = tqdm(total=total_steps, initial=step, disable=not (cfg.progress and main), unit="step",
               desc="train", dynamic_ncols=True)
    last_val, stopped = None, False
    labels = channel_names(spec)
    while step < total_steps and not stopped:
        epoch, done = divmod(step, cfg.iterations_per_epoch)
        epoch_sampler.start(epoch, done * cfg.batch_size * cfg.gradient_accumulation)
        batches = iter(train_loader)
        epoch_losses = []
        net.train()
        for _ in range(done, cfg.iterations_per_epoch):
            optimizer.zero_grad(set_to_none=True)
            step_loss = 0.0
            for a in range(cfg.gradient_accumulation):
                raw, target, mask = _batch(next(batches), device)
                sync = nullcontext() if world == 1 or a == cfg.gradient_accumulation - 1 else net.no_sync()
                with sync:
                    with torch.autocast(device.type, dtype=amp_dtype) if amp_dtype else nullcontext():
                        logits = crop_to(net(raw), target.shape[2:])
                    loss = loss_fn(logits, target, mask) / cfg.gradient_accumulation
                    scaler.scale(loss).backward()
                step_loss += float(loss.detach())
            if cfg.max_grad_norm is not None:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
            scaler.step(optimizer)
            scaler.update()
            if scheduler is not None:
                scheduler.step()
            step += 1
            epoch_losses.append(step_loss)
            if not math.isfinite(step_loss):
                raise DataError(f"train: the loss became {step_loss} at step {step}; lower learning_rate "
                                "or set max_grad_norm")
            log.write(step, epoch=epoch, loss=step_loss, lr=optimizer.param_groups[0]["lr"])
            bar.update(1)
            bar.set_postfix(loss=f"{step_loss:.4f}", refresh=False)
            if main and cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
                ckpt.save(snapshot(), ckpt_dir / ckpt.LATEST)
        if main:
            train_loss = float(np.mean(epoch_losses))
            validating, scores = is_validation_epoch(cfg, epoch), None
            if val_loader is not None and validating:
                last_val = validate(model, val_loader, device, loss_fn, amp_dtype, tanh, cfg.validation_seconds)
                write_sample_slices(log.tensorboard, step, model, val_loader, device, labels)
                log.write(step, epoch=epoch, val_loss=last_val["loss"],
                          **{f"val_dice/{c}": d for c, d in zip(labels, last_val["dice"])},
                          **{f"val_iou/{c}": v for c, v in zip(labels, last_val["iou"])})
            if official is not None and validating:
                scores = official(ckpt.save({"spec": spec, "model": model.state_dict()},
                                            out / "validation" / "model.pt"))
                validation_seconds += scores.seconds
                log.write(step, epoch=epoch, **scores.scalars())
            score = epoch_score(cfg, train_loss, last_val if validating else None, scores)
            improved = validating and (best is None or score > best)
            if improved:
                best, best_epoch, stale = score, epoch + 1, 0
            elif validating:
                stale += 1
            if validating:
                kept = _keep_best(ckpt_dir, kept, cfg.keep_best, score, epoch,
                                  {"spec": spec, "model": model.state_dict(), "step": step, "score": score})
            state = snapshot()
            if improved:  # best first: a kill in between then only repeats this epoch
                ckpt.save(state, ckpt_dir / ckpt.BEST)
            ckpt.save(state, ckpt_dir / ckpt.LATEST)
            bar.write(f"epoch {epoch + 1}/{cfg.epochs}: train loss {train_loss:.4f}"
                      + (f", val loss {last_val['loss']:.4f}, val Dice "
                         + " ".join(f"{c}={d:.3f}" for c, d in zip(labels, last_val["dice"]))
                         if last_val and validating else "")
                      + (f", official score {scores.overall:.4f} ({scores.seconds:.0f} s)" if scores else "")
                      + (" (best)" if improved else ""))
            if cfg.early_stopping_patience and stale >= cfg.early_stopping_patience:
                bar.write(f"train: no improvement in {stale} epochs (early_stopping_patience); stopping")
                stopped = True
        if world > 1:
            flag = torch.tensor([int(stopped)], device=device)
            torch.distributed.broadcast(flag, 0)
            stopped = bool(flag.item())
            torch.distributed.barrier()
    bar.close()
    log.close()
    if world > 1:
        torch.distributed.destroy_process_group()
    return {"steps": step, "best_score": best, "best_epoch": best_epoch, "metric": cfg.validation_metric,
            "validation_seconds": validation_seconds, "seconds": time.perf_counter() - t_start,
            "latest": str(ckpt_dir / ckpt.LATEST), "best": str(ckpt_dir / ckpt.BEST),
            "validation": last_val, "stopped_early": stopped, "best_k": [name for _, name in kept]}
