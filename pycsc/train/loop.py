"""The training loop: masked BCE, RAdam, optional schedule, accumulation, clipping, AMP, DDP.

Layout of ``output_dir``::

    train.toml               the resolved config
    class_counts.json        cached foreground fractions (for the class weights)
    checkpoints/latest.pt    written atomically every `checkpoint_every` steps and per epoch
    checkpoints/best.pt      the state with the best validation mean Dice (or train loss)
    logs/metrics.jsonl       loss, lr, validation Dice/IoU per class (+ TensorBoard if installed)

A run killed at any point restarts from ``latest.pt`` with the same data draws (samplers are
seeded per epoch and skip what was already consumed). Under ``torchrun`` each process trains
on its own sample stream (seed + rank) with DistributedDataParallel; rank 0 writes files.
"""

from __future__ import annotations

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
from .losses import confusion_counts, dice_iou, masked_bce
from .models import build_model, model_spec
from .official import OfficialValidator, epoch_score, is_validation_epoch
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


def _device(cfg: TrainConfig, local_rank: int) -> torch.device:
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("`device` = 'cuda' but torch sees no CUDA device; use 'auto' or 'cpu'")
    if cfg.device != "cpu" and torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def _rows(cfg: TrainConfig, rank: int):
    if not Path(cfg.datasplit).is_file():
        if rank == 0:
            print(f"train: {cfg.datasplit} not found; making it from {cfg.data_root}")
            make_datasplit(DatasplitConfig(data_root=cfg.data_root, output=cfg.datasplit,
                                           classes=cfg.classes, seed=cfg.seed, s3=cfg.s3))
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.barrier()
    rows = read_datasplit(cfg.datasplit)
    train_rows = [r for r in rows if r.usage == "train" and set(r.classes) & set(cfg.classes)]
    val_rows = [r for r in rows if r.usage == "validate" and set(r.classes) & set(cfg.classes)]
    if not train_rows:
        raise DataError(f"{cfg.datasplit} has no training crop with any of {list(cfg.classes)}")
    return train_rows, val_rows


def _scheduler(cfg: TrainConfig, optimizer, total_steps: int):
    if cfg.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    if cfg.scheduler == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.learning_rate, total_steps=total_steps)
    return None


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


@torch.no_grad()
def validate(model, loader, device, pos_weight, amp_dtype) -> dict:
    """Mean masked loss and per-class Dice / IoU (counts pooled over all validation patches)."""
    model.eval()
    losses, counts = [], None
    for batch in loader:
        raw, target = batch["raw"].to(device), batch["target"].to(device)
        with torch.autocast(device.type, dtype=amp_dtype) if amp_dtype else nullcontext():
            logits = model(raw)
        losses.append(float(masked_bce(logits.float(), target, pos_weight)))
        c = confusion_counts(logits.float(), target)
        counts = c if counts is None else counts + c
    model.train()
    dice, iou = dice_iou(counts)
    return {"loss": float(np.mean(losses)), "dice": dice, "iou": iou}


def train(cfg: TrainConfig) -> dict:
    """Train as `cfg` says; returns a summary (steps, best score, checkpoint paths)."""
    rank, world, local_rank = _distributed()
    main = rank == 0
    device = _device(cfg, local_rank)
    out = Path(cfg.output_dir)
    ckpt_dir = out / "checkpoints"
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    configure_s3(cfg.s3)   # s3:// rows of the datasplit are streamed with these settings
    torch.manual_seed(cfg.seed + rank)
    np.random.seed((cfg.seed + rank) % 2**32)
    if main:
        write_resolved(cfg, out / "train.toml")
    train_rows, val_rows = _rows(cfg, rank)

    reader = PatchReader(train_rows, cfg.classes, cfg.patch_shape, cfg.voxel_size_nm,
                         true_negatives=cfg.true_negatives)
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
        pos_weight = torch.from_numpy(positive_weights(train_rows, cfg.classes, cfg.voxel_size_nm,
                                                       cache=out / "class_counts.json")).to(device)
    val_loader = None
    if val_rows and cfg.validation_batches:
        val_set = GridPatches(PatchReader(val_rows, cfg.classes, cfg.patch_shape, cfg.voxel_size_nm,
                                          true_negatives=cfg.true_negatives),
                              cfg.ndim, limit=cfg.validation_batches * cfg.batch_size)
        val_loader = _loader(val_set, cfg)

    official = None
    if main and cfg.validation_metric == "official":
        official = OfficialValidator(cfg, val_rows, out / "validation")

    spec = model_spec(cfg)
    model = build_model(spec).to(device)
    optimizer = torch.optim.RAdam(model.parameters(), lr=cfg.learning_rate,
                                  weight_decay=cfg.weight_decay, decoupled_weight_decay=True)
    total_steps = cfg.epochs * cfg.iterations_per_epoch
    scheduler = _scheduler(cfg, optimizer, total_steps)
    amp_dtype = _autocast(cfg, device)
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    step, best, best_epoch, validation_seconds = 0, None, None, 0.0
    if cfg.resume and (ckpt_dir / ckpt.LATEST).is_file():
        state = ckpt.load(ckpt_dir / ckpt.LATEST, map_location=device)
        if state["spec"] != spec:
            raise ConfigError(f"{ckpt_dir / ckpt.LATEST} holds a different model ({state['spec']}); "
                              "use another output_dir or --no-resume to start over")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state.get("scheduler"):
            scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        step, best, best_epoch = int(state["step"]), state["best"], state.get("best_epoch")
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
                "rng": ckpt.rng_state(),
                "config": cfg.__class__.__name__}

    log = ScalarLog(out / "logs", enabled=main)
    t_start = time.perf_counter()
    from tqdm.auto import tqdm

    bar = tqdm(total=total_steps, initial=step, disable=not (cfg.progress and main), unit="step",
               desc="train", dynamic_ncols=True)
    last_val = None
    while step < total_steps:
        epoch, done = divmod(step, cfg.iterations_per_epoch)
        epoch_sampler.start(epoch, done * cfg.batch_size * cfg.gradient_accumulation)
        batches = iter(train_loader)
        epoch_losses = []
        net.train()
        for _ in range(done, cfg.iterations_per_epoch):
            optimizer.zero_grad(set_to_none=True)
            step_loss = 0.0
            for a in range(cfg.gradient_accumulation):
                batch = next(batches)
                raw, target = batch["raw"].to(device, non_blocking=True), batch["target"].to(device, non_blocking=True)
                sync = nullcontext() if world == 1 or a == cfg.gradient_accumulation - 1 else net.no_sync()
                with sync:
                    with torch.autocast(device.type, dtype=amp_dtype) if amp_dtype else nullcontext():
                        logits = net(raw)
                    loss = masked_bce(logits, target, pos_weight) / cfg.gradient_accumulation
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
                last_val = validate(model, val_loader, device, pos_weight, amp_dtype)
                write_sample_slices(log.tensorboard, step, model, val_loader, device, cfg.classes)
                log.write(step, epoch=epoch, val_loss=last_val["loss"],
                          **{f"val_dice/{c}": d for c, d in zip(cfg.classes, last_val["dice"])},
                          **{f"val_iou/{c}": v for c, v in zip(cfg.classes, last_val["iou"])})
            if official is not None and validating:
                scores = official(ckpt.save({"spec": spec, "model": model.state_dict()},
                                            out / "validation" / "model.pt"))
                validation_seconds += scores.seconds
                log.write(step, epoch=epoch, **scores.scalars())
            score = epoch_score(cfg, train_loss, last_val if validating else None, scores)
            improved = validating and (best is None or score > best)
            if improved:
                best, best_epoch = score, epoch + 1
            state = snapshot()
            if improved:  # best first: a kill in between then only repeats this epoch
                ckpt.save(state, ckpt_dir / ckpt.BEST)
            ckpt.save(state, ckpt_dir / ckpt.LATEST)
            bar.write(f"epoch {epoch + 1}/{cfg.epochs}: train loss {train_loss:.4f}"
                      + (f", val loss {last_val['loss']:.4f}, val Dice "
                         + " ".join(f"{c}={d:.3f}" for c, d in zip(cfg.classes, last_val["dice"]))
                         if last_val and validating else "")
                      + (f", official score {scores.overall:.4f} ({scores.seconds:.0f} s)" if scores else "")
                      + (" (best)" if improved else ""))
        if world > 1:
            torch.distributed.barrier()
    bar.close()
    log.close()
    if world > 1:
        torch.distributed.destroy_process_group()
    return {"steps": step, "best_score": best, "best_epoch": best_epoch, "metric": cfg.validation_metric,
            "validation_seconds": validation_seconds, "seconds": time.perf_counter() - t_start,
            "latest": str(ckpt_dir / ckpt.LATEST), "best": str(ckpt_dir / ckpt.BEST),
            "validation": last_val}
