"""Benchmark `csc process` against a plain zarr + cc3d + fastremap script and against scipy.

Same inputs, same run, median of --repeat runs after one warm-up. Inputs are synthetic
probability volumes written the way `csc predict` writes them (OME-NGFF group per class,
uint8 = round(255 p), 64^3 chunks, Blosc-zstd); instance classes get a threshold of 0.5, 26-
connected components and objects below the minimum size removed; semantic classes a threshold.

Cases (--cases, comma list):

* ``demo``: the demo's four test crops (``csc demo``, preset small, 8 nm model grid) with the
  demo's classes (mito and cell as instances, min size 20; ecs and cyto semantic);
* ``issue``: two crops x four classes of 16.8 and 17.8 M voxels (mito and nuc as instances,
  min size 100; er and ecs semantic), the measurement of issue 19;
* ``600``: one 600^3 crop (216 M voxels) with mito (instance, min size 100) and er.

Rows: ``whole`` times the command's work from the stored predictions to the stored outputs:
``pycsc`` is :func:`pycsc.process.process` (what ``csc process`` runs, without interpreter
start-up), ``cc3d`` a plain script (zarr-python read, threshold, ``cc3d.connected_components``,
``cc3d.dust``, ``fastremap.renumber`` and ``refit``, zarr-python write with the same codec and
chunks), ``scipy`` the same with ``ndimage.label`` and ``bincount``; ``io floor`` reads every
input and writes every pycsc output once (tensorstore, same codec), nothing else. ``work`` times
the same steps on arrays already in memory. Every run's outputs are checked against the cc3d
script's (equal voxel for voxel: both number objects in raster order).

Each row gives medians of wall and CPU seconds (the whole process, all threads); the
contenders take turns within each round, so load changes touch them alike. On a shared
machine the CPU ratios are the steadier ones; print `uptime` with every number.

    PYTHONPATH=$PWD python benchmarks/bench_process.py                 # demo,issue,600
    PYTHONPATH=$PWD python benchmarks/bench_process.py --cases issue --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

CASES = {
    # name: (crops {crop: shape}, classes {class: min_size or None for semantic})
    "demo": ({"crop901": (64, 80, 80), "crop902": (64, 80, 80), "crop903": (56, 64, 64),
              "crop904": (56, 80, 80)},
             {"mito": 20, "cell": 20, "ecs": None, "cyto": None}),
    "issue": ({"crop1": (256, 256, 256), "crop2": (240, 272, 272)},
              {"mito": 100, "nuc": 100, "er": None, "ecs": None}),
    "600": ({"crop600": (600, 600, 600)}, {"mito": 100, "er": None}),
}
# Object scale (voxels per random feature) and foreground fraction per class.
LOOKS = {"mito": (6, 0.08), "cell": (24, 0.4), "nuc": (24, 0.15), "er": (4, 0.12),
         "ecs": (8, 0.2), "cyto": (16, 0.5)}
THRESHOLD = 0.5


def probability_volume(shape, cls: str, seed: int) -> np.ndarray:
    """Smooth random probabilities: Gaussian noise on a coarse grid, upsampled linearly, then
    a steep sigmoid around the level that leaves the class's foreground fraction above 0.5."""
    from scipy import ndimage as ndi

    step, frac = LOOKS[cls]
    rng = np.random.default_rng(seed)
    coarse = tuple(max(2, -(-s // step) + 1) for s in shape)
    f = ndi.gaussian_filter(rng.standard_normal(coarse, dtype=np.float32), 1.0)
    level = np.quantile(f, 1 - frac)
    f = ndi.zoom(f, [s / c for s, c in zip(shape, coarse)], order=1, grid_mode=True, mode="nearest")
    f = f[tuple(slice(0, s) for s in shape)]
    f -= level
    f *= np.float32(-8.0 / f.std())
    np.exp(f, out=f)
    f += 1
    return np.rint(np.float32(255) / f).astype(np.uint8)


def write_inputs(root: Path, case: str, seed: int = 0) -> str:
    """The case's prediction groups under `root` (reused when present); returns the template."""
    from pycsc.data import _store

    crops, classes = CASES[case]
    done = root / case / "done"
    template = str(root / case / "{dataset}.zarr" / "{crop}")
    if done.is_file():
        return template
    for i, (crop, shape) in enumerate(crops.items()):
        group = root / case / "bench.zarr" / crop
        _store.ensure_parent_groups(group / "_")
        for j, cls in enumerate(classes):
            arr = _store.create_volume(group / cls, shape, "uint8", (8.0,) * 3, (4.0,) * 3,
                                       tuple(min(64, s) for s in shape),
                                       attrs={"pycsc_kind": "probability"})
            arr.write(probability_volume(shape, cls, seed * 1000 + i * 10 + j)).result()
    done.write_text("ok")
    return template


# ---- the reference scripts --------------------------------------------------------------------

def _zarr_write(path: Path, data: np.ndarray) -> None:
    """zarr-python write with pycsc's codec and chunks (so both write the same bytes)."""
    import numcodecs
    import zarr

    path.mkdir(parents=True, exist_ok=True)
    zarr.open_group(str(path), mode="w", zarr_format=2)
    comp = numcodecs.Blosc(cname="zstd", clevel=5, shuffle=1 if data.itemsize > 1 else 0, blocksize=0)
    arr = zarr.create_array(str(path / "s0"), shape=data.shape, dtype=data.dtype,
                            chunks=tuple(min(64, s) for s in data.shape), compressors=comp,
                            zarr_format=2, chunk_key_encoding={"name": "v2", "separator": "/"},
                            fill_value=0, overwrite=True)
    arr[:] = data


def _foreground(raw: np.ndarray, threshold: float) -> np.ndarray:
    return raw > int(np.floor(threshold * 255))          # uint8 probabilities, threshold*255 not integral


def cc3d_work(raw: np.ndarray, min_size) -> np.ndarray:
    import cc3d
    import fastremap

    mask = _foreground(raw, THRESHOLD)
    if min_size is None:
        return mask.view(np.uint8)
    labels = cc3d.connected_components(mask, connectivity=26)
    labels = cc3d.dust(labels, threshold=min_size, connectivity=26, in_place=True)
    labels, _ = fastremap.renumber(labels, in_place=True)
    return fastremap.refit(labels)


def scipy_work(raw: np.ndarray, min_size) -> np.ndarray:
    from scipy import ndimage as ndi

    mask = _foreground(raw, THRESHOLD)
    if min_size is None:
        return mask.view(np.uint8)
    labels, n = ndi.label(mask, structure=np.ones((3, 3, 3), bool))
    counts = np.bincount(labels.ravel(), minlength=n + 1)
    keep = counts >= min_size
    keep[0] = False
    lut = np.zeros(n + 1, np.uint32)
    lut[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.uint32)
    dtype = np.min_scalar_type(int(keep.sum()))
    return lut.astype(dtype)[labels]


def pycsc_work(raw: np.ndarray, min_size) -> np.ndarray:
    from pycsc.process.segment import foreground, label_objects

    mask_or_cut = foreground(raw, THRESHOLD)
    if min_size is None:
        return mask_or_cut.as_mask()
    return label_objects(mask_or_cut, 26, min_size)[0]


def script_run(reference, template: str, out_root: Path, case: str) -> None:
    """A plain script over every (crop, class): zarr read, `reference` work, zarr write."""
    import zarr

    crops, classes = CASES[case]
    for crop in crops:
        for cls, min_size in classes.items():
            raw = zarr.open_array(template.format(dataset="bench", crop=crop) + f"/{cls}/s0", mode="r")[:]
            _zarr_write(out_root / crop / cls, reference(raw, min_size))


PYCSC_OPTIONS: dict = {}     # extra ProcessConfig keys (--blockwise)


def pycsc_run(template: str, out_root: Path, case: str) -> None:
    from pycsc.config import ProcessConfig
    from pycsc.process import process

    _, classes = CASES[case]
    instance = tuple(c for c, m in classes.items() if m is not None)
    process(ProcessConfig(input=template, output=str(out_root / "{crop}"), crops=("all",),
                          threshold=THRESHOLD, instance_classes=instance, connectivity=26,
                          min_sizes={c: m for c, m in classes.items() if m is not None},
                          overwrite=True, **PYCSC_OPTIONS))


_OUTPUTS: dict = {}


def io_floor(template: str, pycsc_root: Path, floor_root: Path, case: str) -> None:
    """Read every input and write every pycsc output once (tensorstore, same codec): nothing
    else. The outputs are loaded (untimed: cached) on the first call."""
    from pycsc import io

    crops, classes = CASES[case]
    for crop in crops:
        for cls in classes:
            key = (case, crop, cls)
            if key not in _OUTPUTS:
                _OUTPUTS[key] = io.read_array(pycsc_root / crop / cls / "s0")
            io.read_array(template.format(dataset="bench", crop=crop) + f"/{cls}/s0")
            data = _OUTPUTS[key]
            io.create_array(floor_root / crop / cls, data.shape, data.dtype,
                            tuple(min(64, s) for s in data.shape)).write(data).result()


def check_same(a_root: Path, b_root: Path, case: str, what: str) -> None:
    from pycsc import io

    crops, classes = CASES[case]
    for crop in crops:
        for cls in classes:
            a = io.read_array(a_root / crop / cls / "s0")
            b = io.read_array(b_root / crop / cls / "s0")
            if a.shape != b.shape or not np.array_equal(a, b):
                raise SystemExit(f"{what}: {case}/{crop}/{cls} differs from the cc3d script "
                                 f"(dtypes {a.dtype} {b.dtype})")


def _interleaved_times(runs: dict, repeat: int, clean: dict | None = None) -> dict:
    """Median (wall s, CPU s) of each run, after one warm-up round; the runs take turns, so a
    change in the machine's load touches them alike. ``clean[name]`` is removed (untimed)
    before each call, so that every run writes into an empty folder (as a first run does).
    CPU time is the whole process's (all threads, tensorstore's included): on a shared machine
    it is the steadier measure of the work done."""
    walls = {name: [] for name in runs}
    cpus = {name: [] for name in runs}
    for i in range(repeat + 1):
        for name, fn in runs.items():
            if clean is not None:
                shutil.rmtree(clean[name], ignore_errors=True)
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            if i:
                walls[name].append(time.perf_counter() - t0)
                cpus[name].append(time.process_time() - c0)
    return {name: (median(walls[name]), median(cpus[name])) for name in runs}


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip().split("average:")[-1].strip()


def bench_case(case: str, root: Path, repeat: int, scipy: bool) -> list[tuple]:
    from pycsc import io

    template = write_inputs(root / "inputs", case)
    crops, classes = CASES[case]
    voxels = sum(int(np.prod(s)) for s in crops.values()) * len(classes)
    out = {name: root / "out" / case / name for name in ("pycsc", "cc3d", "scipy")}
    runs = {"pycsc": lambda: pycsc_run(template, out["pycsc"], case),
            "cc3d": lambda: script_run(cc3d_work, template, out["cc3d"], case)}
    if scipy:
        runs["scipy"] = lambda: script_run(scipy_work, template, out["scipy"], case)
    rows = []
    runs["io floor"] = lambda: io_floor(template, out["pycsc"], out["io floor"], case)
    out["io floor"] = root / "out" / case / "floor"
    if voxels < 10**7:          # tenths of a second per run: more rounds for a steady median
        repeat *= 5
    whole = _interleaved_times(runs, repeat, out)
    for name in ("pycsc", "scipy"):
        if name in runs:
            check_same(out[name], out["cc3d"], case, name)
    rows.append((case, "whole", voxels, whole, load()))

    arrays = [(io.read_array(template.format(dataset="bench", crop=crop) + f"/{cls}/s0"), m)
              for crop in crops for cls, m in classes.items()]
    works = {"pycsc": pycsc_work, "cc3d": cc3d_work}
    if scipy:
        works["scipy"] = scipy_work
    for raw, m in arrays:
        if not np.array_equal(pycsc_work(raw, m), cc3d_work(raw, m)):
            raise SystemExit(f"work: pycsc differs from cc3d on {case}")
    work = _interleaved_times({name: lambda f=f: [f(raw, m) for raw, m in arrays]
                               for name, f in works.items()}, repeat)
    rows.append((case, "work", voxels, work, load()))
    shutil.rmtree(root / "out" / case, ignore_errors=True)
    return rows


def print_table(rows: list[tuple]) -> None:
    """Wall and CPU seconds (medians) and the ratios that the goals are about."""
    print(f"{'case':6s} {'what':6s} {'Mvox':>6s} {'':4s} {'pycsc':>7s} {'cc3d':>7s} {'scipy':>7s} "
          f"{'floor':>7s} {'cc3d/pycsc':>10s} {'scipy/pycsc':>11s} {'pycsc/floor':>11s}  load avg (1, 5, 15 min)")
    nan = (float("nan"), float("nan"))
    for case, what, voxels, t, avg in rows:
        for k, unit in ((0, "wall"), (1, "cpu")):
            p, c, sc, fl = (t.get(name, nan)[k] for name in ("pycsc", "cc3d", "scipy", "io floor"))
            print(f"{case:6s} {what:6s} {voxels / 1e6:6.1f} {unit:4s} {p:7.3f} {c:7.3f} {sc:7.3f} {fl:7.3f} "
                  f"{c / p:10.2f} {sc / p:11.2f} {p / fl:11.2f}  {avg}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", default="demo,issue,600", help="comma list of demo, issue, 600")
    p.add_argument("--repeat", type=int, default=3, help="timed repetitions (median), after one warm-up")
    p.add_argument("--workdir", default="/tmp/pycsc_bench_process", help="inputs are cached here")
    p.add_argument("--no-scipy", action="store_true", help="skip the scipy script (slow on 600^3)")
    p.add_argument("--json", help="also write the rows to this file")
    p.add_argument("--blockwise", action="store_true",
                   help="pycsc labels every volume blockwise (256^3 blocks), as beyond its memory "
                        "budget (the whole rows; work rows stay in memory)")
    args = p.parse_args()
    if args.blockwise:
        PYCSC_OPTIONS.update(max_memory_gb=1e-6, block_shape=(256, 256, 256))
    from pycsc import _core

    info = _core.build_info()
    print(f"pycsc core: {info['compiler']}, openmp={info['openmp']}, threads={info['max_threads']}; "
          f"load average at start: {load()}")
    rows = []
    for case in args.cases.split(","):
        rows += bench_case(case.strip(), Path(args.workdir), args.repeat, not args.no_scipy)
        print_table(rows)
        print(flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
