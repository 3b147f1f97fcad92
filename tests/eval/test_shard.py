"""Shards + merge give exactly the single-run result."""

from __future__ import annotations

import json

import pytest

from pycsc.errors import DataError, InputError
from pycsc.eval import EvaluateConfig, evaluate
from pycsc.eval.shard import merge_partials, parse_shard, write_partial

from .conftest import GOLDEN, needs_golden, submission_of

CFG = EvaluateConfig(progress=False)


def _shards(args, tmp_path, n):
    paths = []
    for i in range(1, n + 1):
        ev = evaluate(*args, config=CFG, shard=(i, n))
        paths.append(write_partial(ev, tmp_path / f"p{i}.json"))
    return paths


def test_three_shards_merge_to_the_single_run(small_case, tmp_path):
    args = small_case
    single = evaluate(*args, config=CFG)
    paths = _shards(args, tmp_path, 3)
    merged = merge_partials(list(reversed(paths)))
    assert merged.extended == single.extended and merged.public == single.public
    assert [(r.crop, r.label) for r in merged.results] == [(r.crop, r.label) for r in single.results]


@needs_golden
@pytest.mark.parametrize("case", ["g06_missing_labels_crops_extras", "g17_multi_crop_pooling"])
def test_golden_shards_merge_exactly(tmp_path, case):
    folder = GOLDEN / case
    args = (submission_of(folder), folder / "truth.zarr", folder / "manifest.csv")
    single = evaluate(*args, config=CFG)
    merged = merge_partials(_shards(args, tmp_path, 3))
    assert json.dumps(merged.extended) == json.dumps(single.extended)  # bit for bit, key order too


def test_more_shards_than_tasks(small_case, tmp_path):
    single = evaluate(*small_case, config=CFG)
    assert merge_partials(_shards(small_case, tmp_path, 6)).extended == single.extended


def test_merge_checks(small_case, tmp_path):
    p1, p2, p3 = _shards(small_case, tmp_path, 3)
    with pytest.raises(DataError, match="shards 2/3 are missing"):
        merge_partials([p1, p3])
    with pytest.raises(DataError, match="given twice"):
        merge_partials([p1, p1, p2, p3])
    other = json.loads(p2.read_text())
    other["meta"]["total_evals"] = 99
    p2.write_text(json.dumps(other))
    with pytest.raises(DataError, match="different evaluations"):
        merge_partials([p1, p2, p3])
    (tmp_path / "junk.json").write_text("{}")
    with pytest.raises(DataError, match="not a pycsc partial"):
        merge_partials([tmp_path / "junk.json"])


@pytest.mark.parametrize("text", ["0/3", "4/3", "a/b", "3"])
def test_parse_shard_rejects(text):
    with pytest.raises(InputError):
        parse_shard(text)
