"""``csc train [CONFIG.toml]``: train a 2D/3D network ([train] table). Multi-GPU:
``torchrun --nproc_per_node N -m pycsc train CONFIG.toml``."""

from __future__ import annotations

from ..config import TrainConfig
from ._options import add_command, config_from_args


def add_parser(sub) -> None:
    add_command(sub, "train", TrainConfig, "train",
                "train a UNet/ResNet on random patches; resumes from output_dir/checkpoints/latest.pt", run)


def run(args) -> int:
    from ..train import train

    summary = train(config_from_args(args))
    print(f"train: {summary['steps']} steps in {summary['seconds']:.0f} s; best checkpoint {summary['best']}")
    return 0
