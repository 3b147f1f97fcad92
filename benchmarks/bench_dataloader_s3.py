"""Training-patch loading from S3 vs local disk: patches per second, same data, same reader.

Builds (seeded) a CellMap-layout dataset in a temporary folder (EM `--size`^3 uint8 noise at
8 nm with an s1 level, one crop with `--classes` uint32 label groups, chunks 64^3), uploads it
to a local S3 server (moto on 127.0.0.1, in a child process) that adds `--latency-ms` to every
request, and times :class:`pycsc.data.dataset.PatchReader.read` of `--n` random patches:

* ``local``      the arrays on disk (the reference);
* ``S3 cold``    streamed with the chunk cache off (``s3.cache_mb = 0``): every chunk of every
                 patch is a request;
* ``S3 warm``    streamed with the default cache after one pass over the same patches (a
                 training epoch revisiting its crops): the goal is within 2x of local.

Usage: python benchmarks/bench_dataloader_s3.py [--size 256] [--patch 96] [--n 8] [--latency-ms 20]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def build(root: Path, size: int, n_classes: int, seed: int = 0) -> list[str]:
    sys.path.insert(0, str(Path(__file__).parent))
    from _data import ellipsoid_labels, write_multiscale

    rng = np.random.default_rng(seed)
    em = rng.integers(0, 256, (size,) * 3, dtype=np.uint8)
    base = root / "b-1" / "b-1.zarr" / "recon-1"
    write_multiscale(base / "em" / "fibsem-uint8", [em, em[::2, ::2, ::2]], [8.0] * 3)
    classes = [f"c{i}" for i in range(n_classes)]
    for k, c in enumerate(classes):
        lab = ellipsoid_labels(size, count=size * 4, rmin=3, rmax=12, seed=seed + k)
        write_multiscale(base / "labels" / "groundtruth" / "crop1" / c, [lab, lab[::2, ::2, ::2]], [8.0] * 3)
    return classes


def rows_under(root: str, classes) -> list:
    from pycsc.data.datasplit import SplitRow

    base = f"{root}/b-1/b-1.zarr/recon-1"
    return [SplitRow("train", f"{base}/em/fibsem-uint8", f"{base}/labels/groundtruth/crop1", tuple(classes))]


def rate(reader, corners, p: int) -> float:
    t = time.perf_counter()
    for c in corners:
        reader.read(0, c * 8.0 - 4.0, (p,) * 3)
    return len(corners) / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=256, help="EM and crop edge in voxels")
    ap.add_argument("--patch", type=int, default=96)
    ap.add_argument("--classes", type=int, default=3)
    ap.add_argument("--n", type=int, default=8, help="patches per measurement")
    ap.add_argument("--latency-ms", type=float, default=20.0, help="added to every S3 request")
    args = ap.parse_args()

    from pycsc.config import S3StreamConfig
    from pycsc.data.dataset import PatchReader
    from pycsc.fetch.testing import LocalS3Server, upload_tree
    from pycsc.io import s3_arrays

    p = args.patch
    with tempfile.TemporaryDirectory() as tmp, \
            LocalS3Server(latency_s=args.latency_ms / 1000, subprocess=True) as server:
        root = Path(tmp)
        classes = build(root, args.size, args.classes)
        upload_tree(server.admin_client(), "bench-s3", root / "b-1", prefix="b-1/", workers=16)
        rng = np.random.default_rng(1)
        corners = [rng.integers(0, args.size - p + 1, 3) for _ in range(args.n)]
        shape = (p,) * 3

        local = PatchReader(rows_under(str(root), classes), classes, shape, (8.0,) * 3)
        local.read(0, corners[0] * 8.0 - 4.0, shape)       # opens arrays
        local_rate = rate(local, corners, p)

        def s3_reader(cache_mb: int):
            s3_arrays.reset()
            s3_arrays.configure(S3StreamConfig(endpoint_url=server.endpoint_url, cache_mb=cache_mb))
            reader = PatchReader(rows_under("s3://bench-s3", classes), classes, shape, (8.0,) * 3)
            reader.crop(0)                                   # opens arrays (metadata requests)
            return reader

        cold_rate = rate(s3_reader(0), corners, p)
        warm = s3_reader(1024)
        first_pass = rate(warm, corners, p)
        warm_rate = rate(warm, corners, p)
    load = os.getloadavg()
    print(f"\n{p}^3 patches, EM + {args.classes} label classes, {args.size}^3 volumes, 64^3 chunks, "
          f"{args.latency_ms:g} ms per S3 request")
    print(f"{'loader':40s} {'patches/s':>10s} {'s/patch':>9s} {'vs local':>9s}")
    for name, r in (("local disk (reference)", local_rate), ("S3 cold (no chunk cache)", cold_rate),
                    ("S3 first pass (cache filling)", first_pass), ("S3 warm (cache 1024 MB)", warm_rate)):
        print(f"{name:40s} {r:10.2f} {1 / r:9.3f} {r / local_rate:9.2f}")
    goal = "met" if warm_rate * 2 >= local_rate else "NOT met"
    print(f"goal S3 warm within 2x of local: {goal} (local/warm = {local_rate / warm_rate:.2f})")
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
