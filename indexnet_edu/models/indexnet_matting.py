"""The IndexNet matting model (Lu et al., ICCV 2019), laid out as the official release.

Input: B×4×H×W (RGB + trimap in [0, 1]; H, W divisible by 32). Output: B×1×H×W alpha.

Encoder: MobileNetV2 with every convolution at stride 1; five pooling stages follow layer0
(32 ch), layer2 (24), layer3 (32), layer4 (64) and layer6 (160), giving output stride 32.
Each pooling stage is either max pooling (the baseline, decoded by max-unpooling) or an index
block: its encoder index weights the feature, ``4·avg_pool(I ⊙ x)`` pools it (IP), and the
weighted feature is the skip. ASPP turns 320 channels into 160. The decoder has seven blocks
(upsample by the matching index if any, concatenate the skip, conv 5×5-BN-ReLU6), then a head
conv 5×5-BN-ReLU6 32→1 and a bias-free conv 5×5 1→1.

In eval mode the prediction is clipped to [0, 1] and the trimap's known pixels are kept.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_choice, check_flag, check_tensor
from ..ops.graph_capture import is_tracing
from ..upsamplers.index_blocks import DepthwiseIndexBlock, HolisticIndexBlock
from .mobilenetv2 import conv_bn_relu6, mobilenetv2_layers

INDEX_KINDS = ("maxpool", "holistic", "o2o", "m2o")
POOLED_LAYERS = (0, 2, 3, 4, 6)              # encoder layers followed by a stride-2 pooling
ENCODER_WIDTHS = (32, 16, 24, 32, 64, 96, 160, 320)
OUTPUT_STRIDE = 32
ASPP_WIDTH = 256
ASPP_DILATIONS = (2, 4, 8)                   # at output stride 32


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling with depthwise-separable dilated branches.

    B×C_in×h×w → B×C_out×h×w: five 256-channel branches (1×1; three depthwise 3×3 with
    dilations 2, 4, 8 followed by 1×1; global average pooling + 1×1), concatenated, 1×1,
    dropout 0.5. As the release (``scripts/hlaspp.py``, output stride 32), the dilated
    depthwise convolutions pad inside themselves (padding = dilation, zeros) — unlike the
    encoder's blocks, which pad their input.
    """

    def __init__(self, in_channels: int = 320, out_channels: int = 160, width: int = ASPP_WIDTH,
                 dilations=ASPP_DILATIONS):
        super().__init__()
        self.branches = nn.ModuleList([conv_bn_relu6(in_channels, width, 1)])
        for dilation in dilations:
            self.branches.append(nn.Sequential(
                nn.Conv2d(in_channels, in_channels, 3, 1, dilation, dilation, groups=in_channels, bias=False),
                nn.BatchNorm2d(in_channels),
                nn.ReLU6(inplace=True),
                conv_bn_relu6(in_channels, width, 1),
            ))
        self.image_pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), conv_bn_relu6(in_channels, width, 1))
        self.project = conv_bn_relu6(width * (len(dilations) + 2), out_channels, 1)
        self.dropout = nn.Dropout(0.5)

    def forward(self, x):
        pooled = self.image_pool(x).expand(-1, -1, *x.shape[-2:])
        features = [branch(x) for branch in self.branches] + [pooled]
        return self.dropout(self.project(torch.cat(features, dim=1)))


class DecoderBlock(nn.Module):
    """Upsample (by index, if one is given), concatenate the skip, conv 5×5-BN-ReLU6."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 5):
        super().__init__()
        self.fuse = conv_bn_relu6(in_channels, out_channels, kernel_size)

    def forward(self, x, skip, upsample=None):
        if upsample is not None:
            x = upsample(x)
        return self.fuse(torch.cat([x, skip], dim=1))


def check_unit_trimap(trimap: torch.Tensor, name: str = "trimap") -> torch.Tensor:
    """A trimap scaled to [0, 1] (0 background, 0.5 unknown, 1 foreground); a 0–255 one is refused.

    Raises:
        ValueError: NaN/inf or values outside [0, 1] (a 0/128/255 trimap, not divided by 255).
            Checked in eager mode: a graph being recorded (``torch.compile``, ``torch.export``)
            cannot branch on values, so there the check is left out.
    """
    if trimap.numel() and not is_tracing():
        low, high = float(trimap.min()), float(trimap.max())
        if not (0.0 <= low and high <= 1.0):  # NaN fails both comparisons
            raise ValueError(f"{name} must hold values in [0, 1] (0 / 0.5 / 1), got values in [{low:g}, {high:g}]"
                             + ("; divide a 0/128/255 trimap by 255" if high > 1.0 else ""))
    return trimap


def keep_known_pixels(alpha: torch.Tensor, trimap: torch.Tensor) -> torch.Tensor:
    """Clip alpha (B×1×H×W) to [0, 1] and copy the trimap's known pixels (0 → 0, 1 → 1).

    ``trimap`` is B×1×H×W in [0, 1] with 0.5 marking the unknown band; a 0–255 trimap is
    refused (ValueError), since it would mark every pixel above 1 as known foreground.
    """
    check_unit_trimap(trimap)
    alpha = alpha.clamp(0, 1)
    alpha = torch.where(trimap >= 1 - 1e-3, torch.ones_like(alpha), alpha)
    return torch.where(trimap <= 1e-3, torch.zeros_like(alpha), alpha)


class IndexNetMatting(nn.Module):
    """See the module docstring. ``index`` ∈ INDEX_KINDS chooses the pooling stages."""

    def __init__(self, index: str = "m2o", nonlinear: bool = False, context: bool = False):
        super().__init__()
        self.index = check_choice(index, "index", INDEX_KINDS)
        self.nonlinear, self.context = check_flag(nonlinear, "nonlinear"), check_flag(context, "context")
        if self.index == "maxpool" and (nonlinear or context):
            raise ValueError("nonlinear/context only apply to learned index blocks, not index='maxpool'")
        self.encoder = mobilenetv2_layers(in_channels=4)
        self.index_blocks = nn.ModuleDict()
        if self.index != "maxpool":
            for layer in POOLED_LAYERS:
                self.index_blocks[str(layer)] = self._index_block(ENCODER_WIDTHS[layer])
        self.aspp = ASPP(320, 160)
        # (input channels, output channels) of decoder blocks 6..0; input = upsampled + skip.
        decoder_shapes = {6: (320, 96), 5: (192, 64), 4: (128, 32), 3: (64, 24), 2: (48, 16), 1: (32, 32), 0: (64, 32)}
        self.decoder = nn.ModuleDict({str(k): DecoderBlock(*shape) for k, shape in decoder_shapes.items()})
        self.head = nn.Sequential(conv_bn_relu6(32, 1, 5), nn.Conv2d(1, 1, 5, 1, 2, bias=False))
        self._initialise()

    def _index_block(self, channels: int) -> nn.Module:
        if self.index == "holistic":
            return HolisticIndexBlock(channels, 2, self.nonlinear, self.context)
        return DepthwiseIndexBlock(channels, 2, self.index, self.nonlinear, self.context)

    def _initialise(self):
        # As the official code: He-normal with fan-out for every conv, BN weight 1 / bias 0.
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels
                nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / fan_out))
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def _pool(self, layer: int, x: torch.Tensor):
        """Return (skip feature, pooled feature, upsampling function for the decoder)."""
        if self.index == "maxpool":
            pooled, argmax = F.max_pool2d(x, 2, 2, return_indices=True)
            return x, pooled, lambda y: F.max_unpool2d(y, argmax, 2, 2, output_size=x.shape[-2:])
        encoder_index, decoder_index = self.index_blocks[str(layer)](x)
        weighted = encoder_index * x
        pooled = 4 * F.avg_pool2d(weighted, 2, 2)  # IP = s²·avg_pool(I ⊙ x)
        return weighted, pooled, lambda y: decoder_index * F.interpolate(y, scale_factor=2, mode="nearest")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", ndim=4)
        if x.shape[1] != 4:
            raise ValueError(f"IndexNetMatting expects B×4×H×W (RGB + trimap), got {tuple(x.shape)}")
        if x.shape[-2] % OUTPUT_STRIDE or x.shape[-1] % OUTPUT_STRIDE:
            raise ValueError(f"H and W must be divisible by {OUTPUT_STRIDE}, got {tuple(x.shape[-2:])}")
        check_unit_trimap(x[:, 3:4], "the trimap channel x[:, 3]")
        skips, upsamplers = {}, {}
        feature = x
        for layer, block in enumerate(self.encoder):
            feature = block(feature)
            if layer in POOLED_LAYERS:
                skips[layer], feature, upsamplers[layer] = self._pool(layer, feature)
            else:
                skips[layer] = feature
        out = self.aspp(feature)
        for layer in (6, 5, 4, 3, 2, 1, 0):
            out = self.decoder[str(layer)](out, skips[layer], upsamplers.get(layer))
        alpha = self.head(out)
        if not self.training:
            alpha = keep_known_pixels(alpha, x[:, 3:4])
        return alpha


def indexnet_matting(index: str = "maxpool", nonlinear: bool = False, context: bool = False) -> IndexNetMatting:
    """Build the IndexNet matting model.

    ``index="maxpool"`` is the max-pool/max-unpool baseline (3,753,259 parameters);
    ``index="m2o", nonlinear=True, context=True`` is the released IndexNet (5,953,515).
    """
    return IndexNetMatting(index, nonlinear, context)
