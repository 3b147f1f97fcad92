"""Sample slices to TensorBoard at every validation: EM | target | prediction, one image per class.

One fixed validation patch (of the first batch of the deterministic validation grid, the one
with the most labelled foreground) is shown each time, so its images over the steps show the
prediction converging. For a 3D patch the middle
z slice is shown. Unlabelled target voxels (NaN) are mid-grey; probabilities run black (0)
to white (1). Nothing is written where TensorBoard is not installed.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

#: Classes shown per validation (the first ones of the model's class list).
MAX_CLASSES = 8
SEPARATOR = 1.0


def _middle(plane_or_volume: np.ndarray) -> np.ndarray:
    """A 2D slice: the middle z plane of a volume, the plane itself otherwise."""
    a = np.asarray(plane_or_volume, dtype=np.float32)
    while a.ndim > 2:
        a = a[a.shape[0] // 2]
    return a


def _unit(a: np.ndarray) -> np.ndarray:
    lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
    return np.zeros_like(a) if hi <= lo else (a - lo) / (hi - lo)


def slice_panels(raw: np.ndarray, target: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """``[1, H, 3W + 2]`` image in [0, 1]: EM, target and prediction of one sample and class.

    Parameters
    ----------
    raw, target, probs : arrays of the same spatial shape (2D, or 3D: the middle z slice is used)
        EM intensities (any range), target (0/1, NaN unlabelled), probabilities in [0, 1].

    Examples
    --------
    >>> img = slice_panels(np.arange(4.).reshape(2, 2), np.array([[0, 1], [np.nan, 1]]),
    ...                    np.full((2, 2), .25))
    >>> img.shape, img[0, 1, :2].tolist(), img[0, 1, 3:5].tolist(), img[0, 0, 6:].tolist()
    ((1, 2, 8), [0.6666666865348816, 1.0], [0.5, 1.0], [0.25, 0.25])
    """
    em = _unit(_middle(raw))
    tgt = _middle(target)
    tgt = np.where(np.isnan(tgt), 0.5, np.clip(tgt, 0, 1)).astype(np.float32)
    pred = np.clip(_middle(probs), 0, 1)
    bar = np.full((em.shape[0], 1), SEPARATOR, np.float32)
    return np.concatenate([em, bar, tgt, bar, pred], axis=1)[None]


def write_sample_slices(writer: Any, step: int, model, loader, device, classes: Sequence[str],
                        max_classes: int = MAX_CLASSES) -> int:
    """Write ``samples/<class>`` images of the loader's first sample; returns how many were written.

    `writer` is a ``torch.utils.tensorboard.SummaryWriter`` or None (then nothing happens).
    """
    if writer is None or loader is None:
        return 0
    import torch

    # Starting a DataLoader iterator draws from the global RNG; fork it so that showing images
    # leaves training (and a resumed run) on the same random stream.
    with torch.random.fork_rng(devices=[]):
        batch = next(iter(loader), None)
    if batch is None:
        return 0
    # the sample of the first batch with the most labelled foreground: something to look at
    i = int(torch.nan_to_num(batch["target"].float()).flatten(1).sum(1).argmax())
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            raw = batch["raw"][i:i + 1].to(device)
            probs = torch.sigmoid(model(raw).float()).cpu().numpy()[0]
    finally:
        model.train(was_training)
    em = batch["raw"][i, 0].numpy()
    target = batch["target"][i].float().numpy()
    if not (em.shape == target.shape[1:] == probs.shape[1:]):
        # input and output on different grids (more context, another voxel size): the three
        # panels would not show the same place, so nothing is written
        return 0
    n = min(len(classes), max_classes, probs.shape[0])
    for c in range(n):
        writer.add_image(f"samples/{classes[c]}", slice_panels(em, target[c], probs[c]), step, dataformats="CHW")
    writer.flush()
    return n


__all__ = ["slice_panels", "write_sample_slices", "MAX_CLASSES"]
