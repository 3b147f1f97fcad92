"""Masked losses per output channel, and per-channel Dice / IoU counts.

Every loss sees only *known* voxels: ``mask > 0`` (and a non-NaN target; NaN marks unknown
in first-format batches). True negatives of unannotated classes are known zeros, as before.
Means are over known voxels, so a sparsely annotated batch is not down-weighted (the
official wrapper divides by every voxel).

Channels with a ``tanh`` activation (signed distances, targets in [-1, 1]) and ``sigmoid``
channels (targets in [0, 1]) share one formulation: since ``(tanh(x) + 1) / 2 = sigmoid(2x)``,
the probability-space losses (bce, dice, focal) use logit ``2x`` and target ``(t + 1) / 2`` for
tanh channels; ``mse`` and ``l1`` compare the activated output with the target as it is.

Registered losses (``[train.loss] name``): ``bce``, ``dice``, ``bce+dice``, ``focal``, ``mse``,
``l1``; ``auto`` gives each channel its target kind's default (bce for sigmoid, mse for tanh).
Per-class positive weights multiply the loss of foreground voxels (target > 0.5 in probability
space) in bce, focal, mse and l1; Dice is balanced by construction and takes none.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F

from ..errors import ConfigError

_LOSSES: dict[str, Callable] = {}
#: parameters each loss accepts, with defaults
LOSS_PARAMS: dict[str, dict] = {}


def register_loss(name: str, **params):
    def wrap(fn):
        _LOSSES[name] = fn
        LOSS_PARAMS[name] = params
        return fn
    return wrap


def list_losses() -> list[str]:
    return sorted(_LOSSES)


def _known(target: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    known = ~torch.isnan(target)
    if mask is not None:
        known &= mask > 0.5
    return known


def _mean(values: torch.Tensor, known: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    n = known.sum()
    return (values * known).sum() / n.clamp(min=1) + 0.0 * logits.sum()


def _positive_weights(prob_target: torch.Tensor, pos_weight: torch.Tensor | None) -> torch.Tensor | float:
    if pos_weight is None:
        return 1.0
    pw = pos_weight.to(prob_target.dtype).reshape(1, -1, *([1] * (prob_target.ndim - 2)))
    return torch.where(prob_target > 0.5, pw, torch.ones_like(prob_target))


@register_loss("bce")
def bce(z, y, act, t, known, pos_weight):
    """Binary cross-entropy with logits in probability space."""
    pw = None if pos_weight is None else pos_weight.to(z.dtype).reshape(1, -1, *([1] * (z.ndim - 2)))
    return _mean(F.binary_cross_entropy_with_logits(z, y, pos_weight=pw, reduction="none"), known, z)


@register_loss("focal", gamma=2.0, alpha=-1.0)
def focal(z, y, act, t, known, pos_weight, gamma=2.0, alpha=-1.0):
    """Sigmoid focal loss (Lin et al.): ``-a_t (1 - p_t)^gamma log p_t``; alpha < 0 = off."""
    p = torch.sigmoid(z)
    ce = F.binary_cross_entropy_with_logits(z, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = loss * (alpha * y + (1 - alpha) * (1 - y))
    return _mean(loss * _positive_weights(y, pos_weight), known, z)


@register_loss("dice", smooth=1e-5)
def dice(z, y, act, t, known, pos_weight, smooth=1e-5):
    """Soft Dice per channel over the batch's known voxels, averaged over channels with any."""
    p = torch.sigmoid(z) * known
    yk = y * known
    dims = [d for d in range(z.ndim) if d != 1]
    inter = (p * yk).sum(dims)
    denom = p.sum(dims) + yk.sum(dims)
    per_channel = 1 - (2 * inter + smooth) / (denom + smooth)
    seen = known.sum(dims) > 0
    if not bool(seen.any()):
        return 0.0 * z.sum()
    return per_channel[seen].mean()


@register_loss("bce+dice", smooth=1e-5)
def bce_dice(z, y, act, t, known, pos_weight, smooth=1e-5):
    """Sum of :func:`bce` and :func:`dice`."""
    return bce(z, y, act, t, known, pos_weight) + dice(z, y, act, t, known, pos_weight, smooth)


@register_loss("mse")
def mse(z, y, act, t, known, pos_weight):
    """Squared error between the activated output and the target."""
    return _mean((act - t) ** 2 * _positive_weights(y, pos_weight), known, z)


@register_loss("l1")
def l1(z, y, act, t, known, pos_weight):
    """Absolute error between the activated output and the target."""
    return _mean((act - t).abs() * _positive_weights(y, pos_weight), known, z)


def check_loss_table(table: Mapping) -> None:
    """One-line ConfigErrors for a bad ``[train.loss]`` table."""
    name = table.get("name", "auto")
    if name != "auto" and name not in _LOSSES:
        raise ConfigError(f"[train.loss] `name` = {name!r} is not a loss; use auto, {', '.join(list_losses())}")
    accepted = set().union(*LOSS_PARAMS.values()) if name == "auto" else set(LOSS_PARAMS[name])
    bad = sorted(set(table) - {"name"} - accepted)
    if bad:
        raise ConfigError(f"[train.loss] key {bad[0]!r} is not a parameter of loss {name!r}; "
                          f"accepted: {', '.join(sorted(accepted)) or '(none)'}")


class ChannelLoss:
    """The training loss of a channel layout: one named loss per group of channels, summed.

    Parameters
    ----------
    table : mapping
        ``[train.loss]``: ``name`` (``auto`` or a registered loss) and the loss's parameters.
    channels : sequence of mapping
        The spec's channels (``activation`` and, for ``auto``, ``kind``).
    pos_weight : torch.Tensor, optional
        ``[C]`` positive weight of each channel.
    """

    def __init__(self, table: Mapping, channels: Sequence[Mapping], pos_weight: torch.Tensor | None = None):
        check_loss_table(table)
        name = table.get("name", "auto")
        params = {k: v for k, v in table.items() if k != "name"}
        self.tanh = torch.tensor([c["activation"] == "tanh" for c in channels])
        self.pos_weight = pos_weight
        groups: dict[str, list[int]] = {}
        for i, c in enumerate(channels):
            loss = name if name != "auto" else ("mse" if c["activation"] == "tanh" else "bce")
            groups.setdefault(loss, []).append(i)
        self.groups = [(loss, torch.tensor(idx), {k: v for k, v in params.items() if k in LOSS_PARAMS[loss]})
                       for loss, idx in groups.items()]

    def __call__(self, logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        logits = logits.float()
        known = _known(target, mask)
        t = torch.nan_to_num(target.float(), nan=0.0)
        shape = (1, -1, *([1] * (logits.ndim - 2)))
        tanh = self.tanh.to(logits.device).reshape(shape)
        z = torch.where(tanh, 2 * logits, logits)
        y = torch.where(tanh, (t + 1) / 2, t)
        act = torch.where(tanh, torch.tanh(logits), torch.sigmoid(logits))
        total = 0.0 * logits.sum()
        for loss, idx, params in self.groups:
            idx = idx.to(logits.device)
            pw = None if self.pos_weight is None else self.pos_weight.to(logits.device)[idx]
            pick = (lambda a: a.index_select(1, idx))
            total = total + _LOSSES[loss](pick(z), pick(y), pick(act), pick(t), pick(known), pw, **params)
        return total


def masked_bce(logits: torch.Tensor, target: torch.Tensor, pos_weight: torch.Tensor | None = None,
               mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean BCE-with-logits over the known voxels of ``[B, C, *spatial]`` sigmoid channels."""
    known = _known(target, mask)
    return bce(logits.float(), torch.nan_to_num(target.float(), nan=0.0), None, None, known, pos_weight)


@torch.no_grad()
def confusion_counts(logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None,
                     tanh: torch.Tensor | None = None) -> torch.Tensor:
    """Per-channel ``[C, 3]`` counts (TP, FP, FN) over known voxels.

    Foreground is ``logit > 0`` (probability > 0.5, or tanh > 0) and ``target > 0.5`` (``> 0``
    for tanh channels, flagged by the bool ``[C]`` `tanh`).
    """
    known = _known(target, mask)
    t = torch.nan_to_num(target, nan=0.0)
    cut = torch.full((t.shape[1],), 0.5, device=t.device)
    if tanh is not None:
        cut = torch.where(tanh.to(t.device), torch.zeros_like(cut), cut)
    pred = (logits > 0) & known
    truth = (t > cut.reshape(1, -1, *([1] * (t.ndim - 2)))) & known
    dims = [d for d in range(logits.ndim) if d != 1]
    tp = (pred & truth).sum(dim=dims)
    fp = (pred & ~truth).sum(dim=dims)
    fn = (~pred & truth).sum(dim=dims)
    return torch.stack([tp, fp, fn], dim=1).cpu().long()


def dice_iou(counts: torch.Tensor) -> tuple[list[float], list[float]]:
    """Dice and IoU per channel from ``[C, 3]`` counts; NaN for a channel never seen nor predicted."""
    dice_, iou = [], []
    for tp, fp, fn in counts.tolist():
        denom = tp + fp + fn
        dice_.append(2 * tp / (2 * tp + fp + fn) if denom else float("nan"))
        iou.append(tp / denom if denom else float("nan"))
    return dice_, iou
