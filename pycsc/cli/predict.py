"""``csc predict [CONFIG.toml]``: sliding-window probabilities for test crops, local crops or
regions ([predict] table)."""

from __future__ import annotations

from ..config import PredictConfig
from ._options import add_command, config_from_args


def add_parser(sub) -> None:
    add_command(sub, "predict", PredictConfig, "predict",
                "write per-class probability volumes (OME-NGFF) with a trained checkpoint", run,
                description="write per-class volumes (OME-NGFF) with a trained checkpoint; the network "
                "(any registry model, MONAI or user callable) is rebuilt from the checkpoint alone. "
                "Values are in [0, 1] (signed distances as (tanh + 1) / 2); boundary/affinity classes "
                "are [C, z, y, x] and carry their target kind for `csc process`; the output grid is "
                "the model's target voxel size")


def run(args) -> int:
    from ..predict import predict

    results = predict(config_from_args(args))
    done = [r for r in results if not r["skipped"]]
    print(f"predict: {len(done)} crops written, {len(results) - len(done)} already complete")
    return 0
