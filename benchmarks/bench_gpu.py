"""GPU kernels against the issue's H100 goals, with the CPU path timed in the same run.

Every input is generated here (seeded), copied to the device once, and each kernel is timed
with CUDA events around the call (median of --repeat calls after a warm-up call, which also
compiles the kernels). Each row also checks that the GPU result equals the CPU path's result
on the same input, and times the CPU path once for the ratio.

Goals (issue 7, one H100, data on the device, 600^3 = 216 M voxels):
  connected components <= 5 ms, overlaps <= 1.5 ms, rescale order 0 <= 0.5 ms,
  a 400^3 instance crop with ~3 000 instances evaluated end to end <= 0.3 s.

Usage: python benchmarks/bench_gpu.py [--size 600] [--crop 400] [--count 3000] [--repeat 5]
                                      [--only ccl,overlaps,...] [--out results.json]
Exits 2 with a message where no GPU backend is usable.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from _data import blob_volume, ell600, ellipsoid_labels  # benchmarks/ is the script's directory

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pycsc import _gpu, ops  # noqa: E402
from pycsc.eval.instance import score_instance  # noqa: E402
from pycsc.ops._dispatch import to_host  # noqa: E402


def gpu_time(cp, fn, repeat: int) -> tuple[float, object]:
    """Median seconds of fn() between CUDA events, after one warm-up call; and its result."""
    out = fn()
    cp.cuda.Device().synchronize()
    times = []
    for _ in range(repeat):
        start, stop = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        out = fn()
        stop.record()
        stop.synchronize()
        times.append(cp.cuda.get_elapsed_time(start, stop) / 1000.0)
    return statistics.median(times), out


def cpu_time(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def same(a, b) -> bool:
    a, b = to_host(a), to_host(b)
    if isinstance(a, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    if hasattr(a, "__dataclass_fields__"):
        return all(same(getattr(a, f), getattr(b, f)) for f in a.__dataclass_fields__)
    return a == b


def perturbed(truth: np.ndarray, seed: int = 1) -> np.ndarray:
    """A prediction: shifted one voxel, ids permuted, a slab of each tenth object relabelled."""
    rng = np.random.default_rng(seed)
    pred = np.roll(truth, 1, axis=2)
    n = int(truth.max())
    perm = np.concatenate([[0], rng.permutation(n) + 1]).astype(truth.dtype)
    pred = perm[pred]
    split = (pred % 10 == 3) & (np.arange(truth.shape[0])[:, None, None] % 7 == 0)
    pred[split] = pred[split] + n
    return pred


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=600)
    ap.add_argument("--crop", type=int, default=400)
    ap.add_argument("--count", type=int, default=3000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", default="", help="comma-separated row names")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    ok, why = _gpu.gpu_status()
    if not ok:
        print(f"no GPU backend: {why}", file=sys.stderr)
        return 2
    import cupy as cp

    print(f"device: {why}")
    n, c = args.size, args.crop
    rows = []

    def row(name, goal_s, gpu_fn, cpu_fn, voxels):
        if args.only and name not in args.only.split(","):
            return
        t_gpu, out_gpu = gpu_time(cp, gpu_fn, args.repeat)
        t_cpu, out_cpu = cpu_time(cpu_fn)
        r = {"kernel": name, "gpu_s": t_gpu, "cpu_s": t_cpu, "speedup": t_cpu / t_gpu,
             "gvox_per_s": voxels / t_gpu / 1e9, "goal_s": goal_s,
             "goal_met": None if goal_s is None else t_gpu <= goal_s, "equal_to_cpu": same(out_gpu, out_cpu)}
        rows.append(r)
        goal = "" if goal_s is None else f"goal {goal_s * 1e3:7.2f} ms {'met' if r['goal_met'] else 'MISSED'}"
        print(f"{name:<34} gpu {t_gpu * 1e3:9.3f} ms  cpu {t_cpu * 1e3:9.1f} ms  x{r['speedup']:7.1f}  "
              f"{r['gvox_per_s']:7.2f} Gvox/s  equal={r['equal_to_cpu']}  {goal}", flush=True)

    blob = blob_volume(n, seed=0)
    labels = ell600(n)
    blob_d, labels_d = cp.asarray(blob), cp.asarray(labels)
    row(f"ccl 26 binary u8 {n}^3", 5e-3, lambda: ops.connected_components(blob_d),
        lambda: ops.connected_components(blob, device="cpu"), blob.size)
    row(f"ccl 26 multi-label u32 {n}^3", 5e-3, lambda: ops.connected_components(labels_d),
        lambda: ops.connected_components(labels, device="cpu"), labels.size)
    pred = perturbed(labels)
    pred_d = cp.asarray(pred)
    row(f"overlaps u32 {n}^3", 1.5e-3, lambda: ops.overlaps(labels_d, pred_d),
        lambda: ops.overlaps(labels, pred, device="cpu"), labels.size)
    row(f"rescale order 0 u32 {n}^3 x0.5", 0.5e-3, lambda: ops.rescale(labels_d, 0.5, 0),
        lambda: ops.rescale(labels, 0.5, 0, device="cpu"), labels.size)
    row(f"rescale order 0 u32 {n // 2}^3 x2", None, lambda: ops.rescale(labels_d[::2, ::2, ::2].copy(), 2.0, 0),
        lambda: ops.rescale(np.ascontiguousarray(labels[::2, ::2, ::2]), 2.0, 0, device="cpu"), labels.size)
    smooth = blob.astype(np.float32)
    smooth_d = cp.asarray(smooth)
    row(f"rescale order 1 AA f32 {n}^3 x0.5", None, lambda: ops.rescale(smooth_d, 0.5, 1),
        lambda: ops.rescale(smooth, 0.5, 1, device="cpu"), smooth.size)
    row(f"unique u32 {n}^3", None, lambda: ops.unique(labels_d), lambda: ops.unique(labels, device="cpu"), labels.size)
    row(f"voxel_counts u32 {n}^3", None, lambda: ops.voxel_counts(labels_d),
        lambda: ops.voxel_counts(labels, device="cpu"), labels.size)
    mapping = {int(i): int(i) * 7 % 100003 for i in range(1, int(labels.max()) + 1)}
    row(f"remap u32 {n}^3", None, lambda: ops.remap(labels_d, mapping),
        lambda: ops.remap(labels, mapping, device="cpu"), labels.size)

    e = 256
    mask = blob_volume(e, seed=3).astype(bool)
    mask_d = cp.asarray(mask)
    row(f"edt anisotropic {e}^3", None, lambda: ops.distance_transform_edt(mask_d, (8.0, 4.0, 4.0)),
        lambda: ops.distance_transform_edt(mask, (8.0, 4.0, 4.0), device="cpu"), mask.size)

    truth = ellipsoid_labels(c, count=args.count, seed=5).astype(np.uint32)
    pred = perturbed(truth, seed=6)
    truth_d, pred_d = cp.asarray(truth), cp.asarray(pred)
    vs = (8.0, 8.0, 8.0)
    cap = min(v * s for v, s in zip(vs, truth.shape)) / 2
    row(f"hausdorff {c}^3 ~{args.count} inst", None, lambda: ops.hausdorff_distances(truth_d, pred_d, vs, cap),
        lambda: ops.hausdorff_distances(truth, pred, vs, cap, device="cpu"), truth.size)
    row(f"score_instance {c}^3 ~{args.count} inst", 0.3,
        lambda: score_instance(pred_d, truth_d, vs, device="gpu"),
        lambda: score_instance(pred, truth, vs, device="cpu"), truth.size)

    if args.out:
        args.out.write_text(json.dumps({"device": why, "rows": rows}, indent=2))
    bad = [r["kernel"] for r in rows if not r["equal_to_cpu"]]
    if bad:
        print("GPU result differs from the CPU path: " + ", ".join(bad), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
