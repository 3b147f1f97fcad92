"""Pooling per class and the official result structures (evaluation.md §9, §14)."""

from __future__ import annotations

import math

import pytest

from pycsc.eval.aggregate import build_scores, class_warnings, label_scores, sanitize

INST = ("mito",)


def inst(tp, fp, fn, h, n, status="scored", missing=False):
    return {"tp": tp, "fp": fp, "fn": fn, "hausdorff_norm_sum": h, "n_hausdorff": n, "status": status,
            "num_voxels": 8000, "voxel_size": [4.0, 4.0, 4.0], "is_missing": missing}


def sem(tp, fp, fn, status="scored", missing=False):
    return {"tp": tp, "fp": fp, "fn": fn, "status": status, "num_voxels": 8000, "voxel_size": [4.0] * 3,
            "is_missing": missing}


def test_pooling_example():
    s = label_scores({"crop1": {"mito": inst(3, 1, 0, 2.4, 4)}, "crop2": {"mito": inst(1, 0, 2, 1.0, 2)}}, INST)
    f1, nh = 8 / 11, 3.4 / 6
    assert s["mito"] == {"f1": f1, "normalized_hausdorff_distance": nh, "combined_score": math.sqrt(f1 * nh),
                         "tp": 4, "fp": 1, "fn": 2}


def test_worked_example_of_the_spec():
    h = 1.0 + 1.01 ** (-4 / math.sqrt(48))
    records = {("crop1", "mito"): inst(2, 0, 0, h, 2), ("crop1", "ecs"): sem(3992, 0, 8),
               ("crop2", "mito"): inst(0, 0, 2, 0.0, 2, "missing", True),
               ("crop2", "er"): sem(0, 0, 8000, "missing", True)}
    ext, pub = build_scores(records, INST, total_evals=4, git_version="x")
    assert ext["label_scores"]["mito"]["f1"] == pytest.approx(0.666667, abs=1e-6)
    assert ext["label_scores"]["mito"]["combined_score"] == pytest.approx(0.576523, abs=1e-6)
    assert ext["overall_semantic_score"] == pytest.approx(0.499) and ext["overall_score"] == pytest.approx(0.536363,
                                                                                                          abs=1e-6)
    assert ext["num_evals_done"] == 4 and ext["total_evals"] == 4
    assert set(pub["label_scores"]) == {"mito", "ecs"}  # er only missing: not public, but in the overall
    assert "tp" not in pub["label_scores"]["mito"] and pub["overall_score"] == ext["overall_score"]


def test_all_crops_skipped_scores_one_and_warns():
    records = {("crop1", "mito"): inst(0, 0, 0, 0.0, 0, "skipped_too_many_instances")}
    ext, _ = build_scores(records, INST, 1, "x")
    assert ext["label_scores"]["mito"]["combined_score"] == 1.0
    assert ext["overall_semantic_score"] == 0 and isinstance(ext["overall_semantic_score"], int)
    (w,) = class_warnings(records, INST)
    assert "class mito: every crop skipped" in w and "class score 1.0" in w


def test_empty_semantic_class_is_one():
    ext, _ = build_scores({("crop1", "ecs"): sem(0, 0, 0)}, INST, 1, "x")
    assert ext["label_scores"]["ecs"]["iou"] == 1.0 and ext["overall_instance_score"] == 0


def test_sanitize():
    import numpy as np

    assert sanitize({"a": [np.float32(1.5), float("nan")], "b": {"c": np.int64(3), "d": float("inf")}}) == \
        {"a": [1.5, None], "b": {"c": 3, "d": None}}
