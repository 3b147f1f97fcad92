"""Training-patch loading speed: patches per second for 128^3 patches.

Builds (seeded) a CellMap-layout dataset in a temporary folder: EM of `--size`^3 uint8 noise
at 8 nm with an s1 level, and one crop with `--classes` label groups (uint32 ellipsoid ids from
``_data.ellipsoid_labels``, 8 nm, s0 and s1). Then times, on the same data:

* ``zarr-python read``   the reference: the EM box and every label box read with
                         zarr-python (what a naive loader does), no resampling;
* ``pycsc read``         :class:`PatchReader.read` (tensorstore, targets with NaN/true negatives);
* ``pycsc augmented``    :class:`RandomPatches` with mirror/transpose/quarter turns and intensity;
* ``pycsc rotated``      the same plus an arbitrary rotation (enlarged read + grid_sample);
* ``pycsc resampled``    training at 12 nm: every source resampled with the native rescale;
* ``DataLoader xN``      the augmented dataset behind a DataLoader with N spawn workers.

Usage: python benchmarks/bench_dataloader.py [--size 320] [--patch 128] [--n 8] [--workers 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _data import ellipsoid_labels


def _write(group: Path, levels, vs0):
    import zarr

    g = zarr.open_group(str(group), mode="w", zarr_format=2)
    datasets = []
    for k, data in enumerate(levels):
        vs = [v * 2 ** k for v in vs0]
        tr = [(v - v0) / 2 for v, v0 in zip(vs, vs0)]
        a = g.create_array(f"s{k}", shape=data.shape, dtype=data.dtype, chunks=(64, 64, 64),
                           chunk_key_encoding={"name": "v2", "separator": "/"})
        a[:] = data
        datasets.append({"path": f"s{k}", "coordinateTransformations": [
            {"type": "scale", "scale": vs}, {"type": "translation", "translation": tr}]})
    g.attrs["multiscales"] = [{"version": "0.4", "axes": [{"name": a, "type": "space", "unit": "nanometer"}
                                                           for a in "zyx"], "datasets": datasets}]


def build(root: Path, size: int, n_classes: int, seed: int = 0):
    from pycsc.data.datasplit import SplitRow

    rng = np.random.default_rng(seed)
    em = rng.integers(0, 256, (size,) * 3, dtype=np.uint8)
    base = root / "data" / "b-1" / "b-1.zarr" / "recon-1"
    _write(base / "em" / "fibsem-uint8", [em, em[::2, ::2, ::2]], [8.0] * 3)
    classes = [f"c{i}" for i in range(n_classes)]
    crop = base / "labels" / "groundtruth" / "crop1"
    for k, c in enumerate(classes):
        lab = ellipsoid_labels(size, count=size * 4, rmin=3, rmax=12, seed=seed + k)
        _write(crop / c, [lab, lab[::2, ::2, ::2]], [8.0] * 3)
    return [SplitRow("train", str(base / "em" / "fibsem-uint8"), str(crop), tuple(classes))], classes


def rate(fn, n: int) -> float:
    fn(0)  # warm-up (opens arrays, imports)
    t = time.perf_counter()
    for i in range(1, n + 1):
        fn(i)
    return n / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=320, help="EM and crop edge in voxels")
    ap.add_argument("--patch", type=int, default=128)
    ap.add_argument("--classes", type=int, default=3)
    ap.add_argument("--n", type=int, default=8, help="patches per measurement")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    import torch
    import zarr

    from pycsc.config import AugmentConfig
    from pycsc.data.dataset import PatchReader, RandomPatches

    torch.set_num_threads(1)
    p = args.patch
    with tempfile.TemporaryDirectory() as tmp:
        rows, classes = build(Path(tmp), args.size, args.classes)
        room = args.size - p
        rng = np.random.default_rng(1)
        corners = [rng.integers(0, room + 1, 3) for _ in range(args.n + 1)]

        em = zarr.open_array(rows[0].raw + "/s0", mode="r")
        labels = [zarr.open_array(f"{rows[0].crop}/{c}/s0", mode="r") for c in classes]

        def zarr_read(i):
            z, y, x = corners[i]
            box = (slice(z, z + p), slice(y, y + p), slice(x, x + p))
            _ = em[box].astype(np.float32) / 255
            _ = [np.asarray(lab[box] > 0, np.float32) for lab in labels]

        reader = PatchReader(rows, classes, (p,) * 3, (8.0,) * 3)

        def pycsc_read(i):
            reader.read(0, corners[i] * 8.0 - 4.0, (p,) * 3)

        aug = RandomPatches(reader, 3, AugmentConfig())
        rot = RandomPatches(reader, 3, AugmentConfig(rotate_deg=180.0))
        coarse = RandomPatches(PatchReader(rows, classes, (p,) * 3, (12.0,) * 3), 3, AugmentConfig())
        results = [("zarr-python read (reference)", rate(zarr_read, args.n)),
                   ("pycsc read", rate(pycsc_read, args.n)),
                   ("pycsc augmented", rate(lambda i: aug[(0, i)], args.n)),
                   ("pycsc rotated", rate(lambda i: rot[(0, i)], max(2, args.n // 2))),
                   ("pycsc resampled (12 nm)", rate(lambda i: coarse[(0, i)], max(2, args.n // 2)))]
        if args.workers:
            from pycsc.train.loop import _worker_init

            keys = [(0, i) for i in range(4 * args.n)]
            loader = torch.utils.data.DataLoader(aug, batch_size=2, sampler=keys, num_workers=args.workers,
                                                 multiprocessing_context="spawn", worker_init_fn=_worker_init,
                                                 prefetch_factor=2)
            it = iter(loader)
            next(it)  # worker start-up excluded
            t = time.perf_counter()
            n = 0
            for batch in it:
                n += batch["raw"].shape[0]
            results.append((f"DataLoader x{args.workers} workers (augmented)", n / (time.perf_counter() - t)))
    ref = results[0][1]
    print(f"\n{p}^3 patches, EM + {args.classes} label classes, {args.size}^3 volumes")
    print(f"{'loader':44s} {'patches/s':>10s} {'s/patch':>9s} {'vs ref':>7s}")
    for name, r in results:
        print(f"{name:44s} {r:10.2f} {1 / r:9.3f} {r / ref:7.2f}")


if __name__ == "__main__":
    main()
