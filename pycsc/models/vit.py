"""A ViT-V-Net-style network: convolutional stem, transformer encoder, convolutional decoder.

The shape of the official toolbox's ``vitnet`` (Chen et al., ViT-V-Net), in 2D or 3D::

    x ── stem level 0 (full res) ───────────────────────────────── skip ──┐
          └ pool ─ level 1 (1/2) ──────────────────────────── skip ──┐    │
                    └ ... level L (1/2^L) ────────────── skip ──┐    │    │
                           └ patch embedding (1/(2^L p))        │    │    │
                              └ transformer encoder x `depth`   │    │    │
                                 └ up x p ─────────────── concat┘ up concat ... ─ 1x1 conv

Positions are encoded with fixed sine/cosine waves per axis, computed for the grid at hand,
so the network takes any input whose sizes are divisible by ``2**stem_levels * patch_size``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .convnets import DoubleConv, layers
from .registry import register_model


def sincos_positions(grid: tuple[int, ...], dim: int, device, dtype) -> torch.Tensor:
    """``[prod(grid), dim]`` fixed encodings: per axis, sin and cos at geometric frequencies."""
    per_axis = dim // (2 * len(grid))
    out = torch.zeros(*grid, dim, device=device, dtype=dtype)
    if per_axis == 0:
        return out.reshape(-1, dim)
    freqs = torch.exp(-math.log(10000.0) * torch.arange(per_axis, device=device, dtype=dtype) / per_axis)
    coords = torch.meshgrid(*[torch.arange(n, device=device, dtype=dtype) for n in grid], indexing="ij")
    for axis, c in enumerate(coords):
        angles = c[..., None] * freqs
        start = 2 * per_axis * axis
        out[..., start:start + per_axis] = torch.sin(angles)
        out[..., start + per_axis:start + 2 * per_axis] = torch.cos(angles)
    return out.reshape(-1, dim)


class ViTVNet(nn.Module):
    """Transformer encoder between a convolutional stem and a skip-connected decoder."""

    def __init__(self, ndim: int, in_channels: int, out_channels: int, stem_channels: int = 16,
                 stem_levels: int = 2, patch_size: int = 2, embed_dim: int = 96, depth: int = 4,
                 num_heads: int = 4, mlp_ratio: float = 4.0, dropout: float = 0.0):
        super().__init__()
        Conv, ConvT, Pool = layers(ndim)
        widths = [stem_channels * 2 ** i for i in range(stem_levels + 1)]
        self.stem = nn.ModuleList([DoubleConv(ndim, in_channels, widths[0])]
                                  + [DoubleConv(ndim, widths[i], widths[i + 1]) for i in range(stem_levels)])
        self.pool = Pool(2)
        self.embed = Conv(widths[-1], embed_dim, patch_size, stride=patch_size)
        layer = nn.TransformerEncoderLayer(embed_dim, num_heads, int(embed_dim * mlp_ratio), dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(embed_dim)
        self.unembed = ConvT(embed_dim, widths[-1], patch_size, stride=patch_size)
        self.fuse = DoubleConv(ndim, 2 * widths[-1], widths[-1])
        self.upsample = nn.ModuleList(ConvT(widths[i + 1], widths[i], 2, stride=2)
                                      for i in reversed(range(stem_levels)))
        self.up = nn.ModuleList(DoubleConv(ndim, 2 * widths[i], widths[i]) for i in reversed(range(stem_levels)))
        self.outc = Conv(widths[0], out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.stem[0](x)]
        for block in self.stem[1:]:
            skips.append(block(self.pool(skips[-1])))
        tokens = self.embed(skips[-1])
        batch, dim, *grid = tokens.shape
        seq = tokens.flatten(2).transpose(1, 2)
        seq = seq + sincos_positions(tuple(grid), dim, seq.device, seq.dtype)
        seq = self.norm(self.encoder(seq))
        y = self.unembed(seq.transpose(1, 2).reshape(batch, dim, *grid))
        y = self.fuse(torch.cat([skips.pop(), y], dim=1))
        for upsample, block in zip(self.upsample, self.up):
            y = block(torch.cat([skips.pop(), upsample(y)], dim=1))
        return self.outc(y)


@register_model("vit", divisor=lambda kw: 2 ** int(kw.get("stem_levels", 2)) * int(kw.get("patch_size", 2)))
def vit(ndim: int, in_channels: int, out_channels: int, stem_channels: int = 16, stem_levels: int = 2,
        patch_size: int = 2, embed_dim: int = 96, depth: int = 4, num_heads: int = 4,
        mlp_ratio: float = 4.0, dropout: float = 0.0) -> ViTVNet:
    """ViT-V-Net: conv stem, transformer encoder on patch tokens, conv decoder with skips."""
    from ..errors import ConfigError

    if embed_dim % num_heads:
        raise ConfigError(f"[train.model] `embed_dim` ({embed_dim}) must be divisible by `num_heads` "
                          f"({num_heads})")
    return ViTVNet(ndim, in_channels, out_channels, stem_channels, stem_levels, patch_size, embed_dim,
                   depth, num_heads, mlp_ratio, dropout)
