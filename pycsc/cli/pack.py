"""``csc pack [CONFIG.toml]``: the submission zip on the test crops' grids ([pack] table)."""

from __future__ import annotations

from ..config import PackConfig
from ._options import add_command, config_from_args


def add_parser(sub) -> None:
    add_command(sub, "pack", PackConfig, "pack",
                "pack processed volumes into the submission zarr-2 zip, checked against the manifest", run)


def run(args) -> int:
    from ..pack import pack

    pack(config_from_args(args))
    return 0
