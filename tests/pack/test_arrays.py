"""numpy -> submission helpers: the simulated hidden truth, written through the helpers,
packed and scored by the evaluator, must get a perfect score; bad arrays fail clearly."""

import numpy as np
import pytest
import zarr

from pycsc.config import PackConfig
from pycsc.errors import DataError
from pycsc.eval import score_submission
from pycsc.pack import (add_to_submission, check_array, pack, write_class_labels, write_prediction,
                        zip_submission)
from pycsc.simulate import simulate


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    root = tmp_path_factory.mktemp("sim")
    result = simulate(root, "tiny", seed=1)
    gt = zarr.open_group(str(result.truth_path), mode="r")
    truth = {(r.crop_id, r.class_label): gt[f"crop{r.crop_id}/{r.class_label}"][:] for r in result.test_rows}
    return result, truth


def _perfect(scores, classes=None):
    labels = scores["label_scores"]
    for label in classes or labels:
        rec = labels[label]
        assert rec.get("combined_score", rec.get("iou")) == 1.0, (label, rec)


def test_write_prediction_then_csc_pack_scores_perfect(sim, tmp_path):
    result, truth = sim
    out = str(tmp_path / "processed/{dataset}.zarr/{crop}")
    for r in result.test_rows:
        a = truth[(r.crop_id, r.class_label)]
        if r.class_label == "cell":    # an instance class on a 2x finer grid: pack resamples it
            a = a.repeat(2, 0).repeat(2, 1).repeat(2, 2)
            vs = tuple(v / 2 for v in r.voxel_size)
            tr = tuple(t - v / 4 for t, v in zip(r.translation, r.voxel_size))
        else:
            vs, tr = r.voxel_size, r.translation
        write_prediction(a, r.crop_id, r.class_label, vs, tr, output=out, manifest=result.test_manifest)
    pack(PackConfig(input=out, manifest=result.test_manifest, output=tmp_path / "sub.zip"))
    scores = score_submission(tmp_path / "sub.zip", result.truth_path, result.test_manifest)
    _perfect(scores)
    assert scores["overall_score"] == 1.0


def test_add_to_submission_and_zip_scores_perfect(sim, tmp_path):
    result, truth = sim
    sub = tmp_path / "submission.zarr"
    for r in result.test_rows:
        bool_or_ids = truth[(r.crop_id, r.class_label)]
        if r.class_label == "ecs":
            bool_or_ids = bool_or_ids.astype(bool)
        add_to_submission(sub, bool_or_ids, f"crop{r.crop_id}", r.class_label, r.voxel_size, r.translation,
                          manifest=result.test_manifest)
    path = zip_submission(sub, manifest=result.test_manifest)
    scores = score_submission(path, result.truth_path, result.test_manifest)
    assert scores["overall_score"] == 1.0


def test_class_label_map(sim, tmp_path):
    result, truth = sim
    r = next(r for r in result.test_rows if r.class_label == "golgi")
    t = {c: truth[(r.crop_id, c)].astype(bool) for c in ("ecs", "pm", "cyto", "golgi_mem", "golgi_lum")}
    labels = np.zeros(t["ecs"].shape, np.uint16)
    for name, cid in (("ecs", 1), ("pm", 2), ("cyto", 35), ("golgi_mem", 6), ("golgi_lum", 7)):
        assert not (labels[t[name]]).any()       # the atomic classes are disjoint
        labels[t[name]] = cid
    classes = ("ecs", "pm", "cyto", "golgi")
    out = str(tmp_path / "p/{dataset}.zarr/{crop}")
    write_class_labels(labels, r.crop_id, r.voxel_size, r.translation, classes, output=out,
                       manifest=result.test_manifest)
    pack(PackConfig(input=out, manifest=result.test_manifest, output=tmp_path / "s.zip", missing="skip"))
    scores = score_submission(tmp_path / "s.zip", result.truth_path, result.test_manifest)
    records = scores[f"crop{r.crop_id}"]      # per crop: the classes of the other crop are missing
    assert all(records[c]["fp"] == records[c]["fn"] == 0 < records[c]["tp"] for c in classes)


def test_validation_errors(sim, tmp_path):
    result, truth = sim
    r = next(r for r in result.test_rows if r.class_label == "cyto")
    a = truth[(r.crop_id, "cyto")]
    m = result.test_manifest
    with pytest.raises(DataError, match="not a scored pair"):
        check_array(a, r.crop_id, "vim", r.voxel_size, r.translation, m)
    with pytest.raises(DataError, match="threshold probabilities first"):
        check_array(a.astype(np.float32), r.crop_id, "cyto", r.voxel_size, r.translation, m)
    with pytest.raises(DataError, match="values must be 0/1"):
        check_array(a * 3, r.crop_id, "cyto", r.voxel_size, r.translation, m)
    with pytest.raises(DataError, match=r"needs shape .*axes z, y, x"):
        check_array(a[:, :, :-2], r.crop_id, "cyto", r.voxel_size, r.translation, m)
    with pytest.raises(DataError, match="3D"):
        check_array(a[0], r.crop_id, "cyto", r.voxel_size, r.translation, m)
    sub = tmp_path / "partial.zarr"
    add_to_submission(sub, a, r.crop_id, "cyto", r.voxel_size, r.translation, manifest=m)
    with pytest.raises(DataError, match="have no array"):
        zip_submission(sub, manifest=m)
    path = zip_submission(sub, tmp_path / "partial.zip", manifest=m, missing="empty")
    scores = score_submission(path, result.truth_path, m)
    rec = scores[f"crop{r.crop_id}"]["cyto"]
    assert rec["fp"] == rec["fn"] == 0 < rec["tp"]


def test_pack_defaults_to_the_shipped_manifest(tmp_path):
    with pytest.raises(DataError, match=r"413 of 413 manifest \(crop, class\) pairs"):
        pack(PackConfig(input=str(tmp_path / "none/{dataset}.zarr/{crop}"), output=tmp_path / "s.zip"))
