"""`csc fetch`: download ground-truth crops and the raw EM around them from S3."""

from __future__ import annotations

import argparse
from pathlib import Path


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def add_parser(sub) -> None:
    p = sub.add_parser(
        "fetch", help="download crops and the EM around them from S3",
        description="Download the ground-truth crops (found by listing the bucket) and, per "
        "crop, only the EM chunks that intersect the crop box grown by --raw-padding voxels, at "
        "the annotation's resolution and coarser (or --all-resolutions). Resumable: a rerun "
        "fetches only what is missing. Writes <dest>/crop_manifest.{csv,parquet}.")
    p.add_argument("--config", type=Path, help="TOML file with FetchConfig keys")
    p.add_argument("--bucket", help="bucket (default janelia-cosem-datasets)")
    p.add_argument("--endpoint-url", help="S3-compatible server, e.g. http://127.0.0.1:9000")
    p.add_argument("--signed", dest="anonymous", action="store_false", default=None,
                   help="sign requests with the usual AWS credentials instead of anonymous access")
    p.add_argument("--dest", "-d", type=Path, help="destination root (default: data)")
    p.add_argument("--datasets", type=_csv, help="comma-separated dataset names or glob patterns")
    p.add_argument("--crops", "-c", help="'all' (default), 'test', or comma-separated crop ids")
    p.add_argument("--classes", type=_csv, help="comma-separated class names (default: every class; name `all` for the class-id array)")
    p.add_argument("--raw-padding", "-p", type=int, help="EM voxels added on each side (default 0)")
    p.add_argument("--all-resolutions", action="store_true", default=None,
                   help="also fetch EM levels finer than the annotation")
    p.add_argument("--workers", "-w", type=int, help="concurrent requests (default 32)")
    p.add_argument("--dry-run", action="store_true", default=None,
                   help="list what would be fetched, with byte totals; write nothing")
    p.add_argument("--verify", action="store_true", default=None,
                   help="re-check local copies against the remote; re-fetch missing or corrupt "
                   "ones (report only with --dry-run)")
    p.add_argument("--test-manifest", type=Path,
                   help="test-crop manifest CSV whose crops' EM is fetched (default: the official "
                   "manifest shipped with pycsc, or $PYCSC_TEST_MANIFEST)")
    p.add_argument("--alignment", help="alignment folder (default recon-1)")
    p.add_argument("--raw-name", help="EM group below the alignment (default em/fibsem-uint8)")
    p.add_argument("--retries", type=int, help="retries on 5xx and timeouts (default 5)")
    p.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                   help="no progress bar")
    p.add_argument("--zip", action="store_true", default=None,
                   help="download the official pre-zipped bundle matching --raw-padding (0 or 128) and "
                   "--all-resolutions instead (crops = all only); resumable, checksummed, extracted into --dest")
    p.set_defaults(run=run)


def _print_plan(report) -> None:
    sizes = report.sizes or {}
    print(f"{'dataset':<24} {'crop':>6} {'kind':<5} {'classes':>7} {'voxel size (nm)':<22} "
          f"{'EM levels':<14} {'GT objects':>10} {'GT MB':>8} {'EM chunks':>9} {'EM MB':>8}")
    for cp in report.plan.crops:
        c = cp.crop
        vs = "x".join(f"{v:g}" for v in c.grid.voxel_size) if c.grid else "?"
        gt_mb = sum(sizes.get(i.key) or 0 for i in cp.gt_items) / 1e6
        em_mb = sum(sizes.get(i.key) or 0 for i in cp.em_items) / 1e6
        print(f"{c.dataset:<24} {c.crop_id:>6} {'test' if c.test else 'train':<5} {len(c.classes):>7} "
              f"{vs:<22} {','.join(cp.em_levels) or '-':<14} {len(cp.gt_items):>10} {gt_mb:>8.2f} "
              f"{len(cp.em_items):>9} {em_mb:>8.2f}")
    present = [s for s in sizes.values() if s is not None]
    print(f"total: {len(present)} objects, {sum(present) / 1e6:.2f} MB "
          f"({len(sizes) - len(present)} planned keys absent remotely: empty chunks or optional metadata)")


def run(args: argparse.Namespace) -> int:
    from ..config import FetchConfig, resolve, write_resolved
    from ..fetch import fetch

    cfg = resolve(FetchConfig, args.config, {
        k: getattr(args, k) for k in (
            "bucket", "endpoint_url", "anonymous", "dest", "datasets", "crops", "classes",
            "raw_padding", "all_resolutions", "workers", "dry_run", "verify", "test_manifest",
            "alignment", "raw_name", "retries", "progress", "zip")})
    if cfg.zip:
        from ..fetch.bundles import fetch_bundle

        zip_path, _ = fetch_bundle(cfg)
        print(f"fetched and extracted {zip_path} into {cfg.dest}")
        write_resolved(cfg, Path(cfg.dest) / "fetch.toml")
        return 0
    report = fetch(cfg)
    for w in report.plan.warnings:
        print(f"warning: {w}")
    if report.verify is not None:
        v = report.verify
        print(f"verified {v.checked} keys: {len(v.missing)} missing, {len(v.corrupt)} corrupt")
        for key in v.missing[:20]:
            print(f"  missing: {key}")
        for key in v.corrupt[:20]:
            print(f"  corrupt: {key}")
    if cfg.dry_run:
        if report.sizes is not None:
            _print_plan(report)
        return 1 if report.verify and (report.verify.missing or report.verify.corrupt) else 0
    t = report.transfer
    print(f"fetched {t.downloaded} objects ({t.bytes / 1e6:.2f} MB) in {t.seconds:.1f} s "
          f"({t.mb_per_s:.1f} MB/s, {t.chunks_per_s:.0f} objects/s); {t.skipped} already present, "
          f"{t.absent} absent remotely; into {cfg.dest}")
    for m in report.manifests:
        print(f"manifest: {m}")
    write_resolved(cfg, Path(cfg.dest) / "fetch.toml")
    return 0
