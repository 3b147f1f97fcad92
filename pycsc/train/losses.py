"""Masked, class-weighted binary cross-entropy and per-class Dice / IoU counts.

Targets hold 1 (foreground), 0 (background) and NaN (unknown: class not annotated there).
Unknown voxels contribute nothing. The official wrapper also averages over the unknown
voxels (dividing by every voxel); here the mean is over known voxels, so a sparsely
annotated batch is not down-weighted.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def masked_bce(logits: torch.Tensor, target: torch.Tensor, pos_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean BCE-with-logits over the known (non-NaN) voxels of ``[B, C, *spatial]`` tensors.

    `pos_weight` (``[C]``) multiplies the loss of foreground voxels of each class.
    Returns 0 (with a gradient path) when no voxel is known.
    """
    known = ~torch.isnan(target)
    t = torch.nan_to_num(target, nan=0.0)
    pw = None
    if pos_weight is not None:
        pw = pos_weight.to(logits.dtype).reshape(1, -1, *([1] * (logits.ndim - 2)))
    loss = F.binary_cross_entropy_with_logits(logits.float(), t, pos_weight=pw, reduction="none")
    n = known.sum()
    return (loss * known).sum() / n.clamp(min=1)


@torch.no_grad()
def confusion_counts(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-class ``[C, 3]`` counts (TP, FP, FN) over known voxels, foreground = logit > 0."""
    known = ~torch.isnan(target)
    pred = (logits > 0) & known
    truth = (target > 0.5) & known
    dims = [d for d in range(logits.ndim) if d != 1]
    tp = (pred & truth).sum(dim=dims)
    fp = (pred & ~truth).sum(dim=dims)
    fn = (~pred & truth).sum(dim=dims)
    return torch.stack([tp, fp, fn], dim=1).cpu().long()


def dice_iou(counts: torch.Tensor) -> tuple[list[float], list[float]]:
    """Dice and IoU per class from ``[C, 3]`` counts; NaN for a class never seen nor predicted."""
    dice, iou = [], []
    for tp, fp, fn in counts.tolist():
        denom = tp + fp + fn
        dice.append(2 * tp / (2 * tp + fp + fn) if denom else float("nan"))
        iou.append(tp / denom if denom else float("nan"))
    return dice, iou
