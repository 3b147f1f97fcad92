"""Download ground-truth crops and the raw EM around them from S3 (``csc fetch``).

``crawl``     find datasets, crops and classes by listing the bucket
``plan``      choose EM levels and the chunks around each crop
``download``  concurrent, atomic, resumable copy
``verify``    compare local copies with the remote

:func:`fetch` runs the whole pipeline from a :class:`~pycsc.config.FetchConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config import FetchConfig
from ..errors import DataError, FetchError
from ..io.manifest import (CropRow, read_manifest_csv, resolve_test_manifest, write_manifest_csv,
                           write_manifest_parquet)
from ..io.s3 import S3Client
from .crawl import crawl, parse_crops
from .download import TransferStats, download, local_path, probe_sizes
from .plan import FetchPlan, build_plan
from .verify import VerifyResult, verify

MANIFEST_STEM = "crop_manifest"


@dataclass
class FetchReport:
    """What :func:`fetch` planned and did."""

    plan: FetchPlan
    transfer: TransferStats = field(default_factory=TransferStats)
    verify: VerifyResult | None = None
    sizes: dict[str, int | None] | None = None        # dry run: remote size per key
    manifests: list[Path] = field(default_factory=list)

    @property
    def planned_bytes(self) -> int | None:
        return None if self.sizes is None else sum(s for s in self.sizes.values() if s)


def make_client(cfg: FetchConfig) -> S3Client:
    return S3Client(cfg.bucket, endpoint_url=cfg.endpoint_url, anonymous=cfg.anonymous,
                    max_connections=cfg.workers, retries=cfg.retries)


def plan_fetch(cfg: FetchConfig, client: S3Client | None = None) -> FetchPlan:
    """Crawl the bucket and list every key the config asks for."""
    client = client or make_client(cfg)
    # the official test crops shipped with pycsc unless a manifest is named
    found = crawl(client, tuple(cfg.datasets), parse_crops(cfg.crops), tuple(cfg.classes),
                  cfg.alignment, cfg.workers, resolve_test_manifest(cfg.test_manifest))
    if not found.crops:
        raise FetchError(
            f"no crops match datasets={list(cfg.datasets) or 'all'} crops={cfg.crops!r} in "
            f"s3://{cfg.bucket} ({cfg.endpoint_url or 'AWS'}); check the filters (test crops come "
            f"from {resolve_test_manifest(cfg.test_manifest)}; --test-manifest names another)")
    return build_plan(client, found, cfg.alignment, cfg.raw_name, cfg.raw_padding, cfg.all_resolutions,
                      cfg.workers)


def _merged_rows(path: Path, new: list[CropRow]) -> list[CropRow]:
    """Rows of an earlier manifest at `path` updated with `new`, so filtered fetches add up."""
    merged: dict[tuple, CropRow] = {}
    if path.is_file():
        try:
            merged = {(r.dataset, r.crop_id, r.class_label): r for r in read_manifest_csv(path)}
        except DataError:
            merged = {}      # unreadable: rewritten from this run's rows
    merged.update({(r.dataset, r.crop_id, r.class_label): r for r in new})
    return [merged[k] for k in sorted(merged)]


def fetch(cfg: FetchConfig, client: S3Client | None = None) -> FetchReport:
    """Plan, then download (or with ``dry_run`` only size), verify if asked, write manifests.

    Raises
    ------
    FetchError
        No crop matched; access denied (403); a required key missing (404); or some keys
        failed after all retries (raised after everything else was copied, naming them).
    """
    client = client or make_client(cfg)
    plan = plan_fetch(cfg, client)
    report = FetchReport(plan)
    dest = Path(cfg.dest)
    if cfg.verify:
        report.verify = verify(client, plan.items, dest, workers=cfg.workers, progress=cfg.progress)
    if cfg.dry_run:
        if not cfg.verify:
            report.sizes = probe_sizes(client, plan.items, cfg.workers, cfg.progress)
        return report
    if report.verify is not None:
        for key in report.verify.corrupt:
            local_path(dest, key).unlink(missing_ok=True)
    report.transfer = download(client, plan.items, dest, workers=cfg.workers,
                               progress=cfg.progress, cache=plan.metadata)
    if plan.rows:
        rows = _merged_rows(dest / f"{MANIFEST_STEM}.csv", plan.rows)
        report.manifests = [write_manifest_csv(rows, dest / f"{MANIFEST_STEM}.csv"),
                            write_manifest_parquet(rows, dest / f"{MANIFEST_STEM}.parquet")]
    failed = report.transfer.failed
    if failed:
        raise FetchError(f"{len(failed)} object(s) could not be fetched (rerun to resume); "
                         f"first: {failed[0]}")
    return report


__all__ = ["FetchReport", "fetch", "plan_fetch", "make_client", "MANIFEST_STEM"]
