"""One bad label never aborts an evaluation: it gets status "error", a one-line reason and the
penalty of a label that was not submitted; every other label is scored."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pycsc.eval import EvaluateConfig, evaluate

from .conftest import grid, write_array, write_manifest

CFG = EvaluateConfig(progress=False)


def _status(ev):
    return {(r.crop, r.label): r for r in ev.results}


def _break_mito(sub, how):
    arr = sub / "crop1" / "mito"
    if how == "corrupt_chunk":
        (arr / "0.0.0").write_bytes(b"\x00garbage\xff" * 7)
    elif how == "bad_voxel_size":
        (arr / ".zattrs").write_text(json.dumps({"voxel_size": "eight", "translation": [0, 0, 0]}))
    elif how == "bad_zattrs":
        (arr / ".zattrs").write_text("{")
    elif how == "no_dtype":
        meta = json.loads((arr / ".zarray").read_text())
        del meta["dtype"]
        (arr / ".zarray").write_text(json.dumps(meta))
    elif how == "complex_dtype":
        write_array(arr, np.zeros((24, 24, 24), np.complex64), grid())
    elif how == "two_d":
        write_array(arr, np.zeros((24, 24), np.uint32), grid())
    elif how == "oversized":
        write_array(arr, np.zeros((400, 400, 400), np.uint8), grid((0.5, 0.5, 0.5)), chunks=(200, 200, 200))
    return how


@pytest.mark.parametrize("how, reason", [
    ("corrupt_chunk", "corrupt chunk 0.0.0"), ("bad_voxel_size", "voxel_size must be a list of numbers"),
    ("bad_zattrs", "not readable JSON"), ("no_dtype", "malformed"), ("complex_dtype", "bool, integer or float"),
    ("two_d", "2D"), ("oversized", "too large compared to target shape"),
])
def test_bad_label_is_an_error_record(small_case, how, reason):
    truth, sub, manifest = small_case
    good = evaluate(sub, truth, manifest, config=CFG)
    _break_mito(sub, how)
    ev = evaluate(sub, truth, manifest, config=CFG)
    status = _status(ev)
    bad = status[("crop1", "mito")]
    assert bad.status == "error" and reason in bad.reason and "\n" not in bad.reason
    assert ev.exit_code == 1 and [r.label for r in ev.errors] == ["mito"]
    rec = ev.extended["crop1"]["mito"]
    assert rec["status"] == "error" and rec["is_missing"] and rec["fn"] == 6 and rec["n_hausdorff"] == 6
    assert rec["hausdorff_norm_sum"] == 0.0 and reason in rec["error"]
    for key, r in status.items():  # everything else scored exactly as before
        if key != ("crop1", "mito"):
            assert r.status == "scored" and r.record == good.extended[key[0]][key[1]]


def test_manifest_row_missing_for_a_submitted_label(small_case, tmp_path):
    truth, sub, _ = small_case
    manifest = write_manifest(tmp_path / "m.csv", [(c, n, (8.0,) * 3, (0.0,) * 3, (24,) * 3)
                                                   for c in (1, 2) for n in ("mito", "ecs") if (c, n) != (2, "ecs")])
    ev = evaluate(sub, truth, manifest, config=CFG)
    assert [(r.crop, r.label) for r in ev.errors] == [("crop2", "ecs")]
    assert "no test-manifest row" in ev.errors[0].reason
    assert ev.extended["total_evals"] == 3


def test_without_manifest_truth_attributes_are_the_grid(small_case):
    truth, sub, manifest = small_case
    a = evaluate(sub, truth, manifest, config=CFG).extended
    b = evaluate(sub, truth, None, config=CFG).extended
    assert a == b and b["total_evals"] == 4


def test_group_submission_is_missing_with_warning(small_case):
    truth, sub, manifest = small_case
    src = np.zeros((24, 24, 24), np.uint32)
    import shutil

    shutil.rmtree(sub / "crop2" / "mito")
    write_array(sub / "crop2" / "mito" / "s0", src, grid())
    ev = evaluate(sub, truth, manifest, config=CFG)
    r = _status(ev)[("crop2", "mito")]
    assert r.status == "missing" and r.record["is_missing"]
    assert any("submitted as a group" in w for w in ev.warnings)
    assert ev.exit_code == 0


def test_mask_multiplies_truth_and_prediction(small_case):
    truth, sub, manifest = small_case
    mask = np.zeros((24, 24, 24), np.uint8)
    mask[:12] = 1
    write_array(truth / "crop1" / "ecs_mask", mask, grid())
    rows = [(c, n, (8.0,) * 3, (0.0,) * 3, (24,) * 3) for c in (1, 2) for n in ("mito", "ecs")]
    manifest = write_manifest(manifest, rows + [(1, "ecs_mask", (8.0,) * 3, (0.0,) * 3, (24,) * 3)])
    ev = evaluate(sub, truth, manifest, config=CFG)
    t = np.asarray(__import__("zarr").open(str(truth / "crop1" / "ecs"), mode="r")[:]) * mask
    p = np.asarray(__import__("zarr").open(str(sub / "crop1" / "ecs"), mode="r")[:]) * mask
    rec = ev.extended["crop1"]["ecs"]
    assert rec["tp"] == int(np.count_nonzero((t > 0) & (p > 0)))
    assert rec["fn"] == int(np.count_nonzero((t > 0) & ~(p > 0)))
    assert ev.extended["crop1"]["ecs_mask"]["status"] == "missing"


def test_worker_pool_gives_identical_results(small_case):
    truth, sub, manifest = small_case
    one = evaluate(sub, truth, manifest, config=EvaluateConfig(progress=False, workers=1))
    two = evaluate(sub, truth, manifest, config=EvaluateConfig(progress=False, workers=2))
    assert two.run.workers == 2 and one.extended == two.extended
    assert len({r.stats["pid"] for r in two.results}) >= 1


def test_unreadable_truth_array_is_an_error_too(small_case):
    truth, sub, manifest = small_case
    (truth / "crop2" / "mito" / ".zarray").write_text("{broken")
    ev = evaluate(sub, truth, manifest, config=CFG)
    bad = _status(ev)[("crop2", "mito")]
    assert bad.status == "error" and "not readable JSON" in bad.reason
    assert ev.extended["crop2"]["mito"]["fn"] == 0 and ev.extended["label_scores"]["mito"]["tp"] >= 0
