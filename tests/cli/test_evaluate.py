"""``pycsc evaluate`` on the command line: exit codes, files written, summary printed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from pycsc.cli.main import main
from tests.eval.conftest import blobs, grid, write_array, write_manifest


@pytest.fixture
def case(tmp_path):
    truth, sub = tmp_path / "truth.zarr", tmp_path / "sub.zarr"
    rows = []
    for crop in (1, 2):
        mito = blobs(seed=crop)
        ecs = (np.indices((16, 16, 16)).sum(0) % 5 < 2).astype(np.uint8)
        for name, arr in (("mito", mito), ("ecs", ecs)):
            write_array(truth / f"crop{crop}" / name, arr, grid())
            write_array(sub / f"crop{crop}" / name, arr, grid())
            rows.append((crop, name, (8.0,) * 3, (0.0,) * 3, arr.shape))
    return truth, sub, write_manifest(tmp_path / "m.csv", rows)


def _run(argv, capsys):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_scores_and_writes_everything(case, tmp_path, capsys):
    truth, sub, manifest = case
    out = tmp_path / "res" / "results.json"
    code, stdout, _ = _run(["evaluate", str(sub), "--truth", str(truth), "--manifest", str(manifest),
                            "--output", str(out), "--no-progress"], capsys)
    assert code == 0
    assert "overall: instance 1.0000  semantic 1.0000  overall 1.0000  (4 of 4 evaluations)" in stdout
    public = json.loads(out.read_text())
    assert set(public) == {"label_scores", "overall_instance_score", "overall_semantic_score", "overall_score",
                           "total_evals", "num_evals_done", "git_version"}
    ext = json.loads((out.parent / "results_extended.json").read_text())
    assert ext["crop1"]["mito"]["status"] == "scored" and ext["pycsc"]["errors"] == []
    table = pq.read_table(out.parent / "results.parquet").to_pylist()
    assert len(table) == 4 and {r["status"] for r in table} == {"scored"}
    assert all(r["seconds_total"] is not None and r["seconds_load"] is not None for r in table)
    assert (out.parent / "results.config.toml").read_text().count("workers = 0") == 1


def test_bad_label_exits_one_with_summary(case, tmp_path, capsys):
    truth, sub, manifest = case
    (sub / "crop2" / "ecs" / "0.0.0").write_bytes(b"junk")
    code, stdout, _ = _run(["evaluate", str(sub), "-t", str(truth), "-m", str(manifest),
                            "-o", str(tmp_path / "r.json"), "--no-progress"], capsys)
    assert code == 1
    assert "ERRORS (1 labels could not be scored" in stdout and "crop2/ecs: corrupt chunk 0.0.0" in stdout
    table = pq.read_table(tmp_path / "r.parquet").to_pylist()
    bad = [r for r in table if r["status"] == "error"]
    assert len(bad) == 1 and "corrupt chunk" in bad[0]["reason"]


def test_nothing_to_score_exits_two(case, tmp_path, capsys):
    truth, _, manifest = case
    write_array(tmp_path / "other.zarr" / "volume_1" / "mito", np.zeros((2, 2, 2), np.uint8))
    code, _, err = _run(["evaluate", str(tmp_path / "other.zarr"), "-t", str(truth), "-m", str(manifest),
                         "-o", str(tmp_path / "r.json")], capsys)
    assert code == 2 and err.startswith("csc evaluate: error: No volumes found to score")
    assert not (tmp_path / "r.json").exists()


def test_missing_arguments(case, capsys):
    assert _run(["evaluate", "x.zip"], capsys)[0] == 2
    assert _run(["evaluate"], capsys)[0] == 2


def test_config_file_and_flags(case, tmp_path, capsys):
    truth, sub, manifest = case
    cfg = tmp_path / "evaluate.toml"
    cfg.write_text(f'truth = "{truth}"\nmanifest = "{manifest}"\noutput = "{tmp_path / "c.json"}"\n'
                   "workers = 1\nprogress = false\n")
    code, _, _ = _run(["evaluate", str(sub), "--config", str(cfg)], capsys)
    assert code == 0 and (tmp_path / "c.json").exists()
    cfg.write_text("bogus_key = 1\n")
    code, _, err = _run(["evaluate", str(sub), "--config", str(cfg)], capsys)
    assert code == 2 and "unknown key 'bogus_key'" in err


def test_repository_config_is_valid():
    from pycsc.config import resolve
    from pycsc.eval import EvaluateConfig

    cfg = resolve(EvaluateConfig, Path(__file__).resolve().parents[2] / "configs" / "evaluate.toml")
    assert cfg == EvaluateConfig()


def test_shard_and_merge_on_the_command_line(case, tmp_path, capsys):
    truth, sub, manifest = case
    out = tmp_path / "o" / "results.json"
    common = ["-t", str(truth), "-m", str(manifest), "-o", str(out), "--no-progress"]
    assert _run(["evaluate", str(sub), *common], capsys)[0] == 0
    single = json.loads((out.parent / "results_extended.json").read_text())
    for i in (1, 2, 3):
        code, stdout, _ = _run(["evaluate", str(sub), *common, "--shard", f"{i}/3"], capsys)
        assert code == 0 and f"shard {i}/3" in stdout
    parts = sorted(str(p) for p in out.parent.glob("results.shard*of3.json"))
    assert len(parts) == 3
    merged_out = tmp_path / "m" / "results.json"
    assert _run(["evaluate", "--merge", *parts, "-o", str(merged_out)], capsys)[0] == 0
    merged = json.loads((merged_out.parent / "results_extended.json").read_text())
    merged.pop("pycsc"), single.pop("pycsc")
    assert merged == single


def test_help_lists_evaluate():
    out = subprocess.run([sys.executable, "-m", "pycsc", "evaluate", "--help"], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0 and "--shard i/N" in out.stdout and "--merge" in out.stdout


def test_table_types_and_empty_table(tmp_path):
    from pycsc.eval.results import write_table
    from pycsc.eval.tasks import TaskResult

    r = TaskResult("crop1", "mito", {"tp": 1, "fp": 0, "fn": 2, "hausdorff_norm_sum": 0.1 + 0.2, "n_hausdorff": 3},
                   "scored", kind="instance", timings={"total": 1.5}, stats={"source_shape": [2, 3, 4]})
    write_table(tmp_path / "t.parquet", [r])
    (row,) = pq.read_table(tmp_path / "t.parquet").to_pylist()
    assert row["hausdorff_norm_sum"] == 0.1 + 0.2 and row["source_shape"] == [2, 3, 4] and row["seconds_load"] is None
    write_table(tmp_path / "e.parquet", [])
    assert pq.read_table(tmp_path / "e.parquet").num_rows == 0
