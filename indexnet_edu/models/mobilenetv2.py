"""MobileNetV2 building blocks for the IndexNet matting encoder (width multiplier 1.0).

The matting encoder keeps every convolution at stride 1: downsampling happens outside the
layers, in the index-guided pooling stages (or max pooling for the baseline). The blocks are
MobileNetV2's (Sandler et al. 2018) as the IndexNet release builds them
(github.com/poppinace/indexnet_matting, ``scripts/hlmobilenetv2.py``, ``InvertedResidual``).

Padding, as the release: each inverted-residual block zero-pads its *input* by the reach of
the dilated 3×3 window (``fixed_padding``: ``dilation`` pixels each side) before the 1×1
expansion, and the depthwise convolution then pads nothing. Padding inside the depthwise
convolution instead ("same" padding, as torchvision's MobileNetV2 does) gives the same numbers in
the interior but not at the border: there the release's depthwise window sees the expansion
of a zero pixel, ``ReLU6(BN(0))`` — with trained BatchNorm statistics not zero. (For the one
block without expansion, layer1, the two coincide.) The stem (``layer0``: 3×3 conv, padding 1)
pads inside its convolution in the release too, as here.

Dilation, as the release: a layer's dilation grows only once the running stride has reached
the output stride. At output stride 32 — the released model, and the only one built here —
that happens only at layer7, whose stride is 1, so every block has dilation 1
(:data:`LAYER_DILATIONS`). (At output stride 16 the release would dilate layer6's second and
third blocks and layer7 by 2.)
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import nn


def conv_bn_relu6(in_channels: int, out_channels: int, kernel_size: int = 3) -> nn.Sequential:
    """Bias-free k×k convolution ("same" padding k//2 inside the conv, stride 1), BatchNorm, ReLU6:
    the release's ``conv_bn`` (``scripts/hlconv.py``), used for the stem, ASPP's 1×1s, the decoder
    and the head."""
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
        # the release's fixed_padding: a dilated 3×3 window reaches `dilation` pixels each way
        reach = self.dilation
        out = self.conv(F.pad(x, (reach, reach, reach, reach)))
        return x + out if self.use_residual else out


# (expand ratio, output channels, number of blocks) of MobileNetV2's seven bottleneck layers.
BOTTLENECK_SETTINGS = ((1, 16, 1), (6, 24, 2), (6, 32, 3), (6, 64, 4), (6, 96, 3), (6, 160, 3), (6, 320, 1))
STEM_CHANNELS = 32
# Dilation of layer1..layer7's blocks at output stride 32 (see the module docstring).
LAYER_DILATIONS = (1, 1, 1, 1, 1, 1, 1)


def bottleneck_layer(in_channels: int, out_channels: int, expand_ratio: int, blocks: int,
                     dilation: int = 1) -> nn.Sequential:
    """``blocks`` inverted residuals; the first changes the width, the rest keep it."""
    layers = [InvertedResidual(in_channels, out_channels, expand_ratio, dilation)]
    layers += [InvertedResidual(out_channels, out_channels, expand_ratio, dilation) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


def mobilenetv2_layers(in_channels: int = 4) -> nn.ModuleList:
    """layer0 (stem conv 3×3 in→32) and layer1..layer7 (the bottlenecks), all at stride 1."""
    layers = [conv_bn_relu6(in_channels, STEM_CHANNELS, 3)]
    width = STEM_CHANNELS
    for (expand_ratio, out_channels, blocks), dilation in zip(BOTTLENECK_SETTINGS, LAYER_DILATIONS):
        layers.append(bottleneck_layer(width, out_channels, expand_ratio, blocks, dilation))
        width = out_channels
    return nn.ModuleList(layers)
