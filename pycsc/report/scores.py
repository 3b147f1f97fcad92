"""Results files as tables: per-class and per-crop scores of one submission.

Reads what ``csc evaluate`` writes (evaluation.md section 11)::

    results.json            {"label_scores": {class: {iou} | {f1, normalized_hausdorff_distance,
                             combined_score}}, "overall_*": ..., ...}
    results_extended.json   the same plus "crop<N>": {class: {tp, fp, fn, [hausdorff_norm_sum,
                             n_hausdorff], status, ...}} and tp/fp/fn in label_scores

Given ``results.json`` the extended file beside it supplies the per-crop breakdown. Per-crop
scores are computed from the crop's own counts with the formulas of the class scores
(semantic IoU = TP/(TP+FP+FN), Dice = 2TP/(2TP+FP+FN); instance F1 the same as Dice over
matched objects, combined = sqrt(F1 * mean normalised Hausdorff)).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import InputError

OVERALL_KEYS = ("overall_score", "overall_semantic_score", "overall_instance_score")


@dataclass(frozen=True)
class ClassScore:
    """Pooled score of one class; semantic classes have iou/dice, instance ones f1/hausdorff/combined."""

    label: str
    kind: str                      # "semantic" | "instance"
    iou: float | None = None
    dice: float | None = None
    f1: float | None = None
    hausdorff: float | None = None
    combined: float | None = None

    @property
    def main(self) -> float | None:
        """The number the leaderboard averages: IoU (semantic) or the combined score (instance)."""
        return self.iou if self.kind == "semantic" else self.combined


@dataclass(frozen=True)
class CropScore(ClassScore):
    crop: str = ""
    status: str = ""


@dataclass
class Results:
    """One submission's scores, ready to tabulate and draw."""

    name: str
    classes: dict[str, ClassScore]
    overall: dict[str, float | None]
    crops: list[CropScore] = field(default_factory=list)
    source: str = ""
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)   # num_evals_done, total_evals

    @property
    def crop_names(self) -> list[str]:
        return sorted({c.crop for c in self.crops}, key=_crop_key)


def _crop_key(name: str):
    digits = name[4:] if name.startswith("crop") else name
    return (0, int(digits), "") if digits.isdigit() else (1, 0, name)


def _ratio(num: float, den: float, empty: float = 1.0) -> float:
    return num / den if den else empty


def _finite(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _class_score(label: str, rec: Mapping[str, Any]) -> ClassScore:
    if "combined_score" in rec or "f1" in rec:
        return ClassScore(label, "instance", f1=_finite(rec.get("f1")),
                          hausdorff=_finite(rec.get("normalized_hausdorff_distance")),
                          combined=_finite(rec.get("combined_score")))
    tp, fp, fn = (rec.get(k) for k in ("tp", "fp", "fn"))
    dice = _ratio(2 * tp, 2 * tp + fp + fn) if None not in (tp, fp, fn) else None
    return ClassScore(label, "semantic", iou=_finite(rec.get("iou")), dice=dice)


def _crop_score(crop: str, label: str, rec: Mapping[str, Any], kind: str) -> CropScore:
    tp, fp, fn = (int(rec.get(k) or 0) for k in ("tp", "fp", "fn"))
    status = str(rec.get("status", "scored"))
    if kind == "instance":
        n = int(rec.get("n_hausdorff") or 0)
        if 2 * tp + fp + fn == 0 and n == 0:
            f1 = nh = 1.0
        else:
            f1 = _ratio(2 * tp, 2 * tp + fp + fn, 0.0)
            nh = _ratio(float(rec.get("hausdorff_norm_sum") or 0.0), n, 0.0)
        return CropScore(label, kind, f1=f1, hausdorff=nh, combined=math.sqrt(f1 * nh), crop=crop, status=status)
    return CropScore(label, kind, iou=_ratio(tp, tp + fp + fn), dice=_ratio(2 * tp, 2 * tp + fp + fn),
                     crop=crop, status=status)


def _read_json(path: Path, what: str) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{what} {path} does not exist; run `csc evaluate` first or fix the path") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{what} {path} is not readable JSON ({exc}); pass a results.json that "
                         "`csc evaluate` wrote") from None
    if not isinstance(data, dict) or not isinstance(data.get("label_scores"), dict):
        raise InputError(f"{what} {path} has no `label_scores` table; expected a results.json or "
                         "results_extended.json written by `csc evaluate`")
    return data


def extended_path(path: Path) -> Path:
    """``results.json`` -> ``results_extended.json`` (the file ``csc evaluate`` writes beside it)."""
    return path.with_name(f"{path.stem}_extended{path.suffix or '.json'}")


def from_dict(data: Mapping[str, Any], name: str, source: str = "") -> Results:
    """Tabulate a results dict (public or extended, as :func:`pycsc.eval.score_submission` returns)."""
    classes = {label: _class_score(label, rec) for label, rec in sorted(data["label_scores"].items())}
    crops = []
    for key, table in data.items():
        if not (key.startswith("crop") and isinstance(table, Mapping)):
            continue
        for label, rec in sorted(table.items()):
            if isinstance(rec, Mapping):
                kind = classes[label].kind if label in classes else (
                    "instance" if "n_hausdorff" in rec else "semantic")
                crops.append(_crop_score(key, label, rec, kind))
    crops.sort(key=lambda c: (_crop_key(c.crop), c.label))
    overall = {k: _finite(data.get(k)) for k in OVERALL_KEYS}
    counts = {}
    if "num_evals_done" in data and "total_evals" in data:
        counts["evals"] = (int(data["num_evals_done"]), int(data["total_evals"]))
    return Results(name, classes, overall, crops, source, counts)


def load_results(source: str | os.PathLike | Mapping[str, Any], name: str | None = None) -> Results:
    """Read a results file (or take a results dict) as :class:`Results`.

    Parameters
    ----------
    source : path or mapping
        ``results.json`` (its ``_extended`` sibling is read too when present, for the per-crop
        breakdown), ``results_extended.json``, or an already loaded results dict.
    name : str, optional
        How the report names this submission (default: the file's parent folder and name).

    Raises
    ------
    InputError
        When the file is missing, not JSON, or holds no ``label_scores``.

    Examples
    --------
    >>> r = load_results({"label_scores": {"mito": {"iou": 0.5, "tp": 1, "fp": 1, "fn": 0}},
    ...                   "crop1": {"mito": {"tp": 1, "fp": 1, "fn": 0}}}, name="a")
    >>> r.classes["mito"].dice, r.crops[0].iou
    (0.6666666666666666, 0.5)
    """
    if isinstance(source, Mapping):
        if not isinstance(source.get("label_scores"), Mapping):
            raise InputError("results dict has no `label_scores` table; expected what `csc evaluate` writes")
        return from_dict(source, name or "submission")
    path = Path(source)
    data = _read_json(path, "results file")
    has_crops = any(k.startswith("crop") for k in data)
    ext = extended_path(path)
    if not has_crops and ext.is_file():
        data = _read_json(ext, "extended results file")
    label = name or (f"{path.parent.name}/{path.name}" if path.parent.name else path.name)
    return from_dict(data, label, str(path))


__all__ = ["ClassScore", "CropScore", "Results", "load_results", "from_dict", "extended_path", "OVERALL_KEYS"]
