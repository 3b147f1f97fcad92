"""PNG figures of one or two submissions' scores, drawn with matplotlib (the ``report`` extra).

Every figure puts the submissions side by side (one bar colour each), so a report of one
submission and a ``--compare`` report share the same code. Figures are written atomically.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import numpy as np

from .._atomic import atomic_write_bytes
from ..errors import BackendUnavailableError
from .scores import OVERALL_KEYS, Results

COLOURS = ("#3b75af", "#ef8636", "#519e3e", "#c53a32")
SEMANTIC_METRICS = (("iou", "IoU"), ("dice", "Dice"))
INSTANCE_METRICS = (("f1", "F1"), ("hausdorff", "normalised Hausdorff"), ("combined", "combined"))


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise BackendUnavailableError(
            "report figures need matplotlib: pip install 'pycsc[report]' (or pip install matplotlib)") from None
    matplotlib.use("Agg", force=True)  # files only; never open a window
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    atomic_write_bytes(path, buf.getvalue())
    return path


def _values(results: Results, labels: Sequence[str], metric: str) -> np.ndarray:
    out = []
    for label in labels:
        score = results.classes.get(label)
        value = getattr(score, metric) if score is not None else None
        out.append(np.nan if value is None else value)
    return np.asarray(out, dtype=float)


def class_bars(runs: Sequence[Results], kind: str, path: Path) -> Path | None:
    """Per-class bars of `kind` ("semantic" or "instance"), one panel per metric."""
    labels = sorted({label for r in runs for label, s in r.classes.items() if s.kind == kind})
    if not labels:
        return None
    metrics = SEMANTIC_METRICS if kind == "semantic" else INSTANCE_METRICS
    metrics = [(m, t) for m, t in metrics if any(np.isfinite(_values(r, labels, m)).any() for r in runs)]
    plt = _pyplot()
    width = min(13.0, max(6.0, 0.2 * len(labels) * len(runs) + 2.0))
    fig, axes = plt.subplots(len(metrics), 1, figsize=(width, 2.2 * len(metrics) + 1.0), squeeze=False)
    x = np.arange(len(labels))
    bar = 0.8 / len(runs)
    for ax, (metric, title) in zip(axes[:, 0], metrics):
        for i, r in enumerate(runs):
            ax.bar(x + (i - (len(runs) - 1) / 2) * bar, np.nan_to_num(_values(r, labels, metric)), bar,
                   label=r.name, color=COLOURS[i % len(COLOURS)])
        ax.set_ylabel(title)
        ax.set_ylim(0, 1.05)
        ax.set_xticks(x, labels, rotation=90, fontsize=8)
        ax.set_xlim(-0.6, len(labels) - 0.4)
        ax.grid(axis="y", alpha=0.3)
    axes[0, 0].set_title(f"{kind} classes", loc="left")
    axes[0, 0].legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=len(runs), fontsize=8, frameon=False)
    fig.tight_layout()
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)


def overall_bars(runs: Sequence[Results], path: Path) -> Path:
    """The three overall scores of each submission."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 2.8))
    x = np.arange(len(OVERALL_KEYS))
    bar = 0.8 / len(runs)
    for i, r in enumerate(runs):
        vals = [r.overall.get(k) for k in OVERALL_KEYS]
        ax.bar(x + (i - (len(runs) - 1) / 2) * bar, [0.0 if v is None else v for v in vals], bar,
               label=r.name, color=COLOURS[i % len(COLOURS)])
    ax.set_xticks(x, [k.replace("_score", "").replace("_", " ") for k in OVERALL_KEYS])
    ax.set_ylim(0, 1.05)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=len(runs), fontsize=8, frameon=False)
    ax.set_title("overall scores", loc="left")
    fig.tight_layout()
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)


def crop_matrix(runs: Sequence[Results], path: Path) -> Path | None:
    """Per-crop breakdown: a crop x class heat map of the main score, one panel per submission."""
    runs = [r for r in runs if r.crops]
    if not runs:
        return None
    labels = sorted({c.label for r in runs for c in r.crops})
    crops = sorted({c.crop for r in runs for c in r.crops}, key=lambda n: runs[0].crop_names.index(n)
                   if n in runs[0].crop_names else len(runs[0].crop_names))
    plt = _pyplot()
    width = min(13.0, max(6.0, 0.22 * len(labels) + 2.5))
    fig, axes = plt.subplots(len(runs), 1, figsize=(width, (0.3 * len(crops) + 2.0) * len(runs) + 0.3),
                             squeeze=False, layout="constrained")
    image = None
    for ax, r in zip(axes[:, 0], runs):
        grid = np.full((len(crops), len(labels)), np.nan)
        for c in r.crops:
            grid[crops.index(c.crop), labels.index(c.label)] = np.nan if c.main is None else c.main
        image = ax.imshow(np.ma.masked_invalid(grid), vmin=0, vmax=1, cmap="viridis", aspect="auto",
                          interpolation="nearest")
        ax.set_yticks(range(len(crops)), crops, fontsize=8)
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
        ax.set_title(f"{r.name}: per crop (IoU semantic, combined instance; blank = not scored)", fontsize=9,
                     loc="left")
    fig.colorbar(image, ax=axes[:, 0].tolist(), fraction=0.03, pad=0.01, aspect=30)
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)


__all__ = ["class_bars", "overall_bars", "crop_matrix"]
