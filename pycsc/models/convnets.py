"""Convolutional networks: a U-Net and an image-to-image ResNet, in 2D or 3D.

GroupNorm instead of the official BatchNorm: 3D batches are small (often 1-4 patches),
where batch statistics are noisy, and GroupNorm behaves the same in training and inference.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .registry import register_model


def layers(ndim: int) -> tuple[Any, Any, Any]:
    """(Conv, ConvTranspose, MaxPool) classes of `ndim` dimensions."""
    if ndim == 2:
        return nn.Conv2d, nn.ConvTranspose2d, nn.MaxPool2d
    return nn.Conv3d, nn.ConvTranspose3d, nn.MaxPool3d


def group_norm(channels: int) -> nn.GroupNorm:
    groups = next(g for g in (8, 4, 2, 1) if channels % g == 0)
    return nn.GroupNorm(groups, channels)


class DoubleConv(nn.Sequential):
    def __init__(self, ndim: int, cin: int, cout: int):
        Conv, _, _ = layers(ndim)
        super().__init__(Conv(cin, cout, 3, padding=1, bias=False), group_norm(cout), nn.ReLU(inplace=True),
                         Conv(cout, cout, 3, padding=1, bias=False), group_norm(cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """U-Net: `depth` poolings, channels doubling from `base_channels`, transposed-conv upsampling.

    Spatial sizes must be divisible by ``2**depth``.
    """

    def __init__(self, ndim: int, n_classes: int, base_channels: int = 16, depth: int = 3,
                 in_channels: int = 1):
        super().__init__()
        Conv, ConvT, Pool = layers(ndim)
        widths = [base_channels * 2 ** i for i in range(depth + 1)]
        self.inc = DoubleConv(ndim, in_channels, widths[0])
        self.pool = Pool(2)
        self.down = nn.ModuleList(DoubleConv(ndim, widths[i], widths[i + 1]) for i in range(depth))
        self.upsample = nn.ModuleList(ConvT(widths[i + 1], widths[i], 2, stride=2) for i in reversed(range(depth)))
        self.up = nn.ModuleList(DoubleConv(ndim, 2 * widths[i], widths[i]) for i in reversed(range(depth)))
        self.outc = Conv(widths[0], n_classes, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last decoder features (before the 1x1 output convolution)."""
        skips = [self.inc(x)]
        for block in self.down:
            skips.append(block(self.pool(skips[-1])))
        y = skips.pop()
        for upsample, block in zip(self.upsample, self.up):
            y = block(torch.cat([skips.pop(), upsample(y)], dim=1))
        return y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.outc(self.features(x))


class ResidualBlock(nn.Module):
    def __init__(self, ndim: int, channels: int):
        super().__init__()
        Conv, _, _ = layers(ndim)
        self.body = nn.Sequential(Conv(channels, channels, 3, padding=1, padding_mode="reflect"),
                                  group_norm(channels), nn.ReLU(inplace=True),
                                  Conv(channels, channels, 3, padding=1, padding_mode="reflect"),
                                  group_norm(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResNet(nn.Module):
    """Image-to-image ResNet: 2 stride-2 down-samplings, `n_blocks` residual blocks, 2 up-samplings.

    Spatial sizes must be divisible by 4.
    """

    def __init__(self, ndim: int, n_classes: int, base_channels: int = 16, n_blocks: int = 6,
                 in_channels: int = 1):
        super().__init__()
        Conv, ConvT, _ = layers(ndim)
        c = base_channels
        seq: list[nn.Module] = [Conv(in_channels, c, 7, padding=3, padding_mode="reflect"), group_norm(c),
                                nn.ReLU(inplace=True)]
        for i in range(2):
            seq += [Conv(c * 2 ** i, c * 2 ** (i + 1), 3, stride=2, padding=1), group_norm(c * 2 ** (i + 1)),
                    nn.ReLU(inplace=True)]
        seq += [ResidualBlock(ndim, c * 4) for _ in range(n_blocks)]
        for i in (2, 1):
            seq += [ConvT(c * 2 ** i, c * 2 ** (i - 1), 3, stride=2, padding=1, output_padding=1),
                    group_norm(c * 2 ** (i - 1)), nn.ReLU(inplace=True)]
        seq += [Conv(c, n_classes, 7, padding=3, padding_mode="reflect")]
        self.net = nn.Sequential(*seq)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _positive(**values: int) -> None:
    from ..errors import ConfigError

    for key, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"[train.model] `{key}` must be an integer >= 1; got {value!r}")


@register_model("unet", divisor=lambda kw: 2 ** int(kw.get("depth", 3)))
def unet(ndim: int, in_channels: int, out_channels: int, base_channels: int = 16, depth: int = 3) -> UNet:
    """U-Net with `depth` poolings and `base_channels` feature maps at full resolution."""
    _positive(base_channels=base_channels, depth=depth)
    return UNet(ndim, out_channels, base_channels, depth, in_channels)


@register_model("resnet", divisor=lambda kw: 4)
def resnet(ndim: int, in_channels: int, out_channels: int, base_channels: int = 16, n_blocks: int = 6) -> ResNet:
    """Image-to-image ResNet (2 down-samplings, `n_blocks` residual blocks at 1/4 resolution)."""
    _positive(base_channels=base_channels, n_blocks=n_blocks)
    return ResNet(ndim, out_channels, base_channels, n_blocks, in_channels)
