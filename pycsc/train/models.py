"""Where the networks used to live; kept so that ``pycsc.train.models`` imports keep working.

The networks are in :mod:`pycsc.models` (registry and factory) and the checkpoint spec in
:mod:`pycsc.models.spec`.
"""

from ..models.convnets import ResNet, UNet
from ..models.spec import build_model, channel_names, model_spec, upgrade_spec

__all__ = ["UNet", "ResNet", "build_model", "channel_names", "model_spec", "upgrade_spec"]
