"""End-to-end benchmark of ``pycsc evaluate`` on one large synthetic crop.

Builds (seeded, cached under benchmarks/out/) a 400^3 crop at 8 nm with ~2 000 small
ellipsoidal instances (``mito``) and a blobby semantic class (``ecs``), plus a submission with
realistic prediction errors: a one-voxel shift, 20 % of objects split, 3 % missed, 5 % merged
with a neighbour, false-positive objects, speckles, permuted ids; the semantic prediction is a
shifted, re-thresholded copy (optionally at another resolution). Then it times

* ``pycsc evaluate`` as a user runs it (a fresh process, reading zarr, writing results), and
* the in-process evaluation with per-stage times from the results table,

and, with ``--reference K``, the official stack (cc3d, np.unique overlaps, OR-Tools, fastremap,
SciPy EDTs with the official padded ROI) with the Hausdorff step timed on K instances and
extrapolated (the full official run takes hours: ~20 s per instance at 400^3).

Usage: python benchmarks/bench_evaluate.py [--size 400] [--count 2000] [--repeat 3] [--reference 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from _data import ellipsoid_labels  # benchmarks/ is the script's directory

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

STAGES = ("load", "resample", "components", "matching", "remap", "hausdorff", "counts")


def ellipsoids(n, count, rmin, rmax, rng, dtype=np.uint32):
    return ellipsoid_labels(n, count, rmin, rmax, dtype=dtype, rng=rng)


def instance_prediction(gt, rng):
    """Realistic errors on the truth ids."""
    from scipy import ndimage as ndi

    pred = np.roll(gt, (1, 0, 1), axis=(0, 1, 2))
    ids = np.unique(pred)
    ids = ids[ids != 0]
    boxes = ndi.find_objects(pred)
    nxt = int(gt.max()) + 1
    for i in rng.choice(ids, int(0.03 * ids.size), replace=False):  # misses
        sl = boxes[i - 1]
        pred[sl][pred[sl] == i] = 0
    for i in rng.choice(ids, int(0.20 * ids.size), replace=False):  # splits at the box's z-centre
        sl = boxes[i - 1]
        if sl is None:
            continue
        sub = pred[sl]
        mid = sub.shape[0] // 2
        part = sub[mid:]
        part[part == i] = nxt
        nxt += 1
    for i in rng.choice(ids, int(0.05 * ids.size), replace=False):  # merges with the nearest other id
        sl = boxes[i - 1]
        if sl is None:
            continue
        grown = tuple(slice(max(s.start - 3, 0), s.stop + 3) for s in sl)
        near = np.unique(pred[grown])
        near = near[(near != 0) & (near != i)]
        if near.size:
            sub = pred[grown]
            sub[sub == near[0]] = i
    fp = ellipsoids(gt.shape[0], 300, 3, 8, rng)  # false positives where nothing is predicted
    fp[fp > 0] += nxt
    pred = np.where(pred == 0, fp, pred)
    speck = rng.integers(0, pred.size, 400)
    flat = pred.reshape(-1)
    flat[speck] = np.where(flat[speck] == 0, int(fp.max()) + 1 + np.arange(400), flat[speck])
    perm = np.concatenate([[0], rng.permutation(int(pred.max())) + 1]).astype(np.uint32)
    return perm[pred]


def semantic_pair(n, rng, voxel_scale):
    from scipy import ndimage as ndi

    f = ndi.gaussian_filter(rng.standard_normal((n, n, n), dtype=np.float32), 6.0)
    q = np.quantile(f[::4, ::4, ::4], 0.75)
    truth = (f > q).astype(np.uint8)
    pred = (np.roll(f, 1, axis=2) > q * 1.05).astype(np.uint8)
    if voxel_scale != 1:
        from skimage.transform import rescale

        pred = (rescale(pred.astype(np.float32), 1 / voxel_scale, order=1) > 0.5).astype(np.uint8)
    return truth, pred


def write(path, data, vs, tr=(0.0, 0.0, 0.0)):
    import zarr

    z = zarr.create_array(str(path), shape=data.shape, dtype=data.dtype, chunks=(64, 64, 64), zarr_format=2,
                          compressors=[{"id": "blosc", "cname": "zstd", "clevel": 5, "shuffle": 2}],
                          chunk_key_encoding={"name": "v2", "separator": "/"}, overwrite=True)
    z[...] = data
    z.attrs.update(voxel_size=list(vs), translation=list(tr), shape=list(data.shape))


def build(out: Path, n: int, count: int, seed: int, semantic_scale: int) -> dict:
    stamp = {"n": n, "count": count, "seed": seed, "semantic_scale": semantic_scale, "version": 1}
    if (out / "stamp.json").is_file() and json.loads((out / "stamp.json").read_text()) == stamp:
        return json.loads((out / "info.json").read_text())
    shutil.rmtree(out, ignore_errors=True)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    gt = ellipsoids(n, count, 3, 10, rng)
    pred = instance_prediction(gt, rng)
    sem_t, sem_p = semantic_pair(n, rng, semantic_scale)
    vs = (8.0, 8.0, 8.0)
    write(out / "truth.zarr" / "crop1" / "mito", gt, vs)
    write(out / "truth.zarr" / "crop1" / "ecs", sem_t, vs)
    write(out / "submission.zarr" / "crop1" / "mito", pred, vs)
    write(out / "submission.zarr" / "crop1" / "ecs", sem_p, tuple(v * semantic_scale for v in vs))
    (out / "manifest.csv").write_text(
        "crop_name,dataset,class_label,voxel_size,translation,shape\n"
        + "".join(f"1,bench,{c},[8.0;8.0;8.0],[0.0;0.0;0.0],[{n};{n};{n}]\n" for c in ("mito", "ecs")))
    info = {"truth_instances": int(np.unique(gt).size - 1), "pred_ids": int(np.unique(pred).size - 1),
            "build_s": time.perf_counter() - t0}
    (out / "info.json").write_text(json.dumps(info))
    (out / "stamp.json").write_text(json.dumps(stamp))
    return info


def time_overlaps(out: Path) -> float:
    from pycsc import ops
    from pycsc.eval.store import ZArray

    truth = ZArray.open(out / "truth.zarr" / "crop1" / "mito").read()
    components, _ = ops.connected_components(ZArray.open(out / "submission.zarr" / "crop1" / "mito").read())
    ops.overlaps(truth, components)
    t0 = time.perf_counter()
    ops.overlaps(truth, components)
    return time.perf_counter() - t0


def run_cli(out: Path, extra: list[str]) -> float:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "pycsc", "evaluate", str(out / "submission.zarr"), "--truth",
           str(out / "truth.zarr"), "--manifest", str(out / "manifest.csv"), "--output",
           str(out / "results" / "results.json"), "--no-progress", *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"pycsc evaluate failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return dt


def reference(out: Path, sample: int) -> dict:
    """The official stack on the instance label; Hausdorff timed on `sample` objects and extrapolated."""
    import cc3d
    import fastremap
    import zarr
    from scipy import ndimage as ndi

    t = {}
    t0 = time.perf_counter()
    gt = zarr.open(str(out / "truth.zarr" / "crop1" / "mito"), mode="r")[:]
    pred = zarr.open(str(out / "submission.zarr" / "crop1" / "mito"), mode="r")[:]
    t["load"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred, _ = cc3d.connected_components(pred, return_N=True)
    t["components"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    mapping = _official_match(gt, pred)
    t["matching"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    mapping[0] = 0
    pred = fastremap.remap(pred, mapping, preserve_missing_labels=True)
    t["remap"] = time.perf_counter() - t0
    vs = np.array([8.0, 8.0, 8.0])
    cap = min(vs * gt.shape) / 2
    ids = np.unique(gt)[1:]
    pad = [min(int(np.ceil(cap / v)), s) + 2 for v, s in zip(vs, gt.shape)]
    boxes = ndi.find_objects(gt)
    t0 = time.perf_counter()
    for tid in ids[:sample]:
        sl = tuple(slice(max(b.start - p, 0), min(b.stop + p, s)) for b, p, s in zip(boxes[tid - 1], pad, gt.shape))
        a, b = gt[sl] == tid, pred[sl] == tid
        if b.any():
            ndi.distance_transform_edt(~b, sampling=vs)
            ndi.distance_transform_edt(~a, sampling=vs)
    per = (time.perf_counter() - t0) / max(1, min(sample, ids.size))
    t["hausdorff"] = per * ids.size
    t["hausdorff_per_instance"] = per
    return t


def _official_match(gt, pred, scale=1_000_000):
    """The official matching (evaluation.md 7.3): bincount sizes, np.unique pairs, OR-Tools min-cost flow."""
    from ortools.graph.python import min_cost_flow

    n_g, n_p = int(gt.max()), int(pred.max())
    g, p = gt.ravel().astype(np.uint64), pred.ravel().astype(np.uint64)
    g_size = np.bincount(gt.ravel(), minlength=n_g + 1)[1:]
    p_size = np.bincount(pred.ravel(), minlength=n_p + 1)[1:]
    both = (g > 0) & (p > 0)
    keys, inter = np.unique((g[both] - 1) * np.uint64(n_p) + (p[both] - 1), return_counts=True)
    gi, pj = (keys // np.uint64(n_p)).astype(np.int64), (keys % np.uint64(n_p)).astype(np.int64)
    iou = (inter / (g_size[gi] + p_size[pj] - inter)).astype(np.float32)
    flow = min_cost_flow.SimpleMinCostFlow()
    sink = n_g + n_p + 1
    for i in range(1, n_g + 1):
        flow.add_arc_with_capacity_and_unit_cost(0, i, 1, 0)
    for i in range(1, n_g + 1):
        flow.add_arc_with_capacity_and_unit_cost(i, sink, 1, scale + 1)
    arcs = [(flow.add_arc_with_capacity_and_unit_cost(int(a) + 1, n_g + 1 + int(b), 1, int((1.0 - float(w)) * scale)),
             int(a) + 1, int(b) + 1) for a, b, w in zip(gi, pj, iou) if w > 0]
    for j in range(1, n_p + 1):
        flow.add_arc_with_capacity_and_unit_cost(n_g + j, sink, 1, 0)
    flow.set_node_supply(0, n_g)
    flow.set_node_supply(sink, -n_g)
    flow.solve()
    return {pid: gid for arc, gid, pid in arcs if flow.flow(arc) > 0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=400)
    ap.add_argument("--count", type=int, default=2000, help="ellipsoids placed (some overwrite others)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--semantic-scale", type=int, default=1, help="semantic prediction at this x voxel size")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--reference", type=int, default=0, metavar="K",
                    help="also time the official stack, Hausdorff on K instances (extrapolated)")
    ap.add_argument("--out", type=Path, default=HERE / "out" / "evaluate")
    args = ap.parse_args()

    out = args.out / f"n{args.size}_c{args.count}_s{args.seed}_x{args.semantic_scale}"
    info = build(out, args.size, args.count, args.seed, args.semantic_scale)
    print(f"crop {args.size}^3 at 8 nm: {info['truth_instances']} truth instances, {info['pred_ids']} predicted ids "
          f"(built in {info.get('build_s', 0):.1f} s; cached in {out})")

    from pycsc.eval import EvaluateConfig, evaluate

    cfg = EvaluateConfig(progress=False, workers=args.workers)
    evaluate(out / "submission.zarr", out / "truth.zarr", out / "manifest.csv", config=cfg)  # warm-up
    runs = [evaluate(out / "submission.zarr", out / "truth.zarr", out / "manifest.csv", config=cfg)
            for _ in range(args.repeat)]
    cli = [run_cli(out, ["--workers", str(args.workers)]) for _ in range(args.repeat)]

    by_label = {r.label: r for r in runs[-1].results}
    print(f"\n{'stage':<12}" + "".join(f"{c:>12}" for c in ("mito [s]", "ecs [s]")))
    for stage in STAGES:
        vals = [statistics.median(r.results[[x.label for x in r.results].index(lbl)].timings.get(stage, 0.0)
                                  for r in runs) for lbl in ("mito", "ecs")]
        print(f"{stage:<12}" + "".join(f"{v:>12.3f}" for v in vals))
    totals = [statistics.median(next(x for x in r.results if x.label == lbl).timings["total"] for r in runs)
              for lbl in ("mito", "ecs")]
    print(f"{'label total':<12}" + "".join(f"{v:>12.3f}" for v in totals))
    agg = statistics.median(r.timings["aggregation"] for r in runs)
    plan = statistics.median(r.timings["plan"] for r in runs)
    inproc = statistics.median(r.timings["total"] for r in runs)
    print(f"\nplan {plan:.3f} s, aggregation {agg:.4f} s, in-process total {inproc:.3f} s")
    print(f"pycsc evaluate (CLI, fresh process, {args.workers} worker): median {statistics.median(cli):.3f} s "
          f"over {len(cli)} runs {[round(c, 2) for c in cli]}")
    overlaps_s = time_overlaps(out)
    print(f"(matching includes the overlap table: ops.overlaps alone takes {overlaps_s:.3f} s on this label)")
    rec = by_label["mito"].record
    print(f"mito: tp {rec['tp']} fp {rec['fp']} fn {rec['fn']}, n_pred {by_label['mito'].stats.get('n_pred')}; "
          f"ecs: tp {by_label['ecs'].record['tp']}")
    if args.reference:
        ref = reference(out, args.reference)
        total = sum(v for k, v in ref.items() if k != "hausdorff_per_instance")
        print(f"\nofficial stack on mito (Hausdorff extrapolated from {args.reference} instances, "
              f"{ref['hausdorff_per_instance']:.2f} s each):")
        for k in ("load", "components", "matching", "remap", "hausdorff"):
            mine = statistics.median(next(x for x in r.results if x.label == "mito").timings.get(k, 0.0) for r in runs)
            print(f"  {k:<11}{ref[k]:>12.2f} s   pycsc {mine:>8.3f} s   ratio {ref[k] / max(mine, 1e-9):>10.0f}x")
        print(f"  {'total':<11}{total:>12.1f} s   pycsc {totals[0]:>8.3f} s   ratio {total / totals[0]:>10.0f}x")


if __name__ == "__main__":
    main()
