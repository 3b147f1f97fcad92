"""A user network for the registry tests: ``name = "user_nets:build"`` (on sys.path in the tests)."""

from torch import nn


def build(*, ndim, in_channels, out_channels, width=4):
    Conv = nn.Conv2d if ndim == 2 else nn.Conv3d
    return nn.Sequential(Conv(in_channels, width, 3, padding=1), nn.ReLU(), Conv(width, out_channels, 1))


def not_a_module(*, ndim, in_channels, out_channels):
    return "oops"
