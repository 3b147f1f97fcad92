"""The COSEM ``setup_04`` shape: a U-Net that reads EM at voxel size v and predicts at v/2.

The COSEM networks (Heinrich et al. 2021) see 8 nm EM with wide context and predict 4 nm
signed distances. Here a U-Net runs at the input grid, then one transposed convolution and
a double convolution produce the output on a grid twice as fine, covering the same field
of view (output size = 2 x input size per axis)::

    input  [n]   @ v    ── U-Net ── features [n] @ v ── up x2 ── conv ── output [2n] @ v/2

Training and prediction crop the centre of the output when the target is smaller.
"""

from __future__ import annotations

import torch
from torch import nn

from .convnets import DoubleConv, UNet, layers
from .registry import register_model


class UpsampleUNet(nn.Module):
    """A U-Net followed by a learned x2 up-sampling stage."""

    def __init__(self, ndim: int, in_channels: int, out_channels: int, base_channels: int = 12,
                 depth: int = 3):
        super().__init__()
        Conv, ConvT, _ = layers(ndim)
        self.unet = UNet(ndim, 1, base_channels, depth, in_channels)
        self.unet.outc = nn.Identity()    # the U-Net's features feed the up-sampling stage
        self.upsample = ConvT(base_channels, base_channels, 2, stride=2)
        self.refine = DoubleConv(ndim, base_channels, base_channels)
        self.outc = Conv(base_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.outc(self.refine(self.upsample(self.unet.features(x))))


@register_model("cosem_upsample_unet", upsample=2, divisor=lambda kw: 2 ** int(kw.get("depth", 3)))
def cosem_upsample_unet(ndim: int, in_channels: int, out_channels: int, base_channels: int = 12,
                        depth: int = 3) -> UpsampleUNet:
    """U-Net at voxel size v with an x2 up-sampling head: output at v/2 (COSEM setup_04)."""
    from .convnets import _positive

    _positive(base_channels=base_channels, depth=depth)
    return UpsampleUNet(ndim, in_channels, out_channels, base_channels, depth)
