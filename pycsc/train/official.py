"""Validation with the challenge's own score: predict, process, pack and evaluate whole crops.

With ``validation_metric = "official"`` the training loop scores the model every
``validate_every`` epochs exactly as a submission would be scored, on the validation crops
of the datasplit, through the library functions behind ``csc predict``, ``csc process``,
``csc pack`` and ``csc evaluate``::

    model weights --predict (sliding window, whole crops)--> probabilities
        --process (threshold, components, min size)--> masks / objects
        --pack (onto each crop's annotation grid)--> submission.zip
        --evaluate (official rules, truth = the crops' groundtruth)--> overall + per-class

Everything lands in ``<output_dir>/validation/`` (the truth store there links the data's
annotation arrays, it never writes into the data). Classes scored: the trained classes
annotated in each validation crop.
"""

from __future__ import annotations

import contextlib
import io
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import PackConfig, PredictConfig, ProcessConfig, TrainConfig
from ..errors import ConfigError, DataError

METRICS = ("loss", "dice", "official")


@dataclass
class OfficialScores:
    """One official validation: overall scores and the per-class score (combined or IoU)."""

    overall: float
    instance: float
    semantic: float
    per_class: dict[str, float]
    seconds: float

    def scalars(self) -> dict[str, float]:
        """Flat names for metrics.jsonl / TensorBoard."""
        return {"official/overall": self.overall, "official/instance": self.instance,
                "official/semantic": self.semantic, "official/seconds": self.seconds,
                **{f"official/{c}": v for c, v in self.per_class.items()}}


def _data_root(rows) -> Path:
    roots = {Path(r.raw).parents[4] for r in rows}
    if len(roots) != 1:
        raise DataError(f"official validation needs the validation crops under one data folder; found "
                        f"{sorted(map(str, roots))}")
    return roots.pop()


def _num(v) -> float:
    return float("nan") if v is None else float(v)


class OfficialValidator:
    """Scores checkpoints on the validation crops `val_rows` (see the module text)."""

    def __init__(self, cfg: TrainConfig, val_rows, folder: str | Path):
        from ..eval.datalayout import _sources_of_crop, build_truth_store

        if not val_rows:
            raise ConfigError("`validation_metric` = 'official' needs validation crops: the datasplit has "
                              "no 'validate' row with a trained class")
        self.cfg = cfg
        self.folder = Path(folder)
        self.data_root = _data_root(val_rows)
        sources = [s for r in val_rows
                   for s in _sources_of_crop(Path(r.crop).parents[3].stem, Path(r.crop), cfg.classes)]
        if not sources:
            raise DataError(f"no validation crop annotates any of {list(cfg.classes)}")
        shutil.rmtree(self.folder / "truth", ignore_errors=True)
        self.truth, self.manifest = build_truth_store(sources, self.folder / "truth")
        self.crops = sorted({f"crop{s.crop_id}" for s in sources})

    def __call__(self, checkpoint: str | Path) -> OfficialScores:
        """Predict, process, pack and score the validation crops with `checkpoint`."""
        from ..eval import EvaluateConfig, score_submission
        from ..pack import pack
        from ..predict import predict
        from ..process import process

        t0 = time.perf_counter()
        cfg, f = self.cfg, self.folder
        pred = str(f / "predictions" / "{dataset}.zarr" / "{crop}")
        proc = str(f / "processed" / "{dataset}.zarr" / "{crop}")
        sub = f / "submission.zip"
        with contextlib.redirect_stdout(io.StringIO()):   # keep the training log readable
            predict(PredictConfig(checkpoint=Path(checkpoint), data_root=self.data_root, manifest=self.manifest,
                                  crops=("test",), output=pred, batch_size=cfg.batch_size, device=cfg.device,
                                  threads=cfg.threads, overwrite=True, progress=False))
            process(ProcessConfig(input=pred, output=proc, manifest=self.manifest, crops=("test",),
                                  min_size=cfg.validation_min_size, overwrite=True))
            pack(PackConfig(input=proc, manifest=self.manifest, output=sub, missing="empty", overwrite=True))
            scores = score_submission(sub, self.truth, self.manifest, config=EvaluateConfig(progress=False))
        per_class = {c: _num(rec.get("combined_score", rec.get("iou")))
                     for c, rec in scores.get("label_scores", {}).items()}
        return OfficialScores(_num(scores.get("overall_score")), _num(scores.get("overall_instance_score")),
                              _num(scores.get("overall_semantic_score")), per_class,
                              time.perf_counter() - t0)


def is_validation_epoch(cfg: TrainConfig, epoch: int) -> bool:
    """Validate after every `validate_every`-th epoch (0-based `epoch`) and after the last."""
    return (epoch + 1) % cfg.validate_every == 0 or epoch + 1 == cfg.epochs


def epoch_score(cfg: TrainConfig, train_loss: float, val: dict | None,
                official: OfficialScores | None) -> float:
    """The number `best.pt` maximises, by `validation_metric`.

    ``dice``: mean validation Dice (then -validation loss when no class has a Dice, then
    -training loss without validation); ``loss``: -validation loss (-training loss without
    validation); ``official``: the overall official score (NaN counts as 0).
    """
    if cfg.validation_metric == "official":
        return 0.0 if official is None or math.isnan(official.overall) else official.overall
    if val is None:
        return -train_loss
    if cfg.validation_metric == "dice":
        dice = [d for d in val["dice"] if not math.isnan(d)]
        if dice:
            return float(np.mean(dice))
    return -val["loss"]


__all__ = ["METRICS", "OfficialScores", "OfficialValidator", "is_validation_epoch", "epoch_score"]
