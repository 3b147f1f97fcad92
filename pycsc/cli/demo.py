"""``csc demo [demo.toml]``: the whole loop on a simulated dataset, offline, in minutes."""

from __future__ import annotations

from ..config import DemoConfig
from ._options import add_command, config_from_args


def add_parser(sub) -> None:
    add_command(sub, "demo", DemoConfig, None,
                "simulate data, train a small 3D UNet, predict, process, pack and score it", run)


def run(args) -> int:
    from ..demo import run_demo

    run_demo(config_from_args(args))
    return 0
