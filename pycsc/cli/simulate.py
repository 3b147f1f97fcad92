"""`csc simulate`: write a synthetic CellMap dataset in the public layout."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "simulate", help="write a synthetic dataset (EM, crops, hidden test truth)",
        description="Write a synthetic dataset in the public layout: "
        "<dest>/<name>/<name>.zarr/recon-1/{em/fibsem-uint8, labels/groundtruth/crop<N>/<class>}, "
        "held-out test crops with <dest>/test_crop_manifest.csv and their truth in "
        "<dest>/ground_truth.zarr. Deterministic from --seed.")
    p.add_argument("--config", type=Path, help="TOML file with SimulateConfig keys")
    p.add_argument("--dest", type=Path, help="data root (default: data)")
    p.add_argument("--preset", choices=("tiny", "small", "medium"),
                   help="size: tiny (tests, ~1 s), small (demo, default), medium")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--name-prefix", help="datasets are named <prefix>-1, <prefix>-2, ... (default jrc_sim)")
    p.add_argument("--overwrite", action="store_true", default=None,
                   help="replace existing simulated datasets and truth")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..config import SimulateConfig, resolve, write_resolved
    from ..simulate import simulate

    cfg = resolve(SimulateConfig, args.config, {
        "dest": args.dest, "preset": args.preset, "seed": args.seed,
        "name_prefix": args.name_prefix, "overwrite": args.overwrite})
    result = simulate(cfg.dest, cfg.preset, cfg.seed, cfg.name_prefix, cfg.overwrite)
    write_resolved(cfg, cfg.dest / "simulate.toml")
    n_train = len({(r.dataset, r.crop_id) for r in result.train_rows})
    n_test = len({(r.dataset, r.crop_id) for r in result.test_rows})
    print(f"wrote {len(result.datasets)} datasets ({', '.join(result.datasets)}) under {cfg.dest}: "
          f"{n_train} training crops, {n_test} test crops ({len(result.test_rows)} test labels)")
    print(f"test manifest: {result.test_manifest}\nhidden truth:  {result.truth_path}")
    return 0
