"""Training (imports torch): models, masked loss, checkpoints and the loop.

``from pycsc.train import train`` runs a :class:`~pycsc.config.TrainConfig`.
"""

from .loop import train
from .models import ResNet, UNet, build_model, model_spec

__all__ = ["train", "UNet", "ResNet", "build_model", "model_spec"]
