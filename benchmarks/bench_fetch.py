"""Fetch throughput from a local S3-compatible server: pycsc's concurrent download against a
plain sequential boto3 copy of the same keys, in the same run.

A simulated dataset (``--preset``) is uploaded to moto running in a child process on
127.0.0.1. The keys are those ``csc fetch`` plans for every crop (ground truth plus the EM
chunks around the crops). For each ``--latency-ms`` value the server adds that delay to every
request (0 = loopback; 20-50 ms is typical of S3 seen from outside its region), then:

* ``boto3 sequential``: one unsigned client, ``get_object`` key after key, file writes;
* ``pycsc fetch``: :func:`pycsc.fetch.download.download` with ``--workers`` threads
  (atomic writes, skip-existing checks included);
* ``pycsc end-to-end``: the whole ``fetch`` (crawl + plan + download).

Each is run ``--reps`` times into a fresh folder; the median is reported.
Needs the ``test`` extra (moto). Example: ``python benchmarks/bench_fetch.py --preset tiny``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def sequential_boto3(endpoint: str, bucket: str, keys: list[str], dest: Path) -> tuple[int, int]:
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          config=Config(signature_version=UNSIGNED))
    n = nbytes = 0
    for key in keys:
        try:
            data = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except client.exceptions.NoSuchKey:
            continue
        path = dest.joinpath(*key.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        n, nbytes = n + 1, nbytes + len(data)
    return n, nbytes


def timed(fn, reps: int):
    times, out = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="small", choices=("tiny", "small", "medium"))
    ap.add_argument("--latency-ms", default="0,20", help="comma-separated per-request latencies")
    ap.add_argument("--workers", type=int, default=32)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from pycsc.config import FetchConfig
    from pycsc.fetch import fetch, plan_fetch
    from pycsc.fetch.download import download
    from pycsc.fetch.testing import LocalS3Server, upload_tree
    from pycsc.io.s3 import S3Client
    from pycsc.simulate import simulate

    work = Path(tempfile.mkdtemp(prefix="bench_fetch_"))
    try:
        t0 = time.perf_counter()
        sim = simulate(work / "source", args.preset, seed=args.seed)
        print(f"simulated preset {args.preset!r} in {time.perf_counter() - t0:.1f} s")
        rows = []
        for latency_ms in [float(v) for v in args.latency_ms.split(",")]:
            with LocalS3Server(latency_s=latency_ms / 1000, subprocess=True) as server:
                admin = server.admin_client()
                for ds in sim.datasets:
                    upload_tree(admin, "bench", work / "source" / ds, prefix=f"{ds}/", workers=16)
                cfg = FetchConfig(bucket="bench", endpoint_url=server.endpoint_url, workers=args.workers,
                                  progress=False, test_manifest=sim.test_manifest, dest=work / "x")
                client = S3Client("bench", endpoint_url=server.endpoint_url, max_connections=args.workers)
                plan = plan_fetch(cfg, client)
                keys = [i.key for i in plan.items]

                def fresh(name: str) -> Path:
                    d = work / name
                    shutil.rmtree(d, ignore_errors=True)
                    return d

                t_seq, (n_seq, b_seq) = timed(lambda: sequential_boto3(server.endpoint_url, "bench", keys,
                                                                       fresh("seq")), args.reps)
                t_par, stats = timed(lambda: download(client, plan.items, fresh("par"), workers=args.workers,
                                                      progress=False), args.reps)
                assert stats.downloaded == n_seq and stats.bytes == b_seq, (stats, n_seq, b_seq)
                t_e2e, _ = timed(lambda: fetch(FetchConfig(**{**cfg.__dict__, "dest": fresh("e2e")}), client),
                                 args.reps)
                for label, t in (("boto3 sequential", t_seq), (f"pycsc fetch ({args.workers} workers)", t_par),
                                 ("pycsc end-to-end (crawl+plan+copy)", t_e2e)):
                    rows.append((latency_ms, label, n_seq, b_seq, t, t_seq / t))
        print(f"\n{'latency':>8} {'method':<36} {'objects':>8} {'MB':>8} {'s':>8} {'MB/s':>8} "
              f"{'obj/s':>8} {'vs seq':>7}")
        for latency_ms, label, n, b, t, ratio in rows:
            print(f"{latency_ms:>6.0f}ms {label:<36} {n:>8} {b / 1e6:>8.2f} {t:>8.2f} {b / 1e6 / t:>8.1f} "
                  f"{n / t:>8.0f} {ratio:>6.1f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
