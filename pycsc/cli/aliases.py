"""The official toolbox's command names and flags, mapped onto pycsc commands.

So that the official README, FAQ and scripts work unchanged::

    csc fetch-data --raw-padding 128        ->  csc fetch --raw-padding 128 --dest data
    csc make-datasplit -c mito,nuc -s 6.0   ->  csc datasplit --classes mito nuc --max-voxel-size-nm 6.0 ...
    csc pack-results -o data/submission.zarr ->  csc pack --input ... --output data/submission.zip
    csc get-counts -c mito,nuc              ->  a table of crops per class per dataset
    csc batch-eval -c evals.csv             ->  csc evaluate <data_path> ... once per row

:func:`translate` turns an official command line into the pycsc one (what ``--help``
describes and what runs); the official defaults (paths of ``config.py``, ``nuc,er``,
validation ratio 0.1) are passed explicitly. Official flags with no pycsc meaning are
accepted and noted (``--batch-size``, ``--max_workers``).
"""

from __future__ import annotations

import argparse
import csv
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from ..errors import ConfigError
from ._options import split_commas

SEARCH_PATH = "data/{dataset}/{dataset}.zarr/recon-1/{name}"
CROP_NAME = "labels/groundtruth/{crop}/{label}"
PROCESSED_PATH = "data/processed/{dataset}.zarr/{crop}"
SUBMISSION_PATH = "data/submission.zarr"
TRUTH_PATH = "data/ground_truth.zarr"


def _data_root(search_path: str) -> str:
    """``data/{dataset}/{dataset}.zarr/recon-1/{name}`` -> ``data`` (pycsc fixes the rest)."""
    root, sep, rest = search_path.partition("{dataset}")
    if not sep or rest != "/{dataset}.zarr/recon-1/{name}":
        raise ConfigError(f"--search_path {search_path!r}: pycsc reads the public layout "
                          "'<root>/{dataset}/{dataset}.zarr/recon-1/{name}'; give a path of that form")
    return root.rstrip("/") or "."


def _check_crop_name(crop_name: str) -> None:
    if crop_name.strip("/") != CROP_NAME:
        raise ConfigError(f"--crop_name {crop_name!r}: pycsc reads crops at {CROP_NAME!r} only")


def _both(p: argparse.ArgumentParser, short: str | None, *names: str, **kw) -> None:
    """An option under its official spelling(s) plus the dash/underscore twin of each."""
    flags = [short] if short else []
    for n in names:
        flags += [f"--{n}"] + ([f"--{n.replace('_', '-')}"] if "_" in n else [])
    p.add_argument(*flags, **kw)


# --- fetch-data ------------------------------------------------------------------------

def _fetch_data_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--crops", "-c", default="all", help="'all', 'test' or comma-separated crop ids (default all)")
    p.add_argument("--raw-padding", "-p", type=int, default=0, help="EM voxels added around each crop (default 0)")
    p.add_argument("--dest", "-d", default="data", help="destination root (default data)")
    p.add_argument("--access-mode", "-m", default="append", choices=("append", "overwrite"),
                   help="append (default); overwrite re-checks every local copy against the bucket "
                   "and re-fetches what differs (pycsc never deletes a store)")
    p.add_argument("--fetch-all-em-resolutions", "-all-res", action="store_true",
                   help="also EM levels finer than the annotation")
    p.add_argument("--batch-size", "-b", type=int, default=256, help="accepted, unused: pycsc schedules per object")
    p.add_argument("--num-workers", "-w", type=int,
                   default=int(os.environ.get("CSC_FETCH_DATA_NUM_WORKERS", "32")),
                   help="concurrent requests (default $CSC_FETCH_DATA_NUM_WORKERS or 32)")
    p.add_argument("--zip", action="store_true", help="the pre-zipped bundle (crops all only)")


def _fetch_data(a: argparse.Namespace) -> list[str]:
    argv = ["fetch", "--crops", a.crops, "--raw-padding", str(a.raw_padding), "--dest", a.dest,
            "--workers", str(a.num_workers)]
    if a.fetch_all_em_resolutions:
        argv.append("--all-resolutions")
    if a.access_mode == "overwrite":
        argv.append("--verify")
    if a.zip:
        argv.append("--zip")
    return argv


# --- make-datasplit ----------------------------------------------------------------------

def _datasplit_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--classes", "-c", default="nuc,er", help="comma-separated classes (default nuc,er)")
    p.add_argument("--scale", "-s", nargs="+", help="max s0 voxel size in nm: one value, or z,y,x / z y x")
    p.add_argument("--force-all-classes", "-fa", action="store_true", help="drop crops lacking a class")
    p.add_argument("--force-all-classes-train", "-ft", action="store_true",
                   help="crops lacking a class are not training crops")
    p.add_argument("--force-all-classes-validate", "-fv", action="store_true",
                   help="crops lacking a class are not validation crops")
    p.add_argument("--validate-ratio", "-vr", type=float, default=0.1, help="validation probability (default 0.1)")
    _both(p, "-sp", "search_path", default=SEARCH_PATH, help=f"default {SEARCH_PATH}")
    _both(p, "-rn", "raw_name", default="em/fibsem-uint8", help="EM group below recon-1 (default em/fibsem-uint8)")
    _both(p, "-cn", "crop_name", default=CROP_NAME, help=f"default {CROP_NAME}")
    _both(p, "-cp", "csv_path", default="datasplit.csv", help="output CSV (default datasplit.csv)")
    _both(p, "-s3", "use_s3", action="store_true", help="crawl s3://janelia-cosem-datasets instead")
    p.add_argument("--datasets", "-ds", default="*", help="comma-separated dataset names or patterns")
    p.add_argument("--crops", "-cr", default="*", help="comma-separated crop folder names, e.g. crop234")


def _force(a: argparse.Namespace) -> str:
    if a.force_all_classes or (a.force_all_classes_train and a.force_all_classes_validate):
        return "all"
    if a.force_all_classes_train:
        return "train"
    return "validate" if a.force_all_classes_validate else "no"


def _make_datasplit(a: argparse.Namespace) -> list[str]:
    _check_crop_name(a.crop_name)
    argv = ["datasplit", "--classes", *split_commas([a.classes]), "--validation-fraction", str(a.validate_ratio),
            "--force-all-classes", _force(a), "--raw-name", a.raw_name, "--output", a.csv_path,
            "--datasets", *split_commas([a.datasets]), "--crops", *split_commas([a.crops])]
    if a.scale:
        scale = split_commas(a.scale)
        if len(scale) not in (1, 3):
            raise ConfigError(f"--scale takes one value or three (z y x); got {a.scale}")
        argv += ["--max-voxel-size-nm", *scale]
    if a.use_s3:
        argv.append("--s3")
    else:
        argv += ["--data-root", _data_root(a.search_path)]
    return argv


# --- pack-results -------------------------------------------------------------------------

def _pack_parser(p: argparse.ArgumentParser) -> None:
    _both(p, "-i", "input_search_path", default=PROCESSED_PATH, help=f"default {PROCESSED_PATH}")
    _both(p, "-o", "output_path", default=SUBMISSION_PATH,
          help=f"submission .zarr (default {SUBMISSION_PATH}); the zip is written next to it")
    p.add_argument("--overwrite", "-O", action="store_true", help="replace an existing submission")
    _both(p, "-w", "max_workers", type=int, help="accepted, unused")
    p.add_argument("--manifest", help="test-crop manifest CSV (pycsc: passed to `csc pack --manifest`)")


def _pack_results(a: argparse.Namespace) -> list[str]:
    out = Path(a.output_path)
    argv = ["pack", "--input", a.input_search_path, "--output", str(out.with_suffix(".zip"))]
    if a.overwrite:
        argv.append("--overwrite")
    if a.manifest:
        argv += ["--manifest", a.manifest]
    return argv


# --- get-counts and batch-eval (run here: no single pycsc command) ----------------------

def _counts_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--classes", "-c", default="nuc,er", help="comma-separated classes (default nuc,er)")
    _both(p, "-sp", "search_path", default=SEARCH_PATH, help=f"default {SEARCH_PATH}")
    _both(p, "-rn", "raw_name", default="em/fibsem-uint8", help="EM group below recon-1")
    _both(p, "-cn", "crop_name", default=CROP_NAME, help=f"default {CROP_NAME}")


def _get_counts(a: argparse.Namespace) -> int:
    from ..data.counts import dataset_counts, format_counts

    _check_crop_name(a.crop_name)
    classes = split_commas([a.classes])
    print(format_counts(dataset_counts(_data_root(a.search_path), classes, a.raw_name), classes))
    return 0


def _batch_parser(p: argparse.ArgumentParser) -> None:
    _both(p, "-c", "csv-path", dest="csv_path", required=True,
          help="CSV with columns data_path (submission) and evaluation_id")
    p.add_argument("--cluster", "-C", action="store_true", help="one LSF job per row (bsub) instead of in turn")
    _both(p, "-n", "num_cpus", type=int, default=48, help="cores per job (default 48)")
    p.add_argument("--truth", default=TRUTH_PATH, help=f"ground truth (pycsc extension; default {TRUTH_PATH})")
    p.add_argument("--manifest", help="test-crop manifest CSV passed to `csc evaluate --manifest`")


def batch_rows(csv_path: str | Path) -> list[tuple[str, str]]:
    """(data_path, evaluation_id) rows of a batch-eval CSV."""
    path = Path(csv_path)
    if not path.is_file():
        raise ConfigError(f"--csv-path {path} does not exist")
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"data_path", "evaluation_id"} - set(reader.fieldnames or ())
        if missing:
            raise ConfigError(f"{path}: missing column(s) {sorted(missing)}; expected data_path,evaluation_id")
        return [(r["data_path"].strip(), r["evaluation_id"].strip()) for r in reader]


def evaluate_argv(a: argparse.Namespace, data_path: str, evaluation_id: str) -> list[str]:
    """The ``csc evaluate`` call of one batch row; results go next to the submission."""
    out = Path(data_path).parent / f"eval_{evaluation_id}.results"
    argv = ["evaluate", data_path, "--truth", a.truth, "--output", str(out), "--workers", str(a.num_cpus)]
    return argv + (["--manifest", a.manifest] if a.manifest else [])


def _batch_eval(a: argparse.Namespace) -> int:
    from .main import main

    rows = batch_rows(a.csv_path)
    if a.cluster:
        bsub = shutil.which("bsub")
        if bsub is None:
            raise ConfigError("--cluster submits LSF jobs with `bsub`, which is not on PATH; run without "
                              "--cluster, or see examples/lsf/ and examples/slurm/ for array jobs")
        for data_path, ev_id in rows:
            cmd = " ".join(shlex.quote(w) for w in ["csc", *evaluate_argv(a, data_path, ev_id)])
            subprocess.run([bsub, "-o", f"{ev_id}.out", "-e", f"{ev_id}.err", "-n", str(a.num_cpus),
                            "-J", f"eval_{ev_id}", cmd], check=True)
        print(f"batch-eval: submitted {len(rows)} LSF jobs (see bjobs; logs <id>.out)")
        return 0
    worst = 0
    for data_path, ev_id in rows:
        print(f"batch-eval: {ev_id}: csc {' '.join(evaluate_argv(a, data_path, ev_id))}")
        worst = max(worst, main(evaluate_argv(a, data_path, ev_id)))
    return worst


#: official name -> (pycsc command it runs, one-line help, parser builder, translator or runner,
#: whether it runs itself instead of translating to one pycsc command line)
ALIASES = {
    "fetch-data": ("fetch", "official name of `csc fetch`", _fetch_data_parser, _fetch_data, False),
    "make-datasplit": ("datasplit", "official name of `csc datasplit`", _datasplit_parser, _make_datasplit, False),
    "pack-results": ("pack", "official name of `csc pack`", _pack_parser, _pack_results, False),
    "get-counts": ("get-counts", "crops per class per dataset in local data (official command)",
                   _counts_parser, _get_counts, True),
    "batch-eval": ("evaluate", "evaluate many submissions listed in a CSV, one `csc evaluate` per row "
                   "(official command)", _batch_parser, _batch_eval, True),
}


def add_parser(sub) -> None:
    for name, (target, summary, build, _, runs_itself) in ALIASES.items():
        tail = ("pycsc runs it directly." if target == name else
                f"It runs `csc {target}` (its `--help` lists what pycsc adds)"
                + ("." if runs_itself else "; the command line it runs is printed first."))
        p = sub.add_parser(name, help=summary, formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                           description=f"`csc {name}` with the official toolbox's flags: {summary}. {tail}")
        build(p)
        p.set_defaults(run=run, alias=name)


def translate(argv: list[str]) -> list[str]:
    """The pycsc command line of an official one (``["fetch-data", "-p", "128"]`` ->
    ``["fetch", "--crops", "all", ...]``); a ConfigError for get-counts and batch-eval."""
    from .main import build_parser

    args = build_parser().parse_args(argv)
    _, _, _, fn, runs_itself = ALIASES[args.alias]
    if runs_itself:
        raise ConfigError(f"`csc {args.alias}` has no single pycsc command line")
    return fn(args)


def run(args: argparse.Namespace) -> int:
    from .main import main

    _, _, _, fn, runs_itself = ALIASES[args.alias]
    if runs_itself:
        return fn(args)
    argv = fn(args)
    print(f"csc {args.alias}: running csc {' '.join(shlex.quote(w) for w in argv)}", file=sys.stderr)
    return main((["--debug"] if args.debug else []) + argv)


__all__ = ["ALIASES", "translate", "batch_rows", "evaluate_argv"]
