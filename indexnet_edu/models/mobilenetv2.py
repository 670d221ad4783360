"""MobileNetV2 building blocks for the IndexNet matting encoder (width multiplier 1.0).

The matting encoder keeps every convolution at stride 1: downsampling happens outside the
layers, in the index-guided pooling stages (or max pooling for the baseline). The blocks are
MobileNetV2's (Sandler et al. 2018) as the IndexNet release builds them
(github.com/poppinace/indexnet_matting, ``scripts/hlmobilenetv2.py``, ``InvertedResidual``): each
block zero-pads its *input* for the dilated 3×3 window before the 1×1 expansion, and the depthwise
convolution then pads nothing. With trained BatchNorm statistics that differs from padding inside
the depthwise convolution at the border pixels (an expanded zero is BN+ReLU6 of 0, not 0), so it
is what a released checkpoint needs.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import nn


def conv_bn_relu6(in_channels: int, out_channels: int, kernel_size: int = 3) -> nn.Sequential:
    """Bias-free k×k convolution ("same" padding, stride 1), BatchNorm, ReLU6."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, 1, kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    """Pad the input → expand (1×1) → depthwise 3×3 (dilated, unpadded) → project (1×1, linear);
    residual (of the unpadded input) when shapes match.

    B×C_in×H×W → B×C_out×H×W (stride 1 throughout, as in the matting encoder).
    """

    def __init__(self, in_channels: int, out_channels: int, expand_ratio: int, dilation: int = 1):
        super().__init__()
        hidden = round(in_channels * expand_ratio)
        self.use_residual = in_channels == out_channels
        self.dilation = dilation
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers += [nn.Conv2d(in_channels, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True)]
        layers += [
            nn.Conv2d(hidden, hidden, 3, 1, 0, dilation, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        reach = self.dilation  # the dilated 3×3 window reaches `dilation` pixels each way
        out = self.conv(F.pad(x, (reach, reach, reach, reach)))
        return x + out if self.use_residual else out


# (expand ratio, output channels, number of blocks) of MobileNetV2's seven bottleneck layers.
BOTTLENECK_SETTINGS = ((1, 16, 1), (6, 24, 2), (6, 32, 3), (6, 64, 4), (6, 96, 3), (6, 160, 3), (6, 320, 1))
STEM_CHANNELS = 32


def bottleneck_layer(in_channels: int, out_channels: int, expand_ratio: int, blocks: int) -> nn.Sequential:
    """``blocks`` inverted residuals; the first changes the width, the rest keep it."""
    layers = [InvertedResidual(in_channels, out_channels, expand_ratio)]
    layers += [InvertedResidual(out_channels, out_channels, expand_ratio) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


def mobilenetv2_layers(in_channels: int = 4) -> nn.ModuleList:
    """layer0 (stem conv 3×3 in→32) and layer1..layer7 (the bottlenecks), all at stride 1."""
    layers = [conv_bn_relu6(in_channels, STEM_CHANNELS, 3)]
    width = STEM_CHANNELS
    for expand_ratio, out_channels, blocks in BOTTLENECK_SETTINGS:
        layers.append(bottleneck_layer(width, out_channels, expand_ratio, blocks))
        width = out_channels
    return nn.ModuleList(layers)
