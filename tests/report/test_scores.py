"""Results files as report tables: per-class and per-crop scores against numpy oracles."""

import json

import numpy as np
import pytest

from pycsc.errors import InputError
from pycsc.report import load_results


def test_per_crop_scores_match_the_arrays(scored):
    res = load_results(scored["results"]["eroded"])
    oracle = scored["oracle"]
    crop = next(c for c in res.crops if c.crop == "crop901" and c.label == oracle["label"])
    assert crop.kind == "semantic"
    assert crop.iou == pytest.approx(oracle["iou"], rel=1e-12)
    assert crop.dice == pytest.approx(oracle["dice"], rel=1e-12)
    assert 0 < crop.iou < 1
    # every other crop/class of the eroded submission is the truth itself
    others = [c for c in res.crops if (c.crop, c.label) != ("crop901", oracle["label"])]
    assert others and all(c.main == pytest.approx(1.0) for c in others)


def test_class_scores_are_the_published_ones(scored):
    path = scored["results"]["background"]
    public = json.loads(path.read_text())
    extended = json.loads(path.with_name("results_extended.json").read_text())
    res = load_results(path)
    assert res.crop_names == ["crop901", "crop902"]  # the extended file beside results.json was read
    for label, rec in public["label_scores"].items():
        score = res.classes[label]
        if "iou" in rec:
            assert score.kind == "semantic" and score.iou == rec["iou"]
            tp, fp, fn = (extended["label_scores"][label][k] for k in ("tp", "fp", "fn"))
            assert score.dice == pytest.approx(2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else 1.0)
        else:
            assert score.kind == "instance"
            assert (score.f1, score.hausdorff, score.combined) == (
                rec["f1"], rec["normalized_hausdorff_distance"], rec["combined_score"])
    assert res.overall["overall_score"] == public["overall_score"]


def test_instance_crop_scores_follow_the_class_formula(scored):
    ext = json.loads(scored["results"]["background"].with_name("results_extended.json").read_text())
    res = load_results(scored["results"]["background"].with_name("results_extended.json"))
    for c in res.crops:
        if c.kind != "instance":
            continue
        rec = ext[c.crop][c.label]
        tp, fp, fn, n = rec["tp"], rec["fp"], rec["fn"], rec["n_hausdorff"]
        if 2 * tp + fp + fn == 0 and n == 0:
            assert c.combined == 1.0
        else:
            f1 = 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else 0.0
            nh = rec["hausdorff_norm_sum"] / n if n else 0.0
            assert c.combined == pytest.approx(np.sqrt(f1 * nh))


def test_bad_results_files(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_results(tmp_path / "missing.json")
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(InputError, match="not readable JSON"):
        load_results(tmp_path / "x.json")
    (tmp_path / "y.json").write_text('{"scores": 1}')
    with pytest.raises(InputError, match="label_scores"):
        load_results(tmp_path / "y.json")
