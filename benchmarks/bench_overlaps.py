"""Benchmark pycsc.ops.overlaps against the official NumPy computation.

Inputs follow /work/shared/spec/performance.md appendix A: ``ell400`` (3 000 ellipsoids in a
400^3 uint32 volume) as truth, and ``pred400`` (truth shifted by (1, 0, 1), 20 % of the ids
split at their z-centre, 300 false-positive ellipsoids, ids permuted, then cc3d-relabelled) as
prediction. Generated volumes are cached under benchmarks/out/ (seeded, so the cache only saves
time). The official approach is evaluation.md section 7.3 step 4: masks, bincounts, uint64 pair
keys and ``np.unique(..., return_counts=True)``.

    python benchmarks/bench_overlaps.py            # 400^3, the performance.md anchor
    python benchmarks/bench_overlaps.py --size 128 --repeats 3
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from pycsc import _core  # noqa: E402
from pycsc.ops import overlaps  # noqa: E402

from _data import ellipsoid_labels  # noqa: E402  (benchmarks/ is the script's directory)

OUT = pathlib.Path(__file__).resolve().parent / "out"


def prediction_from(truth: np.ndarray, seed: int = 8) -> np.ndarray:
    """pred400 of appendix A: shift, split 20 % of ids, add false positives, permute, cc3d."""
    import cc3d
    from scipy import ndimage as ndi

    rng = np.random.default_rng(seed)
    pred = np.roll(truth, (1, 0, 1), axis=(0, 1, 2)).astype(np.uint32)
    next_id = int(pred.max()) + 1
    boxes = ndi.find_objects(pred)
    ids = [i + 1 for i, b in enumerate(boxes) if b is not None]
    for tid in rng.choice(ids, size=len(ids) // 5, replace=False):
        box = boxes[tid - 1]
        zc = (box[0].start + box[0].stop) // 2
        sub = pred[box]
        upper = (sub == tid) & (np.arange(box[0].start, box[0].stop)[:, None, None] >= zc)
        sub[upper] = next_id
        next_id += 1
    n_fp = max(1, round(300 * (truth.shape[0] / 400) ** 3))
    fp = ellipsoid_labels(truth.shape[0], n_fp, 3, 10, seed, np.uint32)
    put = (pred == 0) & (fp > 0)
    pred[put] = fp[put] + next_id
    perm = np.concatenate([[0], rng.permutation(int(pred.max())) + 1]).astype(np.uint32)
    return cc3d.connected_components(perm[pred], connectivity=26, out_dtype=np.uint32)


def load_inputs(n: int) -> tuple[np.ndarray, np.ndarray]:
    OUT.mkdir(exist_ok=True)
    paths = OUT / f"ell{n}_truth.npy", OUT / f"ell{n}_pred.npy"
    if all(p.exists() for p in paths):
        return np.load(paths[0]), np.load(paths[1])
    count = max(10, round(3000 * (n / 400) ** 3))
    truth = ellipsoid_labels(n, count, 3, 10, seed=1)
    pred = prediction_from(truth)
    np.save(paths[0], truth)
    np.save(paths[1], pred)
    return truth, pred


def official_overlaps(truth: np.ndarray, pred: np.ndarray):
    """evaluation.md 7.3 step 4 as the official evaluator computes it (0-based ids)."""
    g = truth.ravel()
    p = pred.ravel()
    n_g, n_p = int(g.max()), int(p.max())
    g_mask, p_mask = g > 0, p > 0
    gt_size = np.bincount(g[g_mask].astype(np.int64) - 1, minlength=n_g)
    pr_size = np.bincount(p[p_mask].astype(np.int64) - 1, minlength=n_p)
    both = g_mask & p_mask
    key = (g[both].astype(np.uint64) - 1) * np.uint64(n_p) + (p[both].astype(np.uint64) - 1)
    keys, inter = np.unique(key, return_counts=True)
    return keys, inter, gt_size, pr_size, n_p


def timed(fn, repeats: int) -> tuple[tuple[float, float], object]:
    """((median, best) seconds over `repeats` calls after one warm-up call, last result)."""
    result = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return (statistics.median(times), min(times)), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=400, help="edge of the cubic volume (default 400)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions after a warm-up")
    parser.add_argument("--dtype", default="uint32", help="dtype of both volumes (default uint32)")
    args = parser.parse_args()

    truth, pred = load_inputs(args.size)
    truth, pred = truth.astype(args.dtype, copy=False), pred.astype(args.dtype, copy=False)
    n = truth.size
    t_ours, ours = timed(lambda: overlaps(truth, pred), args.repeats)
    t_off, off = timed(lambda: official_overlaps(truth, pred), max(1, args.repeats // 2))

    keys, inter, gt_size, pr_size, n_p = off
    our_keys = (ours.truth_ids - 1) * np.uint64(n_p) + (ours.pred_ids - 1)
    same = (
        np.array_equal(our_keys, keys)
        and np.array_equal(ours.counts, inter)
        and np.array_equal(ours.truth_sizes, gt_size[ours.truth_labels.astype(np.int64) - 1])
        and np.array_equal(ours.pred_sizes, pr_size[ours.pred_labels.astype(np.int64) - 1])
        and len(ours.truth_labels) == np.count_nonzero(gt_size)
        and len(ours.pred_labels) == np.count_nonzero(pr_size)
    )
    info = _core.build_info()
    print(f"overlaps + sizes, {args.size}^3 {args.dtype} ({n / 1e6:.0f} M voxels), "
          f"{len(ours.counts)} pairs, {len(ours.truth_labels)} truth / {len(ours.pred_labels)} pred ids; "
          f"threads={info['max_threads']}, results identical: {same}")
    print(f"{'method':<30}{'median s':>10}{'best s':>9}{'Gvox/s':>8}{'speed-up':>10}")
    for name, t in (("official numpy (7.3 step 4)", t_off), ("pycsc.ops.overlaps", t_ours)):
        print(f"{name:<30}{t[0]:>10.4f}{t[1]:>9.4f}{n / t[0] / 1e9:>8.2f}{t_off[0] / t[0]:>9.1f}x")
    if not same:
        raise SystemExit("MISMATCH between pycsc and the official computation")


if __name__ == "__main__":
    main()
