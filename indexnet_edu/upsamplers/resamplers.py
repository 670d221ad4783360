"""Matched down/up-sampling pairs behind one interface: what one encoder-decoder stage needs.

Every resampler has

* ``down(x) -> (pooled, state)``: B×C×H×W → B×C×(H/s)×(W/s), plus what the decoder may use;
* ``up(y, state) -> out``: B×C×h×w → B×C×(s·h)×(s·w).

Upsamplers that need nothing from the encoder (nearest, bilinear, deconvolution, pixel
shuffle, CARAFE, DySample) pool with max pooling and ignore ``state``. Max-unpooling passes
the argmax index; IndexNet passes the decoder index its block predicted from the encoder's
high-resolution feature and pools with the encoder index; A2U does the same with second-order
kernels (6×6 downsampling kernels, 3×3 upsampling kernels). FADE and SAPA max-pool and pass the encoder feature itself: their kernels need both
it and the decoder feature.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_channels, check_divisible, check_positive_int, check_tensor
from ..ops.graph_capture import NotScriptable
from .a2u import A2U
from .carafe import CARAFE
from .dysample import DySample
from .fade import FADE
from ..ops.reassembly import reassemble
from .sapa import SAPA
from ..ops.indexing import indexed_pool, indexed_upsample
from ..ops.recipes import max_index


class Resampler(NotScriptable, nn.Module):
    """Base class: max-pool down, subclass-defined up."""

    def __init__(self, channels: int, stride: int = 2):
        super().__init__()
        self.channels = check_positive_int(channels, "channels")
        self.stride = check_positive_int(stride, "stride")

    def _check_down(self, x: torch.Tensor) -> None:
        check_tensor(x, "x", ndim=4)
        check_channels(x, self.channels, type(self).__name__)
        check_divisible(x, self.stride)

    def down(self, x: torch.Tensor):
        self._check_down(x)
        return F.max_pool2d(x, self.stride), None

    def up(self, y: torch.Tensor, state=None) -> torch.Tensor:
        check_tensor(y, "y", ndim=4)
        check_channels(y, self.channels, type(self).__name__)
        return self._upsample(y, state)

    def _upsample(self, y: torch.Tensor, state) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Down then up: a B×C×H×W map through the pair (the reconstruction experiment)."""
        return self.up(*self.down(x))


class InterpolationResampler(Resampler):
    """Fixed interpolation: nearest or bilinear (align_corners=False)."""

    def __init__(self, channels: int, stride: int = 2, mode: str = "nearest"):
        super().__init__(channels, stride)
        self.mode = mode

    def _upsample(self, y, state):
        if self.mode == "nearest":
            return F.interpolate(y, scale_factor=self.stride, mode="nearest")
        return F.interpolate(y, scale_factor=self.stride, mode=self.mode, align_corners=False)


class DeconvResampler(Resampler):
    """Transposed convolution, stride s, kernel 2s (2s+1 for odd s), padding ⌈s/2⌉: output
    exactly s·h × s·w. Neighbouring kernels overlap unevenly, hence checkerboards."""

    def __init__(self, channels: int, stride: int = 2):
        super().__init__(channels, stride)
        self.deconv = nn.ConvTranspose2d(channels, channels, 2 * stride + stride % 2, stride, (stride + 1) // 2)

    def _upsample(self, y, state):
        return self.deconv(y)


class PixelShuffleResampler(Resampler):
    """Sub-pixel convolution: 3×3 conv C→C·s², then pixel shuffle (a one-hot channel index)."""

    def __init__(self, channels: int, stride: int = 2):
        super().__init__(channels, stride)
        self.expand = nn.Conv2d(channels, channels * stride**2, 3, padding=1)

    def _upsample(self, y, state):
        return F.pixel_shuffle(self.expand(y), self.stride)


class MaxUnpoolResampler(Resampler):
    """SegNet's max pooling / max unpooling, written as IP/IU with the one-hot argmax index."""

    def down(self, x):
        self._check_down(x)
        index = max_index(x, self.stride)
        return indexed_pool(x, index, self.stride), index

    def _upsample(self, y, state):
        if state is None:
            raise ValueError("max_unpool needs the index returned by down(x); got state=None")
        return indexed_upsample(y, state, self.stride)


class ModuleUpsampler(Resampler):
    """Max-pool down, a learned decoder-side upsampler module (CARAFE, DySample) up."""

    def __init__(self, channels: int, stride: int, module: nn.Module):
        super().__init__(channels, stride)
        self.upsampler = module

    def _upsample(self, y, state):
        return self.upsampler(y)


def carafe_resampler(channels: int, stride: int = 2, **kwargs) -> ModuleUpsampler:
    return ModuleUpsampler(channels, stride, CARAFE(channels, scale=stride, **kwargs))


def dysample_resampler(channels: int, stride: int = 2, groups: int = 4, **kwargs) -> ModuleUpsampler:
    groups = groups if channels % groups == 0 else 1
    return ModuleUpsampler(channels, stride, DySample(channels, scale=stride, groups=groups, **kwargs))


class IndexResampler(Resampler):
    """IndexNet: an index block looks at x; its encoder index pools, its decoder index upsamples."""

    def __init__(self, channels: int, stride: int, block: nn.Module):
        super().__init__(channels, stride)
        self.block = block

    def down(self, x):
        self._check_down(x)
        encoder_index, decoder_index = self.block(x)
        return indexed_pool(x, encoder_index, self.stride), decoder_index

    def _upsample(self, y, state):
        if state is None:
            raise ValueError("an index upsampler needs the decoder index returned by down(x); got state=None")
        return indexed_upsample(y, state, self.stride)


class GuidedResampler(Resampler):
    """Max-pool down keeping the encoder feature as ``state``; up = ``module(state, y)``
    (FADE, SAPA: kernels from the encoder and the decoder feature together)."""

    def __init__(self, channels: int, stride: int, module: nn.Module):
        super().__init__(channels, stride)
        self.upsampler = module

    def down(self, x):
        self._check_down(x)
        return F.max_pool2d(x, self.stride), x

    def _upsample(self, y, state):
        return self.upsampler(state, y)


def fade_resampler(channels: int, stride: int = 2, **kwargs) -> GuidedResampler:
    return GuidedResampler(channels, stride, FADE(channels, scale=stride, **kwargs))


def sapa_resampler(channels: int, stride: int = 2, similarity: str = "bilinear", **kwargs) -> GuidedResampler:
    return GuidedResampler(channels, stride, SAPA(channels, scale=stride, similarity=similarity, **kwargs))


class A2UResampler(Resampler):
    """A2U: second-order kernels from the encoder feature downsample it and upsample the decoder's
    (``state`` = the B×k²×H×W upsampling kernels, as IndexNet passes its decoder index)."""

    def __init__(self, channels: int, stride: int = 2, **kwargs):
        super().__init__(channels, stride)
        self.block = A2U(channels, scale=stride, **kwargs)

    def down(self, x):
        self._check_down(x)
        down_kernels, up_kernels = self.block(x)
        return self.block.downsample(x, down_kernels), up_kernels

    def _upsample(self, y, state):
        if state is None:
            raise ValueError("a2u needs the kernels returned by down(x); got state=None")
        return reassemble(y, state, self.block.k_up, self.stride)
