"""``csc predict [CONFIG.toml]``: sliding-window probabilities for test crops, local crops or
regions ([predict] table)."""

from __future__ import annotations

from ..config import PredictConfig
from ._options import add_command, config_from_args


def add_parser(sub) -> None:
    add_command(sub, "predict", PredictConfig, "predict",
                "write per-class probability volumes (OME-NGFF) with a trained checkpoint", run)


def run(args) -> int:
    from ..predict import predict

    results = predict(config_from_args(args))
    done = [r for r in results if not r["skipped"]]
    print(f"predict: {len(done)} crops written, {len(results) - len(done)} already complete")
    return 0
