"""Networks: UNet and an image-to-image ResNet, in 2D or 3D. All return one logit per class.

A model is described by a small JSON-able *spec* stored in every checkpoint, so that
``predict`` can rebuild it without the training config::

    {"architecture": "unet", "ndim": 3, "classes": ["mito", "er"], "base_channels": 16,
     "depth": 3, "patch_shape": [64, 64, 64], "voxel_size_nm": [8, 8, 8]}

GroupNorm instead of the official BatchNorm: 3D batches are small (often 1-4 patches),
where batch statistics are noisy, and GroupNorm behaves the same in training and inference.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def _layers(ndim: int) -> tuple[Any, Any, Any]:
    if ndim == 2:
        return nn.Conv2d, nn.ConvTranspose2d, nn.MaxPool2d
    return nn.Conv3d, nn.ConvTranspose3d, nn.MaxPool3d


def _norm(channels: int) -> nn.GroupNorm:
    groups = next(g for g in (8, 4, 2, 1) if channels % g == 0)
    return nn.GroupNorm(groups, channels)


class DoubleConv(nn.Sequential):
    def __init__(self, ndim: int, cin: int, cout: int):
        Conv, _, _ = _layers(ndim)
        super().__init__(Conv(cin, cout, 3, padding=1, bias=False), _norm(cout), nn.ReLU(inplace=True),
                         Conv(cout, cout, 3, padding=1, bias=False), _norm(cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """U-Net: `depth` poolings, channels doubling from `base_channels`, transposed-conv upsampling.

    Spatial sizes must be divisible by ``2**depth``.
    """

    def __init__(self, ndim: int, n_classes: int, base_channels: int = 16, depth: int = 3,
                 in_channels: int = 1):
        super().__init__()
        Conv, ConvT, Pool = _layers(ndim)
        widths = [base_channels * 2 ** i for i in range(depth + 1)]
        self.inc = DoubleConv(ndim, in_channels, widths[0])
        self.pool = Pool(2)
        self.down = nn.ModuleList(DoubleConv(ndim, widths[i], widths[i + 1]) for i in range(depth))
        self.upsample = nn.ModuleList(ConvT(widths[i + 1], widths[i], 2, stride=2) for i in reversed(range(depth)))
        self.up = nn.ModuleList(DoubleConv(ndim, 2 * widths[i], widths[i]) for i in reversed(range(depth)))
        self.outc = Conv(widths[0], n_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.inc(x)]
        for block in self.down:
            skips.append(block(self.pool(skips[-1])))
        y = skips.pop()
        for upsample, block in zip(self.upsample, self.up):
            y = block(torch.cat([skips.pop(), upsample(y)], dim=1))
        return self.outc(y)


class ResidualBlock(nn.Module):
    def __init__(self, ndim: int, channels: int):
        super().__init__()
        Conv, _, _ = _layers(ndim)
        self.body = nn.Sequential(Conv(channels, channels, 3, padding=1, padding_mode="reflect"),
                                  _norm(channels), nn.ReLU(inplace=True),
                                  Conv(channels, channels, 3, padding=1, padding_mode="reflect"),
                                  _norm(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResNet(nn.Module):
    """Image-to-image ResNet: 2 stride-2 down-samplings, `n_blocks` residual blocks, 2 up-samplings.

    Spatial sizes must be divisible by 4.
    """

    def __init__(self, ndim: int, n_classes: int, base_channels: int = 16, n_blocks: int = 6,
                 in_channels: int = 1):
        super().__init__()
        Conv, ConvT, _ = _layers(ndim)
        c = base_channels
        layers: list[nn.Module] = [Conv(in_channels, c, 7, padding=3, padding_mode="reflect"), _norm(c),
                                   nn.ReLU(inplace=True)]
        for i in range(2):
            layers += [Conv(c * 2 ** i, c * 2 ** (i + 1), 3, stride=2, padding=1), _norm(c * 2 ** (i + 1)),
                       nn.ReLU(inplace=True)]
        layers += [ResidualBlock(ndim, c * 4) for _ in range(n_blocks)]
        for i in (2, 1):
            layers += [ConvT(c * 2 ** i, c * 2 ** (i - 1), 3, stride=2, padding=1, output_padding=1),
                       _norm(c * 2 ** (i - 1)), nn.ReLU(inplace=True)]
        layers += [Conv(c, n_classes, 7, padding=3, padding_mode="reflect")]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def model_spec(cfg: Any) -> dict:
    """The spec of the model a :class:`~pycsc.config.TrainConfig` describes."""
    return {"architecture": cfg.architecture, "ndim": int(cfg.ndim), "classes": list(cfg.classes),
            "base_channels": int(cfg.base_channels), "depth": int(cfg.depth),
            "patch_shape": [int(s) for s in cfg.patch_shape],
            "voxel_size_nm": [float(v) for v in cfg.voxel_size_nm]}


def build_model(spec: dict) -> nn.Module:
    """Instantiate the network a spec describes (weights freshly initialised)."""
    n = len(spec["classes"])
    if spec["architecture"] == "unet":
        return UNet(spec["ndim"], n, spec["base_channels"], spec["depth"])
    if spec["architecture"] == "resnet":
        return ResNet(spec["ndim"], n, spec["base_channels"], spec["depth"])
    raise ValueError(f"unknown architecture {spec['architecture']!r}; expected 'unet' or 'resnet'")
