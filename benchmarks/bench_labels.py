"""Benchmark pycsc.ops label utilities against fastremap and cc3d (the official stack).

Input: ``ell600`` of /work/shared/spec/performance.md appendix A -- 600^3 uint32, 10 000
ellipsoids (radii 3-12, seed 11), about 7.7 % foreground -- cached under benchmarks/out/.
Each kernel is timed against the call the official evaluator makes, on the same array in the
same run, and the results are checked equal.

    python benchmarks/bench_labels.py              # 600^3, the performance.md anchor
    python benchmarks/bench_labels.py --size 200 --repeats 3
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from bench_overlaps import OUT, ellipsoid_labels, timed  # noqa: E402

from pycsc import _core  # noqa: E402
from pycsc.ops import bounding_boxes, remap, unique, voxel_counts  # noqa: E402


def load_labels(n: int) -> np.ndarray:
    OUT.mkdir(exist_ok=True)
    path = OUT / f"ell{n}_labels.npy"
    if path.exists():
        return np.load(path)
    count = max(10, round(10_000 * (n / 600) ** 3))
    labels = ellipsoid_labels(n, count, 3, 12, seed=11)
    np.save(path, labels)
    return labels


def cc3d_boxes(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import cc3d

    stats = cc3d.statistics(labels)
    present = np.flatnonzero(stats["voxel_counts"])
    present = present[present != 0]
    boxes = np.array([[s.start for s in stats["bounding_boxes"][i]] + [s.stop for s in stats["bounding_boxes"][i]]
                      for i in present], np.int64)
    return present.astype(np.uint64), boxes


def main() -> None:
    import fastremap

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=600, help="edge of the cubic volume (default 600)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions after a warm-up")
    parser.add_argument("--numpy", action="store_true", help="also time np.unique (slow: ~3.5 s at 600^3)")
    args = parser.parse_args()

    labels = load_labels(args.size)
    n = labels.size
    ids = fastremap.unique(labels)
    rng = np.random.default_rng(0)
    mapping = {int(i): int(j) for i, j in zip(ids, rng.permutation(ids.size))}
    mapping[0] = 0
    slow_reps = max(1, args.repeats // 2)

    rows = []  # (operation, reference name, reference s, ours s, identical)
    t_ref, ref = timed(lambda: fastremap.unique(labels, return_counts=True), slow_reps)
    t_our, our = timed(lambda: unique(labels, return_counts=True), args.repeats)
    rows.append(("unique + counts", "fastremap.unique", t_ref, t_our,
                 all(np.array_equal(a, b) for a, b in zip(our, ref))))
    if args.numpy:
        t_np, _ = timed(lambda: np.unique(labels, return_counts=True), 1)
        rows.append(("unique + counts", "np.unique", t_np, t_our, True))

    t_ref, ref = timed(lambda: fastremap.remap(labels, mapping, preserve_missing_labels=True), slow_reps)
    t_our, our = timed(lambda: remap(labels, mapping), args.repeats)
    rows.append(("remap (dict, copy)", "fastremap.remap", t_ref, t_our,
                 our.dtype == ref.dtype and np.array_equal(our, ref)))
    del our, ref

    t_ref, ref = timed(lambda: np.bincount(labels.ravel()), slow_reps)
    t_our, our = timed(lambda: voxel_counts(labels), args.repeats)
    nz = np.flatnonzero(ref)
    nz = nz[nz != 0]
    rows.append(("voxel_counts", "np.bincount", t_ref, t_our,
                 np.array_equal(our[0], nz) and np.array_equal(our[1], ref[nz])))

    t_ref, ref = timed(lambda: cc3d_boxes(labels), slow_reps)
    t_our, our = timed(lambda: bounding_boxes(labels), args.repeats)
    rows.append(("bounding_boxes", "cc3d.statistics", t_ref, t_our,
                 all(np.array_equal(a, b) for a, b in zip(our, ref))))

    info = _core.build_info()
    print(f"label utilities, {args.size}^3 {labels.dtype} ({n / 1e6:.0f} M voxels), {ids.size - 1} ids, "
          f"{np.count_nonzero(labels) / n:.1%} foreground; threads={info['max_threads']}")
    print("median (best) seconds after a warm-up")
    print(f"{'operation':<20}{'reference':<18}{'ref s':>15}{'pycsc s':>17}{'Gvox/s':>8}{'speed-up':>10}  same")
    for op, ref_name, t_ref, t_our, same in rows:
        print(f"{op:<20}{ref_name:<18}{t_ref[0]:>7.3f} ({t_ref[1]:.3f}){t_our[0]:>8.4f} ({t_our[1]:.4f})"
              f"{n / t_our[0] / 1e9:>8.2f}{t_ref[0] / t_our[0]:>9.1f}x  {same}")
    if not all(r[-1] for r in rows):
        raise SystemExit("MISMATCH between pycsc and a reference")


if __name__ == "__main__":
    main()
