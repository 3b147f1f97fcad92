"""``pycsc evaluate``: score a submission with the official CellMap metrics.

Exit status: 0 when every label was scored, 1 when some labels could not be scored (each
counts as not submitted; the summary lists them), 2 when nothing could be scored.
"""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
examples:
  pycsc evaluate submission.zip --truth ground_truth.zarr --manifest test_crop_manifest.csv
  pycsc evaluate submission.zarr --truth gt.zarr --shard 2/8 --output out/results.json
  pycsc evaluate --merge out/results.shard*of8.json --output out/results.json
  pycsc evaluate submission.zip --truth gt.zarr --report --compare ../baseline/results.json
  pycsc evaluate submission.zip --truth data/ --crops 234,236 --classes mito,er   # fetched crops as truth
  pycsc evaluate submission.zip --truth data/ --datasplit datasplit.csv           # its validate rows
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "evaluate", help="score a submission against ground truth (official CellMap scores)",
        description="Score a submission (.zip or .zarr) against a ground-truth store with the official\n"
        "CellMap metrics. Writes the public results JSON, the extended JSON, a per-label Parquet\n"
        "table and the resolved config. Exit status: 0 all scored, 1 some labels could not be\n"
        "scored (listed; each counts as not submitted), 2 nothing could be scored.", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("submission", nargs="?", help="submission .zip file or .zarr directory (never modified)")
    p.add_argument("--truth", "-t", help="ground-truth Zarr store (crop<N>/<class> arrays), or the data "
                   "folder of `csc fetch` (<dataset>/<dataset>.zarr/...) with --crops or --datasplit")
    p.add_argument("--crops", help="with a data folder as --truth: crop ids to score, e.g. 234,236, or 'all'")
    p.add_argument("--datasplit", help="with a data folder as --truth: score the crops of this "
                   "datasplit CSV's validate rows")
    p.add_argument("--classes", help="with a data folder as --truth: comma-separated classes to score "
                   "(default: every class annotated in those crops)")
    p.add_argument("--manifest", "-m", help="test-crop manifest CSV (crop grids); default: the truth attributes")
    p.add_argument("--output", "-o", help="public results JSON (default results.json)")
    p.add_argument("--workers", "-w", type=int, help="worker processes (0 = automatic)")
    p.add_argument("--device", choices=("auto", "cpu", "gpu"), help="where kernels run (default auto)")
    p.add_argument("--config", "-c", help="TOML config, e.g. configs/evaluate.toml")
    p.add_argument("--work-dir", help="folder for extracting zip submissions (a temporary folder inside it)")
    p.add_argument("--memory-limit-gib", type=float, help="memory the evaluation may use (default: detected)")
    p.add_argument("--shard", metavar="i/N", help="score only the i-th of N slices (1-based) into a partial result")
    p.add_argument("--merge", nargs="+", metavar="PARTIAL", help="combine the partial results of all shards")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--report", action="store_true", help="also write report.html and PNG figures beside the "
                   "results (needs the `report` extra); without SUBMISSION: a report of the existing --output")
    p.add_argument("--compare", metavar="OTHER_RESULTS", help="with --report: draw OTHER_RESULTS (a results.json) "
                   "side by side with this submission")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..config import resolve
    from ..errors import ConfigError
    from ..eval import EvaluateConfig, evaluate
    from ..eval.results import format_summary, output_paths, write_results
    from ..eval.shard import merge_partials, parse_shard, write_partial

    overrides = {"truth": args.truth, "manifest": args.manifest, "output": args.output, "workers": args.workers,
                 "device": args.device, "work_dir": args.work_dir, "memory_limit_gib": args.memory_limit_gib,
                 "progress": False if args.no_progress else None, "debug": True if args.debug else None}
    cfg = resolve(EvaluateConfig, args.config, overrides)
    if (args.report or args.compare) and not (args.submission or args.merge):
        return _report(cfg.output, args.compare)
    if args.merge:
        if args.submission or args.shard:
            raise ConfigError("--merge combines partial results; give no SUBMISSION and no --shard with it")
        ev = merge_partials(args.merge)
        paths = write_results(ev, cfg.output, cfg)
        print(format_summary(ev, paths))
        if args.report or args.compare:
            _report(paths["public"], args.compare)
        return ev.exit_code
    if not args.submission:
        raise ConfigError("give a SUBMISSION (.zip or .zarr) to score, or --merge PARTIAL... to combine shards")
    if cfg.truth is None:
        raise ConfigError("--truth is required (or `truth` in the --config file): the ground-truth .zarr store")
    shard = parse_shard(args.shard) if args.shard else None
    from ..eval.datalayout import evaluate_on_data, is_data_layout

    if args.crops or args.datasplit or is_data_layout(cfg.truth):
        classes = tuple(c.strip() for c in (args.classes or "").split(",") if c.strip())
        ev = evaluate_on_data(args.submission, cfg.truth, args.crops or (), datasplit=args.datasplit,
                              classes=classes, config=cfg, shard=shard)
    else:
        ev = evaluate(args.submission, cfg.truth, cfg.manifest, config=cfg, shard=shard)
    if shard:
        stem = output_paths(cfg.output)["table"].with_suffix("")
        path = write_partial(ev, Path(f"{stem}.shard{shard[0]}of{shard[1]}.json"))
        print(f"shard {shard[0]}/{shard[1]}: {len(ev.results)} labels scored, {len(ev.errors)} errors; wrote {path}")
        for r in ev.errors:
            print(f"  {r.crop}/{r.label}: {r.reason.splitlines()[0]}")
        return ev.exit_code
    paths = write_results(ev, cfg.output, cfg)
    print(format_summary(ev, paths))
    if args.report or args.compare:
        _report(paths["public"], args.compare)
    return ev.exit_code


def _report(results, compare) -> int:
    from ..report import write_report

    print(f"report: {write_report(results, compare=compare)}")
    return 0
