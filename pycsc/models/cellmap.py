"""Pretrained COSEM networks from the ``cellmap-models`` package (optional, imported on use).

``name = "cellmap_cosem"`` with ``checkpoint = "setup04/1820500"`` builds the COSEM network
of that setup with its trained weights, as ``cellmap_models`` loads it (the package keeps
its own download cache; pycsc never downloads). These networks use valid convolutions: the
output is smaller than the input (setup04: 216^3 at 8 nm in, 68^3 at 4 nm out), so set
``input_shape`` / ``target_shape`` accordingly; training and prediction take the centre of
the output. When ``out_channels`` differs from the setup's classes, the 1x1 prediction head
is replaced by a freshly initialised one over the same features (fine-tuning onto other
classes); the backbone keeps its trained weights.
"""

from __future__ import annotations

import importlib

from ..errors import ConfigError
from .registry import register_model


def _cosem_module():
    for module in ("cellmap_models.pytorch.cosem", "cellmap_models.cosem"):
        try:
            return importlib.import_module(module)
        except ImportError:
            continue
    raise ConfigError("[train.model] `name` = 'cellmap_cosem' needs the cellmap-models package: "
                      "pip install cellmap-models")


@register_model("cellmap_cosem", ndims=(3,), upsample=2)
def cellmap_cosem(ndim: int, in_channels: int, out_channels: int, checkpoint: str = "setup04/1820500"):
    """A pretrained COSEM network from cellmap-models (8 nm in, 4 nm out for setup04)."""
    import torch

    if in_channels != 1:
        raise ConfigError(f"model 'cellmap_cosem' reads one EM channel; got in_channels = {in_channels}")
    try:
        net = _cosem_module().load_model(checkpoint)
    except ValueError as exc:   # cellmap-models: "Model ... not found"
        raise ConfigError(f"[train.model] `checkpoint` = {checkpoint!r}: {exc}; see cellmap_models' "
                          "cosem README for the names (e.g. 'setup04/1820500')") from None
    head = getattr(net, "prediction_head", None)
    if not isinstance(head, torch.nn.Conv3d):
        raise ConfigError(f"cellmap-models checkpoint {checkpoint!r} has no Conv3d `prediction_head`; "
                          "this pycsc adapts the COSEM networks only")
    if head.out_channels != out_channels:
        net.prediction_head = torch.nn.Conv3d(head.in_channels, out_channels, 1)
    return net.train()
