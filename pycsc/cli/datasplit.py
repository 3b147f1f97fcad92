"""``csc datasplit [CONFIG.toml]``: write the train/validate CSV ([datasplit]) from local data,
from an S3 bucket (``--s3`` or ``--data-root s3://...``), or labels local with EM on S3."""

from __future__ import annotations

import dataclasses

from ..config import DatasplitConfig
from ._options import add_command, config_from_args

#: The public challenge bucket (``--s3`` without an s3:// data_root).
PUBLIC_S3_ROOT = "s3://janelia-cosem-datasets"


def add_parser(sub) -> None:
    p = add_command(sub, "datasplit", DatasplitConfig, "datasplit",
                    "write the train/validate split CSV (official format) from local crops or S3", run)
    p.add_argument("--s3", dest="use_s3", action="store_true",
                   help=f"crawl S3 instead of local data: data_root becomes {PUBLIC_S3_ROOT} unless it "
                   "is already an s3:// URL (the listing is cached in s3.crawl_cache)")


def run(args) -> int:
    from ..data.datasplit import make_datasplit

    cfg = config_from_args(args)
    if getattr(args, "use_s3", False) and not str(cfg.data_root).startswith("s3://"):
        cfg = dataclasses.replace(cfg, data_root=PUBLIC_S3_ROOT)
    rows = make_datasplit(cfg)
    n_val = sum(r.usage == "validate" for r in rows)
    print(f"datasplit: {len(rows)} crops ({len(rows) - n_val} train, {n_val} validate) -> {cfg.output}")
    return 0
