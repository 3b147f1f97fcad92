"""Instance and semantic scoring of one label: the official test vectors (evaluation.md §14)
and the id-collision quirk (B3)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pycsc.eval.instance import (as_component_input, max_distance, missing_instance, normalize_distances,
                                 score_instance)
from pycsc.eval.semantic import missing_semantic, semantic_counts


def test_identical_2d_labels():
    t = np.array([[0, 1, 1], [0, 2, 2]], np.uint32)
    r = score_instance(t.copy(), t, (1.0, 1.0))
    assert (r["tp"], r["fp"], r["fn"], r["n_hausdorff"], r["hausdorff_norm_sum"]) == (2, 0, 0, 2, 2.0)


def test_shift_by_one_voxel():
    t = np.array([[1, 1, 0], [0, 0, 0], [0, 0, 0]], np.uint32)
    p = np.array([[0, 1, 1], [0, 0, 0], [0, 0, 0]], np.uint32)
    r = score_instance(p, t, (1.0, 1.0))
    assert r["tp"] == 1 and math.isclose(r["hausdorff_norm_sum"], 1.01 ** (-1 / math.sqrt(2)), rel_tol=1e-7)


@pytest.mark.parametrize("pred_ids, truth_ids, expected", [
    ((1, 2), (), (0, 2, 0, 2)),        # all false positives
    ((), (1, 2), (0, 0, 2, 2)),        # all false negatives
    ((), (), (0, 0, 0, 0)),            # both empty
    ((1, 2, 9), (1, 2, 3), (2, 1, 1, 4)),  # 2 matched, 1 spurious, 1 missed
])
def test_counts(pred_ids, truth_ids, expected):
    shape = (1, 4, 40)
    t = np.zeros(shape, np.uint32)
    p = np.zeros(shape, np.uint32)
    for k, i in enumerate(truth_ids):
        t[0, :2, 10 * k:10 * k + 3] = i
    for k, i in enumerate(pred_ids):
        x = 10 * k if i != 9 else 35
        p[0, :2, x:x + 3] = i
    r = score_instance(p, t, (1.0, 1.0, 1.0))
    assert (r["tp"], r["fp"], r["fn"], r["n_hausdorff"]) == expected
    cap = max_distance((1.0, 1.0, 1.0), shape)
    n_cap = expected[1] + expected[2]
    assert math.isclose(r["hausdorff_norm_sum"], expected[0] + n_cap * 1.01 ** (-cap / math.sqrt(3)), rel_tol=1e-6)


def test_unmatched_component_colliding_with_truth_id():
    """B3: GT {2 at x0-2, 1 at x10-12}; pred components x0-2, x6, x10-12 -> mapping {1->2, 3->1};
    component 2 keeps id 2, so GT 2's Hausdorff distance becomes 4 instead of 0."""
    t = np.zeros((10, 10, 14), np.uint32)
    t[0, 0, 0:3], t[0, 0, 10:13] = 2, 1
    p = np.zeros_like(t)
    p[0, 0, 0:3], p[0, 0, 6], p[0, 0, 10:13] = 5, 5, 5
    stats = {}
    r = score_instance(p, t, (1.0, 1.0, 1.0), stats=stats)
    cap = max_distance((1.0, 1.0, 1.0), t.shape)  # 5.0
    norm = lambda d: 1.01 ** (-d / math.sqrt(3))  # noqa: E731
    assert (r["tp"], r["fp"], r["fn"]) == (2, 1, 0) and stats["collisions"] == 1
    # GT 1: distance 0; GT 2 vs {x0-2, x6}: 4 capped at 0.5; the unmatched component: the cap
    assert math.isclose(r["hausdorff_norm_sum"], norm(0) + norm(4) + norm(cap), rel_tol=1e-7)


def test_ratio_gate_skips_the_crop():
    t = np.zeros((1, 3, 200), np.uint32)
    t[0, 0, :2] = 1
    p = np.zeros_like(t)
    p[0, 2, ::2] = 1  # 100 separate components for 1 truth object
    r = score_instance(p, t, (1.0, 1.0, 1.0))
    assert r == {"tp": 0, "fp": 0, "fn": 0, "hausdorff_norm_sum": 0.0, "n_hausdorff": 0,
                 "status": "skipped_too_many_instances"}


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int32", "uint64", "float32", "float64"])
def test_prediction_dtypes(dtype):
    t = np.zeros((2, 4, 12), np.uint32)
    t[:, :2, :3], t[:, :2, 6:9] = 1, 2
    p = (t > 0) if dtype == "bool" else (t * 3).astype(dtype)
    r = score_instance(p, t, (1.0, 1.0, 1.0))
    assert (r["tp"], r["fp"], r["fn"]) == (2, 0, 0)


def test_float_ids_become_codes_with_zero_background():
    a = np.array([[0.0, 0.5, 0.5, -0.0, 2.25]], np.float32)
    codes = as_component_input(a)
    assert codes.dtype.kind in "iu" and codes[0, 0] == 0 and codes[0, 3] == 0
    assert codes[0, 1] == codes[0, 2] != codes[0, 4] != 0
    assert as_component_input(np.array([1.0, 0.0])).dtype == np.int64


def test_normalisation():
    assert normalize_distances(np.array([0.0, np.inf]), (1.0, 1.0, 1.0)).tolist() == [1.0, 0.0]


def test_semantic_counts_and_missing():
    assert semantic_counts(np.array([[0, 1], [1, 1]]), np.array([[0, 1], [0, 1]])) == \
        {"tp": 2, "fp": 1, "fn": 0, "status": "scored"}
    p = np.array([np.nan, 0.2, -1.0, np.inf], np.float32)
    assert semantic_counts(p, np.array([1, 1, 1, 0], np.uint8)) == {"tp": 1, "fp": 1, "fn": 2, "status": "scored"}
    assert missing_semantic((2, 3, 4))["fn"] == 24
    t = np.zeros((3, 3, 3), np.uint64)
    t[0, 0, 0], t[2, 2, 2], t[1, 1, 1] = 7, 2 ** 40, 7
    assert missing_instance(t) == {"tp": 0, "fp": 0, "fn": 2, "hausdorff_norm_sum": 0.0, "n_hausdorff": 2}


def test_relabel_follows_memory_order_like_cc3d(rng):
    """cc3d numbers components in memory order: a Fortran-ordered array (what zarr 2 returns for
    an array stored with order "F") gets another numbering than the same C-ordered array."""
    import cc3d

    from pycsc.eval.instance import relabel

    a = (rng.random((9, 10, 11)) > 0.8).astype(np.uint16) * rng.integers(1, 4, (9, 10, 11)).astype(np.uint16)
    for order in ("C", "F"):
        want = cc3d.connected_components(np.asarray(a, order=order), connectivity=26)
        got, n = relabel(a, order)
        assert np.array_equal(got, want) and n == int(want.max())
    assert not np.array_equal(relabel(a, "C")[0], relabel(a, "F")[0])


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.uint64])
@pytest.mark.parametrize("seed", range(5))
def test_in_place_remap_equals_fastremap(dtype, seed):
    import fastremap

    from pycsc.eval.instance import remap_components

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 250))
    comps = rng.integers(0, n + 1, (7, 8, 9)).astype(dtype)
    keys = rng.choice(np.arange(1, n + 1), size=int(rng.integers(1, n + 1)), replace=False)
    top = 250 if dtype == np.uint8 else 70000
    mapping = {int(k): int(rng.integers(1, top)) for k in keys}
    mapping[0] = 0
    want = fastremap.remap(comps.copy(), mapping, preserve_missing_labels=True)
    got = remap_components(comps.copy(), dict(mapping), n, in_place_min_voxels=0)
    np.testing.assert_array_equal(got.astype(np.uint64), want.astype(np.uint64))


@pytest.mark.parametrize("dtype", [np.uint16, np.uint32, np.uint64, np.int32, np.float32, np.bool_])
@pytest.mark.parametrize("order", ["C", "F"])
def test_narrow_ids_keeps_values_and_layout(dtype, order):
    from pycsc.eval.instance import narrow_ids

    for top in (0, 200, 60000, 70000):
        a = np.asfortranarray(np.array([[0, top], [3, 1]]).astype(dtype)) if order == "F" else \
            np.array([[0, top], [3, 1]]).astype(dtype)
        got = narrow_ids(a)
        np.testing.assert_array_equal(got, a)
        assert got.flags.f_contiguous == a.flags.f_contiguous
        if np.dtype(dtype).kind == "u":
            want = np.uint8 if top <= 255 else np.uint16 if top <= 65535 else np.uint32
            assert got.dtype == np.dtype(want) or got.dtype.itemsize == a.dtype.itemsize <= np.dtype(want).itemsize
        else:
            assert got is a
