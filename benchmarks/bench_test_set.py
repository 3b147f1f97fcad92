"""The whole test set at once: ``pycsc evaluate`` on a synthetic submission with the geometry
of the official test-crop manifest (413 (crop, class) rows, 16 crops, 88 G voxels).

Generation is seeded and cheap: arrays are Zarr v2 with 64^3 chunks and only the chunks that
hold objects are written (missing chunks = fill value 0). Per row:

* semantic classes: a few hundred blobs (ellipsoids) covering ~1-3 % of the crop, a few rows
  dense (a half-space "cytoplasm"); the prediction moves every blob by one voxel and drops
  some;
* instance classes: realistic counts of ellipsoids (a few large ones: ``nuc`` and ``cell``
  rows hold one object of about half the crop, ``ld`` a large droplet); the prediction
  shifts, grows/shrinks, misses and adds objects and uses other ids;
* a few rows are submitted at twice the voxel size (resampled by the evaluator).

Then it runs ``python -m pycsc evaluate`` in a fresh process, samples the memory of its
process tree (psutil, every 0.2 s), and prints wall time, peak memory, per-stage sums over
rows (from the results table) and the slowest rows, with the load average.

Scale down for development: ``--rows 40`` (a seeded subset of rows), ``--max-shape 256``
(every shape clipped per axis), ``--crops 559,562``. Goal (issue 15), full set on 2 quiet
cores: <= 180 s wall and <= 8 GB peak.

    python benchmarks/bench_test_set.py --rows 40 --max-shape 200      # development
    python benchmarks/bench_test_set.py                                 # the whole set
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MANIFEST = REPO.parent.parent / "shared" / "data" / "official" / "test_crop_manifest.csv"
if not MANIFEST.is_file():
    MANIFEST = Path("/work/shared/data/official/test_crop_manifest.csv")
INSTANCE = ("nuc", "vim", "ves", "endo", "lyso", "ld", "perox", "mito", "np", "mt", "cell", "instance")
CHUNK = 64
STAGES = ("load", "resample", "components", "matching", "remap", "hausdorff", "counts", "total")


def _vec(text: str, kind=float) -> tuple:
    return tuple(kind(v) for v in text.strip()[1:-1].split(";"))


def read_rows(path: Path, max_shape: int | None, n_rows: int | None, crops: set[str] | None, seed: int) -> list[dict]:
    rows = []
    with open(path) as fh:
        for r in csv.DictReader(fh):
            if crops and r["crop_name"] not in crops:
                continue
            shape = _vec(r["shape"], int)
            if max_shape:
                shape = tuple(min(s, max_shape) for s in shape)
            rows.append({"crop": int(r["crop_name"]), "label": r["class_label"], "vs": _vec(r["voxel_size"]),
                         "tr": _vec(r["translation"]), "shape": shape})
    if n_rows and n_rows < len(rows):
        rng = np.random.default_rng(seed)
        keep = sorted(rng.choice(len(rows), n_rows, replace=False))
        rows = [rows[i] for i in keep]
    return rows


# ----------------------------------------------------------------------------- objects

def instance_objects(label: str, shape, rng) -> list[tuple[np.ndarray, np.ndarray]]:
    """(centre, radii) in voxels; counts scale with the crop volume."""
    n = max(shape)
    vol = math.prod(shape)
    if label in ("nuc", "cell"):
        return [(np.array(shape) / 2 + rng.uniform(-0.05, 0.05, 3) * n, np.array(shape) * rng.uniform(0.3, 0.45))]
    if label == "ld":
        big = (np.array(shape) * rng.uniform(0.3, 0.7, 3), np.array(shape) * 0.18)
        small = [(rng.uniform(0, 1, 3) * shape, rng.uniform(3, 10, 3)) for _ in range(10)]
        return [big] + small
    per_mvox = {"ves": 40, "mito": 6, "mt": 10, "perox": 3, "lyso": 3, "endo": 3, "np": 2, "vim": 1}.get(label, 3)
    count = int(np.clip(per_mvox * vol / 1e6, 3, 3000))
    rmax = {"ves": 5, "mt": 4, "mito": 14}.get(label, 10)
    return [(rng.uniform(0, 1, 3) * shape, rng.uniform(2, rmax, 3)) for _ in range(count)]


def semantic_objects(label: str, shape, rng) -> list[tuple[np.ndarray, np.ndarray]]:
    vol = math.prod(shape)
    if label in ("cyto", "ecs") and rng.random() < 0.5:  # a few dense rows
        return [(np.array(shape) * np.array([0.5, 0.5, 0.25]), np.array(shape) * np.array([0.6, 0.6, 0.3]))]
    count = int(np.clip(2 * vol / 1e6, 2, 400))
    return [(rng.uniform(0, 1, 3) * shape, rng.uniform(4, 20, 3)) for _ in range(count)]


def perturb(objects, rng, instance: bool, shape) -> list:
    out = []
    for c, r in objects:
        if rng.random() < 0.05:
            continue  # missed
        out.append((c + rng.integers(-1, 2, 3), r * rng.uniform(0.9, 1.1) if instance else r))
    extra = max(1, len(objects) // 20)
    out += [(rng.uniform(0, 1, 3) * np.array(shape), rng.uniform(2, 6, 3)) for _ in range(extra)]  # false positives
    return out


# ----------------------------------------------------------------------------- writing

class SparseWriter:
    """A Zarr v2 array of `shape` whose chunks are rasterised from ellipsoids, written only
    where an object touches them."""

    def __init__(self, path: Path, shape, dtype, attrs: dict):
        import numcodecs

        self.path, self.shape, self.dtype = path, tuple(int(s) for s in shape), np.dtype(dtype)
        self.codec = numcodecs.Blosc(cname="zstd", clevel=3, shuffle=numcodecs.Blosc.SHUFFLE)
        path.mkdir(parents=True, exist_ok=True)
        meta = {"zarr_format": 2, "shape": list(self.shape), "chunks": [CHUNK] * 3, "dtype": self.dtype.str,
                "compressor": self.codec.get_config(), "fill_value": 0, "order": "C", "filters": None,
                "dimension_separator": "/"}
        (path / ".zarray").write_text(json.dumps(meta))
        (path / ".zattrs").write_text(json.dumps(attrs))

    def write(self, objects: list, ids: list[int]) -> int:
        by_chunk: dict[tuple, list] = {}
        for (c, r), i in zip(objects, ids):
            lo = np.maximum(np.floor(c - r).astype(int), 0)
            hi = np.minimum(np.ceil(c + r).astype(int) + 1, self.shape)
            if np.any(hi <= lo):
                continue
            for cz in range(lo[0] // CHUNK, (hi[0] - 1) // CHUNK + 1):
                for cy in range(lo[1] // CHUNK, (hi[1] - 1) // CHUNK + 1):
                    for cx in range(lo[2] // CHUNK, (hi[2] - 1) // CHUNK + 1):
                        by_chunk.setdefault((cz, cy, cx), []).append((c, r, i))
        full_cache: dict[int, bytes] = {}  # a chunk wholly inside one object: encode once
        for key, objs in by_chunk.items():
            origin = np.array(key) * CHUNK
            size = np.minimum(origin + CHUNK, self.shape) - origin
            last = objs[-1]
            if _box_inside(origin, origin + CHUNK - 1, last[0], last[1]):
                if last[2] not in full_cache:
                    full_cache[last[2]] = self.codec.encode(np.full((CHUNK,) * 3, last[2], self.dtype))
                self._put(key, full_cache[last[2]])
                continue
            block = np.zeros((CHUNK,) * 3, self.dtype)
            for c, r, i in objs:
                lo = np.maximum(np.floor(c - r).astype(int) - origin, 0)
                hi = np.minimum(np.ceil(c + r).astype(int) + 1 - origin, size)
                if np.any(hi <= lo):
                    continue
                if _box_inside(origin + lo, origin + hi - 1, c, r):
                    block[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = i
                    continue
                zz, yy, xx = np.ogrid[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
                d = (((zz + origin[0] - c[0]) / r[0]) ** 2 + ((yy + origin[1] - c[1]) / r[1]) ** 2
                     + ((xx + origin[2] - c[2]) / r[2]) ** 2).astype(np.float32)
                block[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]][d <= 1] = i
            if block.any():
                self._put(key, self.codec.encode(block))
        return len(by_chunk)

    def _put(self, key, data: bytes) -> None:
        out = self.path / "/".join(str(k) for k in key)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)


def _box_inside(lo, hi, c, r) -> bool:
    """All 8 corners of the voxel box [lo, hi] inside the ellipsoid (convex: the box is too)."""
    corners = np.array(np.meshgrid(*[(a, b) for a, b in zip(lo, hi)], indexing="ij")).reshape(3, -1).T
    return bool(np.all((((corners - c) / r) ** 2).sum(1) <= 1))


def generate(rows: list[dict], root: Path, seed: int, resampled_every: int = 60,
             workers: int = 2) -> tuple[Path, Path, Path]:
    """Write truth, submission and manifest under `root` (rows in parallel; resumable)."""
    truth_root, sub_root = root / "truth.zarr", root / "submission.zarr"
    for p in (truth_root, sub_root):
        p.mkdir(parents=True, exist_ok=True)
        (p / ".zgroup").write_text('{"zarr_format": 2}')
    fmt = lambda v: "[" + ";".join(str(x) for x in v) + "]"  # noqa: E731
    lines = ["crop_name,dataset,class_label,voxel_size,translation,shape"]
    t0 = time.perf_counter()
    done = root / ".rows_done"
    done.mkdir(exist_ok=True)
    from concurrent.futures import ProcessPoolExecutor

    todo = [(k, row) for k, row in enumerate(rows) if not (done / str(k)).is_file()]
    with ProcessPoolExecutor(workers) as pool:
        for n, k in enumerate(pool.map(_generate_row, [(k, row, truth_root, sub_root, seed, resampled_every, done)
                                                      for k, row in todo])):
            print(f"\rgenerated {n + 1}/{len(todo)} rows ({time.perf_counter() - t0:.0f} s)", end="", file=sys.stderr)
    print(file=sys.stderr)
    for row in rows:
        lines.append(f"{row['crop']},synthetic,{row['label']},{fmt(row['vs'])},{fmt(row['tr'])},{fmt(row['shape'])}")
    manifest = root / "manifest.csv"
    manifest.write_text("\n".join(lines) + "\n")
    return truth_root, sub_root, manifest


def _generate_row(job) -> int:
    k, row, truth_root, sub_root, seed, resampled_every, done = job
    rng = np.random.default_rng([seed, row["crop"], k])
    inst = row["label"] in INSTANCE
    shape = row["shape"]
    objs = (instance_objects if inst else semantic_objects)(row["label"], shape, rng)
    crop = f"crop{row['crop']}"
    attrs = {"voxel_size": list(row["vs"]), "translation": list(row["tr"])}
    dtype = np.uint32 if inst else np.uint8
    ids = list(range(1, len(objs) + 1)) if inst else [1] * len(objs)
    SparseWriter(truth_root / crop / row["label"], shape, dtype, attrs).write(objs, ids)
    pred = perturb(objs, rng, inst, shape)
    pids = list(rng.permutation(len(pred)) + 1) if inst else [1] * len(pred)
    if k % resampled_every == resampled_every - 1:  # submitted at twice the voxel size
        coarse = tuple(max(1, s // 2) for s in shape)
        pred = [(c / 2, np.maximum(r / 2, 1.0)) for c, r in pred]
        pattrs = {"voxel_size": [2 * v for v in row["vs"]], "translation": list(row["tr"])}
        SparseWriter(sub_root / crop / row["label"], coarse, dtype, pattrs).write(pred, pids)
    else:
        SparseWriter(sub_root / crop / row["label"], shape, dtype, attrs).write(pred, pids)
    (done / str(k)).write_text("")
    return k


# ----------------------------------------------------------------------------- running

def run_evaluate(truth: Path, sub: Path, manifest: Path, out: Path, extra: list[str]) -> tuple[float, int, int]:
    """(wall seconds, peak RSS of the process tree in bytes, exit status)."""
    import psutil

    env = dict(os.environ, PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "pycsc", "evaluate", str(sub), "--truth", str(truth), "--manifest", str(manifest),
           "--output", str(out / "results.json"), "--no-progress", *extra]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=str(REPO))
    peak = [0]
    stop = threading.Event()

    def sample():
        root = psutil.Process(proc.pid)
        while not stop.is_set():
            try:
                procs = [root] + root.children(recursive=True)
                rss = 0
                for p in procs:
                    try:
                        rss += p.memory_info().rss
                    except psutil.Error:
                        pass
                peak[0] = max(peak[0], rss)
            except psutil.Error:
                pass
            stop.wait(0.2)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    code = proc.wait()
    wall = time.perf_counter() - t0
    stop.set()
    th.join()
    return wall, peak[0], code


def report(out: Path, wall: float, peak: int, code: int, n_rows: int, voxels: int, top: int) -> None:
    import pyarrow.parquet as pq

    rows = pq.read_table(out / "results.parquet").to_pylist()
    sums = {s: sum((r.get(f"seconds_{s}") or 0.0) for r in rows) for s in STAGES}
    load = os.getloadavg()
    print(f"\nrows {n_rows}, {voxels / 1e9:.2f} G voxels; exit status {code}")
    print(f"wall {wall:.1f} s   peak memory (process tree) {peak / 2**30:.2f} GiB   "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    print("per-stage sums over rows (s):  " + "  ".join(f"{s} {v:.1f}" for s, v in sums.items()))
    status: dict[str, int] = {}
    for r in rows:
        status[r["status"]] = status.get(r["status"], 0) + 1
    print("status: " + ", ".join(f"{k} {v}" for k, v in sorted(status.items())))
    print(f"slowest {top} rows:")
    for r in sorted(rows, key=lambda r: -(r.get("seconds_total") or 0))[:top]:
        stages = "  ".join(f"{s} {r[f'seconds_{s}']:.1f}" for s in STAGES[:-1] if r.get(f"seconds_{s}"))
        print(f"  {r['crop']}/{r['label']:<10} {r['kind']:<9} {r['seconds_total']:7.1f} s  {stages}  "
              f"(n_truth {r.get('n_truth')}, n_pred {r.get('n_pred')}, align {r.get('align')})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", type=Path, default=MANIFEST, help="official test-crop manifest (default %(default)s)")
    ap.add_argument("--rows", type=int, help="a seeded subset of this many rows (default all)")
    ap.add_argument("--max-shape", type=int, help="clip every crop shape to this many voxels per axis")
    ap.add_argument("--crops", help="comma-separated crop ids to keep")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", type=Path, default=HERE / "out" / "test_set", help="where data are generated")
    ap.add_argument("--regenerate", action="store_true", help="rebuild the data even if present")
    ap.add_argument("--top", type=int, default=12, help="slowest rows to list")
    ap.add_argument("--generate-only", action="store_true", help="build the data and stop")
    ap.add_argument("--workers", type=int, help="passed to pycsc evaluate --workers")
    ap.add_argument("--memory-limit-gib", type=float, help="passed to pycsc evaluate")
    args = ap.parse_args()
    rows = read_rows(args.manifest, args.max_shape, args.rows, set(args.crops.split(",")) if args.crops else None,
                     args.seed)
    tag = f"s{args.seed}_r{args.rows or 'all'}_m{args.max_shape or 'full'}_c{(args.crops or 'all').replace(',', '-')}"
    root = args.data / tag
    if args.regenerate and root.exists():
        shutil.rmtree(root)
    if not (root / "manifest.csv").is_file():
        t0 = time.perf_counter()
        generate(rows, root, args.seed)
        print(f"generation {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    if args.generate_only:
        return
    out = root / "results"
    out.mkdir(exist_ok=True)
    extra = []
    if args.workers is not None:
        extra += ["--workers", str(args.workers)]
    if args.memory_limit_gib is not None:
        extra += ["--memory-limit-gib", str(args.memory_limit_gib)]
    print(f"uptime before: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    wall, peak, code = run_evaluate(root / "truth.zarr", root / "submission.zarr", root / "manifest.csv", out, extra)
    print(f"uptime after:  {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    report(out, wall, peak, code, len(rows), sum(math.prod(r["shape"]) for r in rows), args.top)
    print("goal (issue 15, whole set, quiet 2 cores): wall <= 180 s, peak <= 8 GB")


if __name__ == "__main__":
    main()
