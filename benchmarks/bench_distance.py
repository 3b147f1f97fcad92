"""Benchmark pycsc.ops.distance against the official stack (scipy) on the same inputs.

EDT: a 256^3 blob mask (performance.md appendix A ``blob_volume``), isotropic and
anisotropic sampling, pycsc vs ``scipy.ndimage.distance_transform_edt``.

Hausdorff: a 400^3 crop at 8 nm with ~3 000 ellipsoid instances (``ell400``) and a realistic
prediction (``pred400``: shifted, 20 % of objects split, 300 extra objects, ids permuted),
relabelled, matched and remapped exactly as the evaluator does (cc3d 26-connectivity, IoU
min-cost flow with OR-Tools, ``fastremap.remap(preserve_missing_labels=True)``). pycsc is
timed on the whole crop; the official per-instance padded-ROI method and the tight-bbox
scipy variant are timed on a random sample of instances and **extrapolated** to all
instances (the full official run takes ~17 h). Sampled instances are also checked for
bitwise equality with pycsc.

Usage: python benchmarks/bench_distance.py [--size 400] [--count 3000] [--edt-size 256]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import cc3d
import fastremap
import numpy as np
import scipy.ndimage as ndi
from ortools.graph.python import min_cost_flow

from pycsc.ops import distance_transform_edt, hausdorff_distances

from _data import blob_volume, ellipsoid_labels  # benchmarks/ is the script's directory


def realistic_prediction(gt, n_extra=300, seed=8):
    """pred400 of performance.md appendix A: shift, split 20 %, add objects, permute ids."""
    rng = np.random.default_rng(seed)
    pred = np.roll(gt, (1, 0, 1), axis=(0, 1, 2))
    ids = np.unique(pred)
    ids = ids[ids != 0]
    next_id = int(ids.max()) + 1
    boxes = ndi.find_objects(pred)
    for i in rng.choice(ids, size=len(ids) // 5, replace=False):
        box = boxes[i - 1]
        zc = (box[0].start + box[0].stop) // 2
        sub = pred[box]
        zs = np.arange(box[0].start, box[0].stop)[:, None, None]
        sub[(sub == i) & (zs >= zc)] = next_id
        next_id += 1
    extra = ellipsoid_labels(gt.shape[0], n_extra, seed=seed)
    put = (pred == 0) & (extra > 0)
    pred[put] = extra[put].astype(pred.dtype) + next_id
    ids = np.unique(pred)
    ids = ids[ids != 0]
    perm = dict(zip(ids.tolist(), rng.permutation(ids).tolist()))
    return fastremap.remap(pred, perm, preserve_missing_labels=True)


def evaluator_remap(gt, pred):
    """Relabel, match and remap the prediction as the official evaluator does (7.2-7.4)."""
    p, n_pred = cc3d.connected_components(pred, connectivity=26, return_N=True)
    g = gt.ravel().astype(np.int64)
    pr = p.ravel().astype(np.int64)
    n_g, n_p = int(gt.max()), int(n_pred)
    gt_size = np.bincount(g, minlength=n_g + 1)[1:]
    pr_size = np.bincount(pr, minlength=n_p + 1)[1:]
    both = (g > 0) & (pr > 0)
    keys, inter = np.unique((g[both] - 1) * n_p + (pr[both] - 1), return_counts=True)
    gi, pi = keys // n_p, keys % n_p
    iou = (inter / (gt_size[gi] + pr_size[pi] - inter)).astype(np.float32)
    keep = iou > 0
    gi, pi, iou = gi[keep], pi[keep], iou[keep]
    scale = 1_000_000
    flow = min_cost_flow.SimpleMinCostFlow()
    sink = n_g + n_p + 1
    tails = np.concatenate([np.zeros(n_g), np.arange(1, n_g + 1), gi + 1, np.arange(n_g + 1, n_g + n_p + 1)])
    heads = np.concatenate([np.arange(1, n_g + 1), np.full(n_g, sink), pi + 1 + n_g, np.full(n_p, sink)])
    costs = np.concatenate(
        [np.zeros(n_g), np.full(n_g, scale + 1), ((1.0 - iou.astype(np.float64)) * scale).astype(np.int64),
         np.zeros(n_p)]
    )
    arcs = flow.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int32), heads.astype(np.int32), np.ones(len(tails), np.int64), costs.astype(np.int64)
    )
    flow.set_node_supply(0, n_g)
    flow.set_node_supply(sink, -n_g)
    assert flow.solve() == flow.OPTIMAL
    pair_arcs = arcs[2 * n_g : 2 * n_g + len(gi)]
    used = flow.flows(pair_arcs) > 0
    mapping = {int(q) + 1: int(t) + 1 for q, t in zip(pi[used], gi[used])}
    mapping[0] = 0
    return fastremap.remap(p, mapping, preserve_missing_labels=True)


def timed(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def official_one(truth, pred, boxes, tid, vs, cap, tight):
    """compute_hausdorff_distance_roi (evaluation.md 7.5) for one id; tight=True drops the pad.

    `boxes` = (find_objects(truth), find_objects(pred)), computed once per crop like the
    evaluator's cc3d.statistics calls.
    """
    vs = np.asarray(vs, np.float64)
    pad = np.zeros(3, int) if tight else np.minimum(np.ceil(cap / vs).astype(int), truth.shape) + 2
    boxes = [bb[tid - 1] for bb in boxes if tid - 1 < len(bb) and bb[tid - 1] is not None]
    lo = np.min([[s.start for s in b] for b in boxes], axis=0)
    hi = np.max([[s.stop for s in b] for b in boxes], axis=0)
    roi = tuple(slice(max(0, l - p), min(n, h + p)) for l, h, p, n in zip(lo, hi, pad, truth.shape))
    a, b = truth[roi] == tid, pred[roi] == tid
    if not b.any():
        return cap
    fwd = ndi.distance_transform_edt(~b, sampling=vs)[a]
    bwd = ndi.distance_transform_edt(~a, sampling=vs)[b]
    return float(min(max(fwd.max(initial=0.0), bwd.max(initial=0.0)), cap))


def bench_edt(n, repeat):
    mask = blob_volume(n)
    print(f"\nEDT {n}^3 blob mask ({mask.mean():.0%} foreground), float64 distances")
    print(f"{'sampling':>18} {'pycsc s':>9} {'scipy s':>9} {'ratio':>7} {'MVx/s':>7} {'bitwise':>8}")
    for sampling in [(1.0, 1.0, 1.0), (1.74, 2.0, 2.0), (5.3, 3.7, 3.7)]:
        t_ours, ours = timed(lambda: distance_transform_edt(mask, sampling), repeat)
        t_ref, ref = timed(lambda: ndi.distance_transform_edt(mask, sampling=sampling), 1)
        diff = int(np.count_nonzero(ours != ref))
        print(f"{str(sampling):>18} {t_ours:9.3f} {t_ref:9.3f} {t_ref / t_ours:6.1f}x "
              f"{mask.size / t_ours / 1e6:7.1f} {'yes' if diff == 0 else f'{diff} vox':>8}")


def bench_hausdorff(n, count, repeat, official_samples, tight_samples):
    vs = (8.0, 8.0, 8.0)
    print(f"\nHausdorff: building ell{n} ({count} objects) and its realistic prediction ...", flush=True)
    t0 = time.perf_counter()
    truth = ellipsoid_labels(n, count)
    pred = evaluator_remap(truth, realistic_prediction(truth))
    cap = min(v * s for v, s in zip(vs, truth.shape)) / 2
    n_ids = int(np.count_nonzero(np.unique(truth)))
    print(f"  inputs ready in {time.perf_counter() - t0:.1f} s: {n_ids} truth ids, truth {truth.dtype}, "
          f"pred {pred.dtype}, cap {cap:g} nm")
    print(f"{'method':>22} {'pycsc s':>9}")
    results = {}
    for method, pct in [("standard", None), ("modified", None), ("percentile", 95.0)]:
        t, results[method] = timed(lambda: hausdorff_distances(truth, pred, vs, cap, method=method, percentile=pct),
                                   repeat)
        print(f"{method + (f' {pct:g}' if pct else ''):>22} {t:9.3f}")
        if method == "standard":
            t_std = t
    ids, dist = results["standard"]
    t0 = time.perf_counter()
    boxes = (ndi.find_objects(truth), ndi.find_objects(pred))
    t_boxes = time.perf_counter() - t0
    print(f"  per-crop bounding boxes for the reference methods: {t_boxes:.2f} s (added once below)")
    rng = np.random.default_rng(0)
    for label, tight, k in [("official padded ROI", False, official_samples), ("tight-bbox scipy", True, tight_samples)]:
        if k <= 0:
            continue
        pick = rng.choice(len(ids), size=min(k, len(ids)), replace=False)
        t0 = time.perf_counter()
        ref = np.array([official_one(truth, pred, boxes, int(ids[i]), vs, cap, tight) for i in pick])
        per = (time.perf_counter() - t0) / len(pick)
        est = per * len(ids) + t_boxes
        same = int(np.count_nonzero(ref == dist[pick]))
        print(f"  {label}: {per:.3f} s/instance on {len(pick)} sampled ids -> ~{est:,.0f} s for {len(ids)} "
              f"(extrapolated); pycsc standard {est / t_std:,.0f}x faster; bitwise equal {same}/{len(pick)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=400, help="Hausdorff crop side (voxels)")
    ap.add_argument("--count", type=int, default=3000, help="ellipsoids in the truth crop")
    ap.add_argument("--edt-size", type=int, default=256, help="EDT volume side (voxels)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--official-samples", type=int, default=3, help="ids timed with the padded-ROI method")
    ap.add_argument("--tight-samples", type=int, default=100, help="ids timed with tight-bbox scipy")
    ap.add_argument("--skip-edt", action="store_true")
    ap.add_argument("--skip-hausdorff", action="store_true")
    args = ap.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (timings inflate under load)")
    if not args.skip_edt:
        bench_edt(args.edt_size, args.repeat)
    if not args.skip_hausdorff:
        bench_hausdorff(args.size, args.count, args.repeat, args.official_samples, args.tight_samples)


if __name__ == "__main__":
    main()
