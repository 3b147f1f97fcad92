"""The official evaluator's min-cost-flow network, solved by OR-Tools, for tied matchings.

Why this exists: when several matchings share the optimal cost (typically one truth object
split into two equally sized pieces), the official result is whichever one OR-Tools'
cost-scaling solver reaches, and that depends on the whole network (node count, arc order),
not on the tied component alone. Our native solver finds an optimum of the same cost but
cannot reproduce that choice, so for leaderboard parity :func:`pycsc.ops.match_instances`
hands graphs with tied costs to this module, which builds the network exactly as the
official code does (evaluation.md section 7.3 step 5): nodes 0 = source, 1..nG = truth ids,
nG+1..nG+nP = prediction ids, nG+nP+1 = sink; arcs source->truth, truth->sink (cost S+1),
truth->prediction in ascending ``(g-1)*nP + (p-1)`` order, prediction->sink.
"""

from __future__ import annotations

import numpy as np

from ..errors import MatchingFailedError

# Beyond this many nodes the official network would not fit in memory either; callers fall
# back to the native optimum.
MAX_NODES = 50_000_000


def available() -> bool:
    try:
        from ortools.graph.python import min_cost_flow  # noqa: F401
    except ImportError:
        return False
    return True


def has_tied_costs(truth_ids: np.ndarray, pred_ids: np.ndarray, costs: np.ndarray) -> bool:
    """True when some node has two incident edges of equal cost (the ties seen in practice).

    A tie between sums of different edges with no such node is possible in principle but
    needs coincident integer sums of unrelated IoUs; it is not detected.
    """
    for ids in (truth_ids, pred_ids):
        order = np.lexsort((costs, ids))
        same_node = ids[order][1:] == ids[order][:-1]
        same_cost = costs[order][1:] == costs[order][:-1]
        if np.any(same_node & same_cost):
            return True
    return False


def solve(n_truth: int, n_pred: int, truth_ids: np.ndarray, pred_ids: np.ndarray,
          costs: np.ndarray, cost_scale: int) -> dict[int, int]:
    """OR-Tools on the official network; edges sorted by (truth id, pred id), ids 1-based."""
    from ortools.graph.python import min_cost_flow

    truth_nodes = np.arange(1, n_truth + 1, dtype=np.int64)
    pred_nodes = np.arange(n_truth + 1, n_truth + n_pred + 1, dtype=np.int64)
    sink = n_truth + n_pred + 1
    edge_tails = truth_ids.astype(np.int64)
    edge_heads = n_truth + pred_ids.astype(np.int64)
    tails = np.concatenate([np.zeros(n_truth, np.int64), truth_nodes, edge_tails, pred_nodes])
    heads = np.concatenate([truth_nodes, np.full(n_truth, sink, np.int64), edge_heads,
                            np.full(n_pred, sink, np.int64)])
    unit_costs = np.concatenate([np.zeros(n_truth, np.int64), np.full(n_truth, cost_scale + 1, np.int64),
                                 costs.astype(np.int64), np.zeros(n_pred, np.int64)])
    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(tails, heads, np.ones(tails.size, np.int64), unit_costs)
    flow.set_node_supply(0, n_truth)
    flow.set_node_supply(sink, -n_truth)
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise MatchingFailedError(f"OR-Tools min-cost flow status {status}")
    first_edge = 2 * n_truth
    used = flow.flows(np.arange(first_edge, first_edge + costs.size)) == 1
    return dict(zip(pred_ids[used].tolist(), truth_ids[used].tolist()))
