"""pycsc.ops.optimal_matching / match_instances against the official OR-Tools network."""

import numpy as np
import pytest

from pycsc.errors import TooManyInstancesError, TooManyOverlapEdgesError
from pycsc.ops import match_instances, optimal_matching

min_cost_flow = pytest.importorskip("ortools.graph.python.min_cost_flow")

S = 1_000_000


# ---------------------------------------------------------------- oracles


def ortools_matching(truth_ids, pred_ids, iou, cost_scale=S, n_truth=None, n_pred=None):
    """The official network (evaluation.md 7.3 step 5) on ids ranked to 1..nG / 1..nP.

    Returns ({pred_id: truth_id}, optimal_cost) in the original ids.
    """
    truths, t = np.unique(np.asarray(truth_ids, np.uint64), return_inverse=True)
    preds, p = np.unique(np.asarray(pred_ids, np.uint64), return_inverse=True)
    n_g = len(truths) if n_truth is None else n_truth
    n_p = len(preds) if n_pred is None else n_pred
    order = np.argsort(t.astype(np.int64) * n_p + p, kind="stable")  # ascending official key
    t, p, iou = t[order], p[order], np.asarray(iou, np.float32)[order]
    gt0, pred0, sink = 1, 1 + n_g, 1 + n_g + n_p
    g_nodes, p_nodes = np.arange(gt0, pred0), np.arange(pred0, sink)
    costs = [int((1.0 - float(v)) * cost_scale) for v in iou]
    tails = np.concatenate([np.zeros(n_g, int), g_nodes, gt0 + t, p_nodes])
    heads = np.concatenate([g_nodes, np.full(n_g, sink), pred0 + p, np.full(n_p, sink)])
    unit_costs = np.concatenate([np.zeros(n_g, int), np.full(n_g, cost_scale + 1), costs, np.zeros(n_p, int)])
    mcf = min_cost_flow.SimpleMinCostFlow()
    mcf.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int32), heads.astype(np.int32), np.ones(len(tails), np.int64), unit_costs.astype(np.int64)
    )
    mcf.set_node_supply(0, n_g)
    mcf.set_node_supply(sink, -n_g)
    assert mcf.solve() == mcf.OPTIMAL
    first = 2 * n_g
    flows = mcf.flows(np.arange(first, first + len(t)))
    mapping = {int(preds[p[k]]): int(truths[t[k]]) for k in np.flatnonzero(flows == 1)}
    return mapping, mcf.optimal_cost()


def objective(mapping, truth_ids, pred_ids, iou, cost_scale=S):
    """The official objective of a {pred: truth} mapping; checks it is a matching of edges."""
    cost = {(int(a), int(b)): int((1.0 - float(v)) * cost_scale) for a, b, v in zip(truth_ids, pred_ids, np.float32(iou))}
    assert len(set(mapping.values())) == len(mapping), "a truth id is matched twice"
    n_truth = len(set(int(a) for a in truth_ids))
    return sum(cost[(t, p)] for p, t in mapping.items()) + (n_truth - len(mapping)) * (cost_scale + 1)


def as_mapping(truth, pred):
    assert truth.dtype == pred.dtype == np.uint64
    assert np.all(np.diff(pred.astype(np.float64)) > 0) or pred.size < 2
    return dict(zip(pred.tolist(), truth.tolist()))


# ---------------------------------------------------------------- graph generators


def random_graph(rng, n_truth, n_pred, n_edges, iou_values=None):
    n_edges = min(n_edges, n_truth * n_pred)
    keys = rng.choice(n_truth * n_pred, n_edges, replace=False)
    t, p = keys // n_pred + 1, keys % n_pred + 1
    return t, p, draw_iou(rng, n_edges, iou_values)


def draw_iou(rng, n, values=None):
    if values is not None:
        return np.asarray(rng.choice(values, n), np.float32)
    return np.maximum(rng.random(n, dtype=np.float32), np.float32(1e-6))


def crop_like_graph(rng, n_truth):
    """performance.md 6.2: nP = 1.3 nG, one primary prediction, 40 % with 1-2 extra neighbours."""
    n_pred = int(1.3 * n_truth)
    primary = rng.permutation(n_pred)[:n_truth]
    t, p, v = [np.arange(n_truth)], [primary], [rng.uniform(0.3, 0.95, n_truth)]
    extra = np.flatnonzero(rng.random(n_truth) < 0.4)
    for k in (1, 2):
        rows = extra if k == 1 else extra[rng.random(extra.size) < 0.5]
        t.append(rows)
        p.append(rng.integers(0, n_pred, rows.size))
        v.append(rng.uniform(0.01, 0.45, rows.size))
    t, p, v = np.concatenate(t), np.concatenate(p), np.concatenate(v)
    _, first = np.unique(t * n_pred + p, return_index=True)
    return t[first] + 1, p[first] + 1, v[first].astype(np.float32)


def dense_components(rng, n_comp, iou_values=None):
    t, p, offset_t, offset_p = [], [], 0, 0
    for _ in range(n_comp):
        a, b = rng.integers(1, 6, 2)
        mask = rng.random((a, b)) < 0.8
        mask[0, 0] = True
        ti, pi = np.nonzero(mask)
        t.append(ti + offset_t + 1)
        p.append(pi + offset_p + 1)
        offset_t, offset_p = offset_t + a, offset_p + b
    t, p = np.concatenate(t), np.concatenate(p)
    return t, p, draw_iou(rng, t.size, iou_values)


def chain(rng, n):
    """Truth i overlaps predictions i and i+1: one long component of 2n+1 nodes."""
    t = np.repeat(np.arange(1, n + 1), 2)
    p = t + np.tile([0, 1], n)
    return t, p, draw_iou(rng, t.size)


def stars(rng):
    """One truth with many predictions and one prediction with many truths."""
    t = np.concatenate([np.full(30, 1), np.arange(2, 32)])
    p = np.concatenate([np.arange(1, 31), np.full(30, 31)])
    return t, p, draw_iou(rng, t.size)


def scatter_ids(rng, ids, order_preserving):
    """Map 1..n to distinct large uint64 ids (up to 2**64 - 1)."""
    n = int(ids.max()) if ids.size else 0
    big = np.unique(rng.integers(0, 2**63, 4 * n + 8, dtype=np.uint64) * np.uint64(2) + np.uint64(1))[: n + 1]
    big[-1] = np.uint64(2**64 - 1)
    big = np.sort(big) if order_preserving else rng.permutation(big)
    return big[ids - 1] if ids.size else ids.astype(np.uint64)


GRAPHS = {
    "empty": lambda rng: (np.zeros(0, int), np.zeros(0, int), np.zeros(0, np.float32)),
    "one_edge": lambda rng: (np.array([3]), np.array([9]), np.float32([0.25])),
    "tiny": lambda rng: random_graph(rng, 3, 3, 5),
    "sparse_100": lambda rng: random_graph(rng, 60, 80, 90),
    "dense_30": lambda rng: random_graph(rng, 15, 15, 200),
    "random_2000": lambda rng: random_graph(rng, 900, 1100, 1800),
    "crop_like_800": lambda rng: crop_like_graph(rng, 800),
    "dense_components": lambda rng: dense_components(rng, 150),
    "chain_600": lambda rng: chain(rng, 600),
    "stars": stars,
}


# ---------------------------------------------------------------- optimal_matching vs OR-Tools


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("kind", sorted(GRAPHS))
def test_tie_free_graphs_match_ortools(kind, seed):
    rng = np.random.default_rng(seed)
    t, p, iou = GRAPHS[kind](rng)
    ours = as_mapping(*optimal_matching(t, p, iou))
    expected, expected_cost = ortools_matching(t, p, iou)
    assert objective(ours, t, p, iou) == expected_cost
    assert ours == expected


@pytest.mark.parametrize("order_preserving", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_large_noncontiguous_uint64_ids(seed, order_preserving):
    rng = np.random.default_rng(100 + seed)
    t, p, iou = crop_like_graph(rng, 400)
    t, p = scatter_ids(rng, t, order_preserving), scatter_ids(rng, p, order_preserving)
    ours = as_mapping(*optimal_matching(t, p, iou))
    assert ours == ortools_matching(t, p, iou)[0]


@pytest.mark.parametrize("cost_scale", [1, 7, 1000, S, 2**32 - 1])
@pytest.mark.parametrize("seed", range(3))
def test_cost_scales_objective(cost_scale, seed):
    rng = np.random.default_rng(200 + seed)
    t, p, iou = random_graph(rng, 40, 50, 120)
    ours = as_mapping(*optimal_matching(t, p, iou, cost_scale=cost_scale))
    assert objective(ours, t, p, iou, cost_scale) == ortools_matching(t, p, iou, cost_scale)[1]


@pytest.mark.parametrize("values", [(0.5,), (0.25, 0.5), (0.1, 0.2, 0.5, 1.0), (1 / 3, 2 / 3)])
@pytest.mark.parametrize("seed", range(5))
def test_tie_rich_graphs_reach_ortools_optimum(values, seed):
    rng = np.random.default_rng(300 + seed)
    for t, p, iou in (
        random_graph(rng, 120, 150, 300, values),
        dense_components(rng, 60, values),
    ):
        ours = as_mapping(*optimal_matching(t, p, iou))
        assert objective(ours, t, p, iou) == ortools_matching(t, p, iou)[1]


def test_large_component_is_solved_exactly():
    # One component of ~10^4 nodes (random bipartite graph of mean degree 3).
    rng = np.random.default_rng(7)
    t, p, iou = random_graph(rng, 4500, 5500, 13500)
    ours = as_mapping(*optimal_matching(t, p, iou))
    expected, expected_cost = ortools_matching(t, p, iou)
    assert objective(ours, t, p, iou) == expected_cost
    assert ours == expected


def test_edge_order_does_not_change_the_result():
    rng = np.random.default_rng(11)
    t, p, iou = random_graph(rng, 50, 60, 200, (0.2, 0.5))
    first = optimal_matching(t, p, iou)
    perm = rng.permutation(t.size)
    second = optimal_matching(t[perm], p[perm], iou[perm])
    assert all(np.array_equal(a, b) for a, b in zip(first, second))


def test_documented_tie_rule():
    # A truth object split into two equal halves takes the lower prediction id ...
    assert as_mapping(*optimal_matching([4, 4], [9, 8], [0.4, 0.4])) == {8: 4}
    # ... and a prediction covering two truth objects equally goes to the higher truth id.
    assert as_mapping(*optimal_matching([6, 5], [1, 1], [0.4, 0.4])) == {1: 6}


def test_quantisation_follows_the_official_truncation():
    # 1 - 0.7f = 0.30000001192..., * 10 = 3.0000001 -> 3, so w = 11 - 3 = 8 on both edges below;
    # IoUs differing by less than 1/S tie exactly.
    iou = np.float32([0.7, 0.70000005, 0.7])
    t, p = [1, 1, 2], [1, 2, 2]
    ours = as_mapping(*optimal_matching(t, p, iou, cost_scale=10))
    assert objective(ours, t, p, iou, 10) == ortools_matching(t, p, iou, 10)[1] == 6


@pytest.mark.parametrize("cost_scale", [S, 2**32 - 1])
def test_tiny_iou_costs_exactly_the_scale(cost_scale):
    # 1.0 - 1e-30 == 1.0 in float64: cost S, weight 1, still better than leaving truth unmatched.
    t, p, iou = [1, 2, 2], [1, 1, 2], np.float32([1e-30, 1e-20, 1e-30])
    ours = as_mapping(*optimal_matching(t, p, iou, cost_scale=cost_scale))
    expected, cost = ortools_matching(t, p, iou, cost_scale)
    assert objective(ours, t, p, iou, cost_scale) == cost == 2 * cost_scale
    assert len(ours) == 2


def test_float64_iou_is_cast_to_float32():
    truth, pred = optimal_matching([1, 1], [1, 2], np.array([0.5 + 1e-12, 0.5]))
    assert truth.tolist() == [1] and pred.tolist() == [1]


# ---------------------------------------------------------------- match_instances


def official_match_instances(gt, pred, max_edges=5_000_000, cost_scale=S):
    """Official steps 1-5 in numpy + OR-Tools (independent of pycsc)."""
    g, p = gt.ravel(), pred.ravel()
    n_g, n_p = (int(g.max()) if g.size else 0), (int(p.max()) if p.size else 0)
    if n_g == 0 and n_p == 0:
        return {0: 0}, None
    if n_g == 0 or n_p == 0:
        return {}, None
    fg = (g > 0) & (p > 0)
    gt_sizes = np.bincount(g[g > 0].astype(np.int64) - 1, minlength=n_g)
    pr_sizes = np.bincount(p[p > 0].astype(np.int64) - 1, minlength=n_p)
    key = (g[fg].astype(np.uint64) - 1) * np.uint64(n_p) + (p[fg].astype(np.uint64) - 1)
    keys, counts = np.unique(key, return_counts=True)
    assert keys.size <= max_edges
    if keys.size == 0:
        return {}, None
    rows, cols = (keys // np.uint64(n_p)).astype(np.int64), (keys % np.uint64(n_p)).astype(np.int64)
    iou = (counts / (gt_sizes[rows] + pr_sizes[cols] - counts)).astype(np.float32)
    mapping, cost = ortools_matching(rows + 1, cols + 1, iou, cost_scale, n_g, n_p)
    # Objective of a mapping in this network: isolated truth ids cost S + 1 each too.
    isolated = (n_g - np.unique(rows).size) * (cost_scale + 1)
    return mapping, lambda m: objective(m, rows + 1, cols + 1, iou, cost_scale) + isolated == cost


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(6))
def test_float_truth_with_whole_ids_matches_official(dtype, seed):
    """The official takes float truth ids as they are (max, bincount of astype(int64))."""
    rng = np.random.default_rng(seed)
    truth = random_labels(rng, (6, 7, 8), 5, np.int64)
    pred = random_labels(rng, (6, 7, 8), 6, np.uint16)
    want, _ = official_match_instances(truth.astype(dtype), pred)
    assert match_instances(truth.astype(dtype), pred) == want


def random_labels(rng, shape, n_labels, dtype):
    """Blocky random labels (2-voxel blocks), so objects overlap partially."""
    labels = rng.integers(0, n_labels + 1, [(s + 1) // 2 for s in shape])
    for axis in range(len(shape)):
        labels = np.repeat(labels, 2, axis=axis)
    return labels[tuple(slice(0, s) for s in shape)].astype(dtype)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.uint64, np.int32, np.int64])
@pytest.mark.parametrize("shape", [(1,), (7,), (1, 9), (6, 5), (4, 5, 6), (9, 8, 7)])
def test_match_instances_matches_official(shape, dtype):
    rng = np.random.default_rng(sum(shape) + np.dtype(dtype).itemsize)
    gt = random_labels(rng, shape, 5, dtype)
    pred = random_labels(rng, shape, 6, dtype)
    ours = match_instances(gt, pred, final_instance_ratio_cutoff=1e9)
    expected, is_optimal = official_match_instances(gt, pred)
    if is_optimal is None:
        assert ours == expected
    else:
        assert is_optimal(ours)


@pytest.mark.parametrize("layout", ["fortran", "strided"])
def test_match_instances_memory_layouts(layout):
    rng = np.random.default_rng(5)
    gt = random_labels(rng, (8, 10, 12), 9, np.uint32)
    pred = random_labels(rng, (8, 10, 12), 9, np.uint32)
    if layout == "fortran":
        a, b = np.asfortranarray(gt), np.asfortranarray(pred)
    else:
        a, b = gt[::2, :, ::3], pred[::2, :, ::3]
        gt, pred = a.copy(), b.copy()
    assert match_instances(a, b) == match_instances(gt, pred)


def test_official_vectors():
    # Non-sequential ids: GT {1, 5}, pred {1, 7} -> {1: 1, 7: 5}.
    gt, pred = np.array([[1, 1, 0, 5, 5]]), np.array([[1, 1, 0, 7, 7]])
    assert match_instances(gt, pred) == {1: 1, 7: 5}
    # One prediction overlapping two GTs takes the higher IoU.
    gt = np.array([[1, 1, 1, 1, 2, 2, 0, 0]], np.int32)
    pred = np.array([[1, 1, 1, 1, 1, 1, 0, 0]], np.int32)
    assert match_instances(gt, pred) == {1: 1}
    # Disjoint objects -> {}.
    gt, pred = np.array([[1, 1, 0, 0]]), np.array([[0, 0, 1, 1]])
    assert match_instances(gt, pred) == {}
    # Ratio cutoffs 1 / 1 / 1 with nG 1, nP 3.
    gt = np.zeros((4, 4), np.int32)
    pred = np.zeros((4, 4), np.int32)
    gt[0, 0], pred[0, 0], pred[0, 1], pred[0, 2] = 1, 1, 2, 3
    with pytest.raises(TooManyInstancesError) as info:
        match_instances(gt, pred, final_instance_ratio_cutoff=1, initial_instance_ratio_cutoff=1, instance_ratio_factor=1)
    assert (info.value.n_pred, info.value.n_truth, info.value.ratio) == (3, 1, 3.0)
    assert info.value.cutoff == pytest.approx(1 + np.exp(-1.0))
    # max_overlap_edges = 0 with one overlap.
    gt, pred = np.array([[1, 0]]), np.array([[1, 0]])
    with pytest.raises(TooManyOverlapEdgesError) as info:
        match_instances(gt, pred, max_overlap_edges=0)
    assert (info.value.n_edges, info.value.max_edges) == (1, 0)


@pytest.mark.parametrize(
    "gt, pred, expected",
    [
        (np.zeros(0, np.uint8), np.zeros(0, np.uint8), {0: 0}),
        (np.zeros((0, 3, 3), np.uint32), np.zeros((0, 3, 3), np.uint32), {0: 0}),
        (np.zeros((1, 1, 1), np.uint8), np.zeros((1, 1, 1), np.uint8), {0: 0}),
        (np.ones((1, 1, 1), np.uint8), np.zeros((1, 1, 1), np.uint8), {}),
        (np.zeros((2, 2), np.uint8), np.full((2, 2), 3, np.uint8), {}),
        (np.ones((3, 3), bool), np.eye(3, dtype=bool), {1: 1}),
        (np.array([[2]], np.uint16), np.array([[9]], np.uint16), {9: 2}),
    ],
)
def test_match_instances_edge_cases(gt, pred, expected):
    assert match_instances(gt, pred) == expected


def test_ratio_gate_uses_maxima_not_counts():
    gt = np.array([[0, 0, 40]], np.uint32)  # nG = 40 although one object is present
    pred = np.array([[0, 1, 400]], np.uint32)  # ratio 10.0 <= 10 + 50 e^-8
    assert match_instances(gt, pred) == {400: 40}
    with pytest.raises(TooManyInstancesError):
        match_instances(gt, np.array([[0, 1, 401]], np.uint32))


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "args, kwargs, error, name",
    [
        (([1, 2], [1], [0.5, 0.5]), {}, ValueError, "same length"),
        (([[1]], [1], [0.5]), {}, ValueError, "truth_ids"),
        (([1.0], [1], [0.5]), {}, TypeError, "truth_ids"),
        (([1], [-1], [0.5]), {}, ValueError, "pred_ids"),
        (([1], [1], [1]), {}, TypeError, "iou"),
        (([1], [1], [0.0]), {}, ValueError, "iou"),
        (([1], [1], [1.5]), {}, ValueError, "iou"),
        (([1], [1], [np.nan]), {}, ValueError, "iou"),
        (([1, 1], [2, 2], [0.5, 0.4]), {}, ValueError, "at most once"),
        (([1], [1], [0.5]), {"cost_scale": 0}, ValueError, "cost_scale"),
        (([1], [1], [0.5]), {"cost_scale": 2**32}, ValueError, "cost_scale"),
        (([1], [1], [0.5]), {"cost_scale": 1e6}, TypeError, "cost_scale"),
    ],
)
def test_optimal_matching_bad_input(args, kwargs, error, name):
    with pytest.raises(error, match=name):
        optimal_matching(*args, **kwargs)


GOOD = np.ones((2, 2), np.uint8)


@pytest.mark.parametrize(
    "truth, pred, kwargs, error, name",
    [
        (GOOD.astype(np.float32) + 0.5, GOOD, {}, ValueError, "truth"),
        (np.array([[np.nan, 1.0]]), np.array([[1, 1]]), {}, ValueError, "truth"),
        (np.array([[-1.0, 1.0]]), np.array([[1, 1]]), {}, ValueError, "truth"),
        (GOOD, [[1, 1], [1, 1]], {}, TypeError, "pred"),
        (GOOD, np.ones((2, 3), np.uint8), {}, ValueError, "same shape"),
        (np.ones((1, 1, 1, 1), np.uint8), np.ones((1, 1, 1, 1), np.uint8), {}, ValueError, "truth"),
        (np.array([[-1, 1]]), np.array([[1, 1]]), {}, ValueError, "truth"),
        (GOOD, GOOD, {"final_instance_ratio_cutoff": 0}, ValueError, "final_instance_ratio_cutoff"),
        (GOOD, GOOD, {"final_instance_ratio_cutoff": float("nan")}, ValueError, "final_instance_ratio_cutoff"),
        (GOOD, GOOD, {"initial_instance_ratio_cutoff": -1}, ValueError, "initial_instance_ratio_cutoff"),
        (GOOD, GOOD, {"instance_ratio_factor": 0.0}, ValueError, "instance_ratio_factor"),
        (GOOD, GOOD, {"instance_ratio_factor": "5"}, TypeError, "instance_ratio_factor"),
        (GOOD, GOOD, {"max_overlap_edges": -1}, ValueError, "max_overlap_edges"),
        (GOOD, GOOD, {"max_overlap_edges": 1.5}, TypeError, "max_overlap_edges"),
        (GOOD, GOOD, {"max_overlap_edges": True}, TypeError, "max_overlap_edges"),
        (GOOD, GOOD, {"cost_scale": 0}, ValueError, "cost_scale"),
        (GOOD, GOOD, {"device": "tpu"}, ValueError, "device"),
    ],
)
def test_match_instances_bad_input(truth, pred, kwargs, error, name):
    with pytest.raises(error, match=name):
        match_instances(truth, pred, **kwargs)


def test_many_random_graphs_match_ortools():
    """600 random graphs of up to 2000 nodes with random float IoUs (tie-free in practice)."""
    rng = np.random.default_rng(2024)
    for trial in range(600):
        n_truth, n_pred = rng.integers(1, 1000, 2)
        t, p, iou = random_graph(rng, n_truth, n_pred, int(rng.integers(1, 3 * max(n_truth, n_pred))))
        ours = as_mapping(*optimal_matching(t, p, iou))
        expected, expected_cost = ortools_matching(t, p, iou)
        assert objective(ours, t, p, iou) == expected_cost, trial
        assert ours == expected, trial


# ---------------------------------------------------------------- official tie choice


def official_network_mapping(truth, pred):
    """The official network with raw ids as nodes (nG = max truth, nP = max pred)."""
    t, p = truth.ravel().astype(np.int64), pred.ravel().astype(np.int64)
    n_g, n_p = int(t.max()), int(p.max())
    both = (t > 0) & (p > 0)
    keys, inter = np.unique((t[both] - 1) * n_p + (p[both] - 1), return_counts=True)
    g, q = keys // n_p + 1, keys % n_p + 1
    gs, ps = np.bincount(t, minlength=n_g + 1), np.bincount(p, minlength=n_p + 1)
    iou = (inter / (gs[g] + ps[q] - inter)).astype(np.float32)
    mcf = min_cost_flow.SimpleMinCostFlow()
    for i in range(1, n_g + 1):
        mcf.add_arc_with_capacity_and_unit_cost(0, i, 1, 0)
    for i in range(1, n_g + 1):
        mcf.add_arc_with_capacity_and_unit_cost(i, n_g + n_p + 1, 1, S + 1)
    edge_arcs = [mcf.add_arc_with_capacity_and_unit_cost(int(a), int(n_g + b), 1, int((1.0 - float(v)) * S))
                 for a, b, v in zip(g, q, iou)]
    for j in range(1, n_p + 1):
        mcf.add_arc_with_capacity_and_unit_cost(n_g + j, n_g + n_p + 1, 1, 0)
    mcf.set_node_supply(0, n_g)
    mcf.set_node_supply(n_g + n_p + 1, -n_g)
    assert mcf.solve() == mcf.OPTIMAL
    return {int(q[k]): int(g[k]) for k, arc in enumerate(edge_arcs) if mcf.flow(arc) == 1}


@pytest.mark.parametrize("seed", range(6))
def test_tied_splits_follow_the_official_choice(seed, tied_splits):
    # Truth objects split into two equal halves: tied optima, where the official pick is OR-Tools'.
    truth, pred = tied_splits(np.random.default_rng(seed), 40 + 30 * seed)
    assert match_instances(truth, pred) == official_network_mapping(truth, pred)


def test_native_ties_option_keeps_the_optimal_cost():
    truth = np.array([[1, 1, 1, 1]], np.uint8)
    pred = np.array([[1, 1, 2, 2]], np.uint8)
    native = match_instances(truth, pred, ties="native")
    assert len(native) == 1 and set(native.values()) == {1}
    with pytest.raises(ValueError, match="ties"):
        match_instances(truth, pred, ties="random")
