"""``csc process [CONFIG.toml]``: threshold, label, filter ([process] table)."""

from __future__ import annotations

from ..config import ProcessConfig
from ._options import add_command, config_from_args


def add_parser(sub) -> None:
    add_command(sub, "process", ProcessConfig, "process",
                "turn probabilities into masks and labelled objects (threshold, components, sizes)", run)


def run(args) -> int:
    from ..process import process

    results = process(config_from_args(args))
    done = [r for r in results if not r.get("skipped")]
    print(f"process: {len(done)} volumes written, {len(results) - len(done)} already complete")
    return 0
