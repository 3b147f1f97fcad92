"""``csc train [CONFIG.toml]``: train a 2D/3D network ([train] table). Multi-GPU:
``torchrun --nproc_per_node N -m pycsc train CONFIG.toml``."""

from __future__ import annotations

from ..config import DatasplitConfig, TrainConfig, load_toml
from ._options import add_command, config_from_args, load_config

DESCRIPTION = """train a network on random patches; resumes from output_dir/checkpoints/latest.pt.
The network is the [train.model] table: `name` (unet, resnet, vit, cosem_upsample_unet,
'monai.<ClassName>' with pycsc[monai], or 'package.module:build_fn') plus its keyword
arguments, e.g. --model name=unet base_channels=32 depth=4. Losses: [train.loss] name =
auto|bce|dice|bce+dice|focal|mse|l1. Optimiser and schedule by torch name: [train.optimizer],
[train.scheduler]. When `datasplit` does not exist it is made with the [datasplit] table of the
same file (else from data_root with the [train] classes)."""


def add_parser(sub) -> None:
    add_command(sub, "train", TrainConfig, "train",
                "train a network (any registry model) on random patches; resumes from latest.pt", run,
                description=DESCRIPTION)


def run(args) -> int:
    from ..train import train

    cfg = config_from_args(args)
    split = None
    if args.config is not None and "datasplit" in load_toml(args.config):
        split = load_config(DatasplitConfig, args.config, "datasplit")
    summary = train(cfg, datasplit=split)
    print(f"train: {summary['steps']} steps in {summary['seconds']:.0f} s; best checkpoint {summary['best']}")
    return 0
