"""Parity with the official evaluator on NaN predictions and float truth ids (issue 15).

The cases are built by tests/eval/parity_cases.py; the expected records come from running the
official ``score_label`` on the same files (tools/official_parity.py, official commit in the
JSON). The "blocks" cases use a 33-voxel block edge in both evaluators.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pycsc.eval import EvaluateConfig, evaluate
from pycsc.eval import align

from . import parity_cases as pc

EXPECTED = json.loads((Path(__file__).parent / "data" / "parity_expected.json").read_text())["cases"]
KEYS = ("tp", "fp", "fn", "hausdorff_norm_sum", "n_hausdorff", "status")


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    root = tmp_path_factory.mktemp("parity")
    truth, sub, manifest = pc.build(root)
    mp = pytest.MonkeyPatch()
    # Only the blocks cases' sources (80^3 float32, ~2 MB) exceed this; see parity_cases.
    mp.setattr(align, "CHUNKED_THRESHOLD_MB", 1.0)
    mp.setattr(align, "BLOCK_EDGE", pc.SMALL_BLOCK_EDGE)
    try:
        ev = evaluate(sub, truth, manifest, config=EvaluateConfig(progress=False, workers=1, check_nans=True))
    finally:
        mp.undo()
    return ev


@pytest.mark.parametrize("name", sorted(pc.CASES))
def test_record_equals_official(scored, name):
    case = pc.CASES[name]
    got = scored.extended[f"crop{case.crop}"][case.label]
    want = EXPECTED[name]["record"]
    assert {k: got[k] for k in want} == pytest.approx(want, rel=1e-12, abs=0)
    assert set(want) == {k for k in KEYS if k in got}


@pytest.mark.parametrize("name", sorted(n for n in pc.CASES if EXPECTED[n]["nan_counts"]))
def test_check_nans_warns_with_the_official_counts(scored, name):
    case = pc.CASES[name]
    result = next(r for r in scored.results if r.crop == f"crop{case.crop}" and r.label == case.label)
    counts = [int(w.split(": ")[1].split(" ")[0]) for w in result.warnings if "NaN value(s)" in w]
    assert counts == EXPECTED[name]["nan_counts"]


def test_nans_are_not_counted_by_default(tmp_path):
    truth, sub, manifest = pc.build(tmp_path)
    ev = evaluate(sub, truth, manifest, config=EvaluateConfig(progress=False, workers=1))
    assert not any("NaN value(s)" in w for w in ev.warnings)
    assert ev.extended["crop1"]["ecs"]["tp"] == EXPECTED["nan_semantic_native"]["record"]["tp"]
