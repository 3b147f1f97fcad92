"""Pooling per class and the official result structures (evaluation.md §9, §11).

Counts and Hausdorff terms are pooled per class over all crops; per class
``iou = TP/(TP+FP+FN)`` (semantic) or ``sqrt(f1 * mean normalised Hausdorff)`` (instance);
overall scores are plain means over classes and their geometric mean. Results are always
pooled in sorted (crop, class) order, so one run and a merge of shards agree bit for bit.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

OVERALL_KEYS = ("overall_instance_score", "overall_semantic_score", "overall_score", "total_evals",
                "num_evals_done", "git_version")
SKIP_STATUSES = ("skipped_too_many_instances", "matching_failed")


def _bad(value) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def label_scores(scores: dict[str, dict[str, dict]], instance_classes: Iterable[str],
                 include_missing: bool = True) -> dict[str, dict]:
    """Per-class pooled scores; records with ``is_missing`` are skipped unless `include_missing`."""
    instance_classes = set(instance_classes)
    sums: dict[str, dict] = {}
    for crop in scores:
        for label, rec in scores[crop].items():
            if rec.get("is_missing") and not include_missing:
                continue
            acc = sums.setdefault(label, {"tp": 0, "fp": 0, "fn": 0, "h": 0.0, "n": 0})
            acc["tp"] += rec["tp"]
            acc["fp"] += rec["fp"]
            acc["fn"] += rec["fn"]
            if label in instance_classes:
                acc["h"] += rec.get("hausdorff_norm_sum", 0.0)
                acc["n"] += rec.get("n_hausdorff", 0)
    out = {}
    for label, a in sums.items():
        tp, fp, fn = a["tp"], a["fp"], a["fn"]
        if label in instance_classes:
            if 2 * tp + fp + fn == 0 and a["n"] == 0:
                f1 = nh = combined = 1.0
            else:
                f1 = 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else 0.0
                nh = a["h"] / a["n"] if a["n"] else 0.0
                combined = math.sqrt(f1 * nh)
            rec = {"f1": f1, "normalized_hausdorff_distance": nh, "combined_score": combined}
        else:
            rec = {"iou": tp / (tp + fp + fn) if tp + fp + fn else 1.0}
        out[label] = {k: (None if _bad(v) else v) for k, v in rec.items()} | {"tp": tp, "fp": fp, "fn": fn}
    return out


def overall(labels: dict[str, dict], instance_classes: Iterable[str]) -> dict:
    """Plain means over classes (0 when a kind is absent) and their geometric mean."""
    instance_classes = set(instance_classes)
    inst = [r["combined_score"] for k, r in labels.items() if k in instance_classes]
    sem = [r["iou"] for k, r in labels.items() if k not in instance_classes]
    inst = [v for v in inst if v is not None]
    sem = [v for v in sem if v is not None]
    i = float(np.mean(inst)) if inst else 0
    s = float(np.mean(sem)) if sem else 0
    return {"overall_instance_score": i, "overall_semantic_score": s, "overall_score": float(np.sqrt(i * s))}


def sanitize(value):
    """NaN/inf -> None and NumPy scalars -> Python, recursively (official ``sanitize_scores``)."""
    if isinstance(value, dict):
        return {k: sanitize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [sanitize(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    return None if _bad(value) else value


def build_scores(records: dict[tuple[str, str], dict], instance_classes: Iterable[str], total_evals: int,
                 git_version: str) -> tuple[dict, dict]:
    """(extended, public) official result dicts from ``{(crop, label): record}``."""
    instance_classes = tuple(instance_classes)
    scores: dict[str, dict[str, dict]] = {}
    for crop, label in sorted(records):
        scores.setdefault(crop, {})[label] = records[(crop, label)]
    all_labels = label_scores(scores, instance_classes, include_missing=True)
    found_labels = label_scores(scores, instance_classes, include_missing=False)
    meta = overall(all_labels, instance_classes)
    meta.update(total_evals=int(total_evals),
                num_evals_done=sum(len(v) for k, v in scores.items() if "crop" in k),
                git_version=git_version)
    extended = {**scores, "label_scores": all_labels, **meta}
    public = {"label_scores": {k: {m: v for m, v in all_labels[k].items() if m not in ("tp", "fp", "fn")}
                               for k in all_labels if k in found_labels}, **meta}
    return sanitize(extended), sanitize(public)


def class_warnings(records: dict[tuple[str, str], dict], instance_classes: Iterable[str]) -> list[str]:
    """Warnings where an official quirk changes a class score in a way a user should know."""
    instance_classes = set(instance_classes)
    by_label: dict[str, list[tuple[str, dict]]] = {}
    for (crop, label), rec in sorted(records.items()):
        by_label.setdefault(label, []).append((crop, rec))
    out = []
    for label, items in by_label.items():
        statuses = [r.get("status") for _, r in items]
        skipped = [c for c, r in items if r.get("status") in SKIP_STATUSES]
        if skipped and len(skipped) == len(items):
            out.append(f"class {label}: every crop skipped by the instance-count gate or matching "
                       f"({', '.join(sorted(set(statuses)))}); class score 1.0")
        elif skipped:
            out.append(f"class {label}: {', '.join(skipped)} skipped by the instance-count gate or matching; "
                       "those crops contribute nothing to the class score")
        if all(s in ("missing", "error") for s in statuses):
            what = "every truth object" if label in instance_classes else "every voxel of the crop"
            out.append(f"class {label}: no crop submitted (or readable); scored as not submitted ({what} a false "
                       "negative): left out of the public label_scores but counted in the overall scores")
    return out


__all__ = ["label_scores", "overall", "sanitize", "build_scores", "class_warnings"]
