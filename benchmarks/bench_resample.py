"""Benchmark pycsc.ops.rescale against skimage.transform.rescale on the same inputs.

Cases: order 0 on uint32 labels (instance path; no anti-aliasing), order 1 on float32
(semantic path) downsampled with scikit-image's default anti-aliasing and upsampled.
Rates are input voxels per second. Usage:

    PYTHONPATH=$PWD python benchmarks/bench_resample.py --size 256 [--up-size 128]
        [--repeat 3] [--skip-reference]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import numpy as np

from pycsc.ops import rescale

from _data import ellipsoid_labels as _ellipsoids  # benchmarks/ is the script's directory


def ellipsoid_labels(n: int, count: int, seed: int = 1) -> np.ndarray:
    return _ellipsoids(n, count, 3, 12, seed=seed)


def soft_mask(n: int, seed: int = 2) -> np.ndarray:
    """A float32 probability-like volume: smooth noise squashed to [0, 1]."""
    rng = np.random.default_rng(seed)
    coarse = rng.standard_normal((n // 8 + 2,) * 3).astype(np.float32)
    f = np.repeat(np.repeat(np.repeat(coarse, 8, 0), 8, 1), 8, 2)[:n, :n, :n]
    return (1 / (1 + np.exp(-2 * f))).astype(np.float32)


def timed(fn, repeat: int) -> tuple[float, float]:
    """Median wall time and median CPU time (all threads) after one warm-up call. On a
    shared machine the CPU time shows the work even when the wall time shows the queue."""
    fn()
    walls, cpus = [], []
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=256, help="edge of the downsampling inputs")
    p.add_argument("--up-size", type=int, default=128, help="edge of the upsampling inputs")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--skip-reference", action="store_true", help="time pycsc only")
    args = p.parse_args()
    from skimage.transform import rescale as sk_rescale

    n, m = args.size, args.up_size
    labels = ellipsoid_labels(n, max(1, n**3 // 20000))
    labels_up = labels[:m, :m, :m].copy()
    mask = soft_mask(n)
    mask_up = mask[:m, :m, :m].copy()
    cases = [
        ("order0 u32 x0.5", labels, 0.5, 0),
        ("order0 u32 x0.75", labels, 0.75, 0),
        ("order0 u32 x0.25", labels, 0.25, 0),
        (f"order0 u32 x2 ({m}^3)", labels_up, 2, 0),
        ("order1 f32 x0.5 aa", mask, 0.5, 1),
        ("order1 f32 x0.75 aa", mask, 0.75, 1),
        ("order1 f32 x0.25 aa", mask, 0.25, 1),
        (f"order1 f32 x2 ({m}^3)", mask_up, 2, 1),
        (f"order1 f32 (2,1.5,1.5) ({m}^3)", mask_up, (2, 1.5, 1.5), 1),
    ]
    chunk = np.ascontiguousarray(mask[:297, :297, :297]) if n >= 297 else None
    if chunk is not None:
        cases.append(("order1 f32 x0.5 aa (297^3 chunk)", chunk, 0.5, 1))
        cases.append(("order0 u32 x0.5 (297^3 chunk)", np.ascontiguousarray(labels[:297, :297, :297]), 0.5, 0))
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(
        f"{'case':34s} {'pycsc':>9s} {'cpu':>8s} {'Gvox/s':>7s} {'skimage':>10s} {'Gvox/s':>7s} "
        f"{'speedup':>8s} exact"
    )
    for name, img, scale, order in cases:
        ours, ours_cpu = timed(lambda: rescale(img, scale, order), args.repeat)
        rate = img.size / ours / 1e9
        if args.skip_reference:
            print(f"{name:34s} {ours * 1e3:7.1f}ms {ours_cpu * 1e3:6.0f}ms {rate:7.2f}")
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")

            def ref():
                return sk_rescale(img, scale, order=order, mode="constant", preserve_range=True)

            theirs, _ = timed(ref, max(1, args.repeat // 2))
            exact = np.array_equal(ref(), rescale(img, scale, order))
        print(
            f"{name:34s} {ours * 1e3:7.1f}ms {ours_cpu * 1e3:6.0f}ms {rate:7.2f} {theirs * 1e3:8.1f}ms "
            f"{img.size / theirs / 1e9:7.3f} {theirs / ours:7.1f}x {exact}"
        )


if __name__ == "__main__":
    main()
