"""Scoring against the data layout equals scoring against the evaluation-layout truth store.

`csc simulate --preset tiny` writes the held-out truth in the evaluation layout
(``ground_truth.zarr/crop<N>/<class>``). The test copies it into the data layout with
zarr-python (one multiscale group per class: the truth as s0 plus a coarser s1), scores one
imperfect submission both ways and requires identical results.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import zarr

from pycsc.cli.main import main
from pycsc.data.datasplit import SplitRow, write_datasplit
from pycsc.errors import InputError
from pycsc.eval import evaluate
from pycsc.eval.datalayout import evaluate_on_data, find_truth, parse_crop_ids
from pycsc.io.classes import INSTANCE_CLASSES
from pycsc.simulate import simulate


def _ms_attrs(vs, tr):
    coarse = [v * 2 for v in vs]
    coarse_tr = [t + (c - v) / 2 for t, c, v in zip(tr, coarse, vs)]
    ds = [{"path": "s1", "coordinateTransformations": [{"type": "scale", "scale": coarse},
                                                       {"type": "translation", "translation": coarse_tr}]},
          {"path": "s0", "coordinateTransformations": [{"type": "scale", "scale": list(vs)},
                                                       {"type": "translation", "translation": list(tr)}]}]
    axes = [{"name": a, "type": "space", "unit": "nanometer"} for a in "zyx"]
    return {"multiscales": [{"version": "0.4", "axes": axes, "datasets": ds}]}


def _perturb(label, truth, rng):
    if label in INSTANCE_CLASSES:
        out = truth.copy()
        ids = np.unique(out[out > 0])
        if len(ids):
            out[out == ids[0]] = 0                        # one object missed
        return np.roll(out, 1, axis=2)
    noisy = truth.astype(bool) ^ (rng.random(truth.shape) < 0.05)
    return noisy.astype(np.uint8)


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    root = tmp_path_factory.mktemp("sim")
    result = simulate(root, "tiny", seed=5)
    gt = zarr.open_group(str(result.truth_path), mode="r")
    sub = zarr.open_group(str(root / "submission.zarr"), mode="w", zarr_format=2)
    rng = np.random.default_rng(0)
    for r in result.test_rows:
        truth = gt[f"crop{r.crop_id}/{r.class_label}"][:]
        group_path = (root / r.dataset / f"{r.dataset}.zarr/recon-1/labels/groundtruth"
                      / f"crop{r.crop_id}" / r.class_label)
        g = zarr.open_group(str(group_path), mode="w", zarr_format=2)
        g.attrs.update(_ms_attrs(r.voxel_size, r.translation))
        g.create_array("s0", data=truth, chunks=(8, 8, 8))
        g.create_array("s1", data=truth[::2, ::2, ::2], chunks=(8, 8, 8))
        a = sub.require_group(f"crop{r.crop_id}").create_array(r.class_label, data=_perturb(r.class_label, truth, rng))
        a.attrs.update({"voxel_size": list(r.voxel_size), "translation": list(r.translation)})
    return root, result


def _files(root: Path) -> dict:
    return {p: p.stat().st_mtime_ns for p in root.rglob("*") if "submission" not in str(p) and "out" not in p.parts}


def test_data_layout_scores_equal_truth_store_scores(layout):
    root, result = layout
    crops = sorted({r.crop_id for r in result.test_rows})
    before = _files(root)
    ref = evaluate(root / "submission.zarr", result.truth_path, result.test_manifest).extended
    got = evaluate_on_data(root / "submission.zarr", root, ",".join(map(str, crops))).extended
    assert _files(root) == before                     # nothing written into the data
    ref.pop("git_version"), got.pop("git_version")
    assert got == ref
    assert 0 < ref["overall_score"] < 1
    assert set(ref["label_scores"]) == {r.class_label for r in result.test_rows}


def test_classes_filter_and_datasplit(layout, tmp_path):
    root, result = layout
    crop = result.test_rows[0].crop_id
    ds = result.test_rows[0].dataset
    got = evaluate_on_data(root / "submission.zarr", root, [crop], classes=("mito", "cyto")).extended
    assert set(got["label_scores"]) == {"mito", "cyto"}
    zroot = root / ds / f"{ds}.zarr"
    split = write_datasplit([SplitRow("validate", str(zroot / "recon-1/em/fibsem-uint8"),
                                      str(zroot / f"recon-1/labels/groundtruth/crop{crop}"), ("mito",)),
                             SplitRow("train", str(zroot / "recon-1/em/fibsem-uint8"),
                                      str(zroot / "recon-1/labels/groundtruth/crop1"), ("mito",))],
                            tmp_path / "split.csv")
    via_split = evaluate_on_data(root / "submission.zarr", datasplit=split, classes=("mito", "cyto")).extended
    via_split.pop("git_version"), got.pop("git_version")
    assert via_split == got


def test_cli_matches_the_truth_store(layout, tmp_path):
    root, result = layout
    crops = ",".join(str(c) for c in sorted({r.crop_id for r in result.test_rows}))
    sub = str(root / "submission.zarr")
    assert main(["evaluate", sub, "--truth", str(result.truth_path), "--manifest", str(result.test_manifest),
                 "--output", str(tmp_path / "a.json"), "--no-progress"]) == 0
    assert main(["evaluate", sub, "--truth", str(root), "--crops", crops,
                 "--output", str(tmp_path / "b.json"), "--no-progress"]) == 0
    a, b = (json.loads((tmp_path / n).read_text()) for n in ("a.json", "b.json"))
    a.pop("git_version", None), b.pop("git_version", None)
    assert a == b


def test_errors(layout):
    root, _ = layout
    with pytest.raises(InputError, match="name the crops"):
        find_truth(root)
    with pytest.raises(InputError, match="crop crop77 is not under"):
        find_truth(root, "77")
    with pytest.raises(InputError, match="comma-separated crop ids"):
        parse_crop_ids("12,x")
    assert main(["evaluate", str(root / "submission.zarr"), "--truth", str(root)]) == 2   # no crops named


def test_zarr_v3_annotations_are_copied_not_linked(tmp_path):
    from pycsc import io
    from pycsc.eval.datalayout import build_truth_store

    truth = np.zeros((6, 8, 8), np.uint8)
    truth[1:4, 2:6, 2:7] = 1
    group = tmp_path / "data/ds/ds.zarr/recon-1/labels/groundtruth/crop5/ecs"
    io.ngff.write_multiscale(group, [truth], io.pyramid((8.0, 8.0, 8.0), (4.0, 4.0, 4.0), 1), (4, 4, 4),
                             zarr_format=3)
    sources = find_truth(tmp_path / "data", "5")
    store, _ = build_truth_store(sources, tmp_path / "eval")
    assert not (store / "crop5/ecs").is_symlink() and (store / "crop5/ecs/.zarray").is_file()
    sub = zarr.open_group(str(tmp_path / "sub.zarr"), mode="w", zarr_format=2)
    a = sub.require_group("crop5").create_array("ecs", data=truth)
    a.attrs.update({"voxel_size": [8.0, 8.0, 8.0], "translation": [4.0, 4.0, 4.0]})
    rec = evaluate_on_data(tmp_path / "sub.zarr", tmp_path / "data", "crop5").extended["crop5"]["ecs"]
    assert rec["fp"] == rec["fn"] == 0 and rec["tp"] == int(truth.sum())
