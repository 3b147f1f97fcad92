"""Training (imports torch lazily): the loop, losses, optimisers and checkpoints.

``from pycsc.train import train`` runs a :class:`~pycsc.config.TrainConfig`; the networks
are in :mod:`pycsc.models`.
"""

__all__ = ["train", "UNet", "ResNet", "build_model", "model_spec"]


def __getattr__(name):
    # lazy, so that validating a TrainConfig (pycsc.train.options) does not import the loop
    if name == "train":
        from .loop import train

        return train
    if name in ("UNet", "ResNet", "build_model", "model_spec"):
        from . import models

        return getattr(models, name)
    raise AttributeError(name)
