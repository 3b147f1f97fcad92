"""Training-patch loading speed: pycsc vs cellmap-data (the official loader), same data, one run.

Builds (seeded) a CellMap-layout dataset in a temporary folder: EM of `--size`^3 uint8 noise
at 8 nm (s0, s1) and one crop with `--classes` label groups (uint32 ellipsoid ids from
``_data.ellipsoid_labels``, 8 nm, s0 and s1). Then measures patches/s of 128^3 patches,
batch 2, through a torch DataLoader with 0 and `--workers` worker processes, for:

* ``flips``     mirrors on every axis and axis transposes (pycsc adds quarter turns and
                contrast; binary targets with masks for pycsc, binarised ids for cellmap-data);
* ``rotation``  the same plus an arbitrary 3D rotation (any angle about z, y and x);
* ``sdt``       flips with signed-distance targets (pycsc: ``[train.targets]`` sdt with its
                label context; cellmap-data has no such target: a scipy EDT value transform,
                what a user of it would write).

cellmap-data needs torchvision, whose PyPI build is linked to CUDA torch and does not load
with torch's CPU wheel: the runner declares torchvision's two unguarded detection ops
(``nms``, ``qnms``) before importing it; cellmap-data never calls them. cellmap-data is run
by `--cellmap-python` (its own venv: ``pip install torch==2.13.0`` then ``cellmap-data``) on
the same files; without it only pycsc's rows are printed.

Usage: python benchmarks/bench_dataloader.py [--size 256] [--n 16] [--workers 2]
       [--cellmap-python /tmp/venv/bin/python]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PATCH = 128
VS = 8.0


# ---- data ------------------------------------------------------------------------------------

def build(root: Path, size: int, n_classes: int, seed: int = 0) -> dict:
    from _data import ellipsoid_labels, write_multiscale

    rng = np.random.default_rng(seed)
    em = rng.integers(0, 256, (size,) * 3, dtype=np.uint8)
    base = root / "data" / "b-1" / "b-1.zarr" / "recon-1"
    write_multiscale(base / "em" / "fibsem-uint8", [em, em[::2, ::2, ::2]], [VS] * 3)
    classes = [f"c{i}" for i in range(n_classes)]
    crop = base / "labels" / "groundtruth" / "crop1"
    for k, c in enumerate(classes):
        lab = ellipsoid_labels(size, count=size * 4, rmin=3, rmax=12, seed=seed + k)
        write_multiscale(crop / c, [lab, lab[::2, ::2, ::2]], [VS] * 3)
    return {"raw": str(base / "em" / "fibsem-uint8"), "crop": str(crop), "classes": classes}


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def _rate(loader, warm_up: int) -> float:
    """Patches/s over every batch of `loader` after the first `warm_up` (each worker's first
    batch: process start, array opening); the loader runs to its end, so its workers shut
    down cleanly."""
    it = iter(loader)
    for _ in range(warm_up):
        next(it)
    t, cpu = time.perf_counter(), time.process_time()
    n = 0
    for batch in it:
        n += next(v for v in batch.values() if hasattr(v, "shape")).shape[0]
    CPU_RATES.append(n / max(time.process_time() - cpu, 1e-9))   # this process's CPU only
    return n / (time.perf_counter() - t)


CPU_RATES: list[float] = []


def _worker_threads(_):
    import torch

    torch.set_num_threads(1)


# ---- pycsc -----------------------------------------------------------------------------------

def run_pycsc(data: dict, scenario: str, workers: int, n_batches: int, cache: bool = True) -> float:
    import torch

    from pycsc.config import AugmentConfig
    from pycsc.data.dataset import PatchReader, RandomPatches
    from pycsc.data.datasplit import SplitRow

    rows = [SplitRow("train", data["raw"], data["crop"], tuple(data["classes"]))]
    targets = {c: {"kind": "sdt", "scale_nm": 50.0} for c in data["classes"]} if scenario == "sdt" else None
    aug = AugmentConfig(rotate_deg=180.0, rotate_axes=("z", "y", "x")) if scenario == "rotation" else AugmentConfig()
    reader = PatchReader(rows, data["classes"], (PATCH,) * 3, (VS,) * 3, targets=targets, cache=cache)
    keys = [(0, i) for i in range(2 * (n_batches + max(1, workers)))]
    kwargs = dict(num_workers=workers, multiprocessing_context="spawn", worker_init_fn=_worker_threads,
                  prefetch_factor=2) if workers else {}
    loader = torch.utils.data.DataLoader(RandomPatches(reader, 3, aug), batch_size=2, sampler=keys, **kwargs)
    return _rate(loader, max(1, workers))


# ---- cellmap-data (run in its own venv) ------------------------------------------------------

def _raw_to_unit(x):
    return x.float() / 255.0


def _binarise(x):
    return (x > 0).float()


def _sdt(x):
    import torch
    from scipy import ndimage as ndi

    fg = (x > 0).numpy()
    d = ndi.distance_transform_edt(fg, sampling=VS) - ndi.distance_transform_edt(~fg, sampling=VS)
    return torch.from_numpy(np.tanh(d / 50.0).astype(np.float32))


def run_cellmap(data: dict, scenario: str, workers: int, n_batches: int) -> float:
    import torch

    lib = torch.library.Library("torchvision", "DEF")     # see the module docstring
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    from cellmap_data import CellMapDataLoader, CellMapDataset

    spatial = {"mirror": {"axes": {"z": 0.5, "y": 0.5, "x": 0.5}}, "transpose": True}
    if scenario == "rotation":
        spatial["rotate"] = {"axes": {"z": 180.0, "y": 180.0, "x": 180.0}}
    spec = {"shape": (PATCH,) * 3, "scale": (VS,) * 3}
    ds = CellMapDataset(raw_path=data["raw"], target_path=f"{data['crop']}/[{','.join(data['classes'])}]",
                        classes=data["classes"], input_arrays={"raw": spec}, target_arrays={"gt": spec},
                        spatial_transforms=spatial, raw_value_transforms=_raw_to_unit,
                        target_value_transforms=_sdt if scenario == "sdt" else _binarise, seed=0)
    picks = np.random.default_rng(0).integers(0, len(ds), 2 * (n_batches + max(1, workers))).tolist()
    loader = CellMapDataLoader(ds, batch_size=2, num_workers=workers, sampler=picks, device="cpu")
    return _rate(loader, max(1, workers))


# ---- driver ----------------------------------------------------------------------------------

SCENARIOS = ("flips", "rotation", "sdt")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=256, help="EM and crop edge in voxels")
    ap.add_argument("--classes", type=int, default=4)
    ap.add_argument("--n", type=int, default=6, help="timed batches per measurement (after each worker's first)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scenarios", nargs="*", default=list(SCENARIOS), choices=SCENARIOS)
    ap.add_argument("--cellmap-python", default=None, help="python of a venv with cellmap-data")
    ap.add_argument("--cellmap-only", default=None, help=argparse.SUPPRESS)   # JSON data spec (runner mode)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    if args.cellmap_only:
        data = json.loads(args.cellmap_only)
        for scenario in args.scenarios:
            for w in (0, args.workers):
                try:
                    r = run_cellmap(data, scenario, w, args.n)
                except Exception as exc:  # report, keep the other rows
                    r = f"failed: {type(exc).__name__}: {exc}"
                cpu = CPU_RATES[-1] if w == 0 and isinstance(r, float) else None
                print(json.dumps({"scenario": scenario, "workers": w, "rate": r, "cpu": cpu}), flush=True)
        return

    sys.path.insert(0, str(Path(__file__).parent))
    with tempfile.TemporaryDirectory() as tmp:
        data = build(Path(tmp), args.size, args.classes)
        print(f"load before: {_uptime()}", flush=True)
        ours = {}
        for scenario in args.scenarios:
            for w in (0, args.workers):
                ours[(scenario, w)] = run_pycsc(data, scenario, w, args.n)
                if w == 0:
                    ours[(scenario, "cpu")] = CPU_RATES[-1]
                print(f"  pycsc {scenario} x{w}: {ours[(scenario, w)]:.2f} patches/s", flush=True)
                if (scenario, w) == (args.scenarios[0], 0):   # next to its cached twin
                    uncached = run_pycsc(data, scenario, 0, args.n, cache=False)
        theirs = {}
        if args.cellmap_python:
            env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            proc = subprocess.run([args.cellmap_python, __file__, "--cellmap-only", json.dumps(data),
                                   "--n", str(args.n), "--workers", str(args.workers),
                                   "--scenarios", *args.scenarios], capture_output=True, text=True, env=env)
            for line in proc.stdout.splitlines():
                if line.startswith("{"):
                    row = json.loads(line)
                    theirs[(row["scenario"], row["workers"])] = row["rate"]
                    if row.get("cpu"):
                        theirs[(row["scenario"], "cpu")] = row["cpu"]
            if proc.returncode:
                print(f"cellmap-data runner failed ({proc.returncode}): {proc.stderr.strip()[-800:]}")
        print(f"load after:  {_uptime()}")
    print(f"\n{PATCH}^3 patches at {VS:g} nm, EM + {args.classes} classes, batch 2, {args.size}^3 volumes")
    print(f"{'scenario':10s} {'workers':>7s} {'pycsc':>9s} {'cellmap-data':>13s} {'ratio':>7s}   (patches/s)")
    for scenario in args.scenarios:
        for w in (0, args.workers):
            ref = theirs.get((scenario, w))
            ref_text = f"{ref:13.2f}" if isinstance(ref, float) else f"{'n/a':>13s}"
            ratio = f"{ours[(scenario, w)] / ref:7.2f}" if isinstance(ref, float) else f"{'':>7s}"
            print(f"{scenario:10s} {w:7d} {ours[(scenario, w)]:9.2f} {ref_text} {ratio}")
            if isinstance(ref, str):
                print(f"           cellmap-data {ref}")
    print(f"pycsc {args.scenarios[0]} x0 without the in-memory crop cache: {uncached:.2f} patches/s")
    print("\nworkers 0, patches per CPU second of the loading process (load-independent; what one "
          "quiet core gives):")
    for sc in args.scenarios:
        ref = theirs.get((sc, "cpu"))
        print(f"{sc:10s} {'cpu':>7s} {ours[(sc, 'cpu')]:9.2f} "
              + (f"{ref:13.2f} {ours[(sc, 'cpu')] / ref:7.2f}" if ref else f"{'n/a':>13s}"))


if __name__ == "__main__":
    main()
