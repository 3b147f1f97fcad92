"""``csc datasplit [CONFIG.toml]``: write the train/validate CSV from local data ([datasplit])."""

from __future__ import annotations

from ..config import DatasplitConfig
from ._options import add_command, config_from_args


def add_parser(sub) -> None:
    add_command(sub, "datasplit", DatasplitConfig, "datasplit",
                "write the train/validate split CSV (official format) from local crops", run)


def run(args) -> int:
    from ..data.datasplit import make_datasplit

    cfg = config_from_args(args)
    rows = make_datasplit(cfg)
    n_val = sum(r.usage == "validate" for r in rows)
    print(f"datasplit: {len(rows)} crops ({len(rows) - n_val} train, {n_val} validate) -> {cfg.output}")
    return 0
