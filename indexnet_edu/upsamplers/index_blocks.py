"""Learned index functions: holistic (HIN) and depthwise (DIN) index blocks (Lu et al., TPAMI 2022, as in the official code).

A block looks at an encoder feature ``x`` (B×C×H×W) and predicts logits ``z`` at the pooled
resolution, one per s×s sub-position. Exactly as the official IndexNet code:

    dec = sigmoid(z)                      # decoder index, each value in (0, 1)
    enc = softmax(dec) over the s² sub-positions (per channel for DIN)

then both are pixel-shuffled back to H×W (sub-position k goes to row k // s, column k % s).
**enc drives pooling, dec drives upsampling.** Because softmax sees sigmoid values, for s=2
every encoder weight lies in (1/(1+3e), e/(e+3)) ≈ (0.109, 0.475): learned pooling is always
soft, while the decoder gate can approach both max-unpooling (0/1) and nearest (all 1).

All convolutions are bias-free. ``context=True`` widens the index convolution from an s×s
kernel (stride s) to 2s×2s (stride s, padding s/2), which quadruples its parameters.
"""
from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from .._checks import check_channels, check_choice, check_divisible, check_flag, check_positive_int, check_tensor
from ..ops.graph_capture import NotScriptable

DIN_MODES = ("o2o", "m2o")
SUPPORTED_STRIDES = (2, 4)


def _index_conv(in_channels: int, out_channels: int, stride: int, context: bool, groups: int = 1) -> nn.Conv2d:
    """The spatial index convolution: s×s/stride s, or 2s×2s/stride s/padding s/2 with context."""
    if context:
        return nn.Conv2d(in_channels, out_channels, 2 * stride, stride, stride // 2, groups=groups, bias=False)
    return nn.Conv2d(in_channels, out_channels, stride, stride, 0, groups=groups, bias=False)


def _check_stride(stride) -> int:
    stride = check_positive_int(stride, "stride")
    if stride not in SUPPORTED_STRIDES:
        raise ValueError(f"stride must be one of {SUPPORTED_STRIDES}, got {stride}")
    return stride


def normalise_index(logits: torch.Tensor, stride: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Official normalisation of index logits B×C×s²×h×w into (encoder, decoder) maps.

    Returns two B×C×(h·s)×(w·s) tensors: ``enc = softmax(sigmoid(z))`` over the s² axis and
    ``dec = sigmoid(z)``, each sub-position k placed at (k // s, k % s) of its window.

    Raises:
        TypeError: ``logits`` not a floating tensor, ``stride`` not an int.
        ValueError: ``logits`` not 5-D with s² entries on axis 2, or with an empty C, h or w.
    """
    check_tensor(logits, "logits")
    stride = check_positive_int(stride, "stride")
    if logits.dim() != 5 or logits.shape[2] != stride**2 or 0 in logits.shape[1:]:
        raise ValueError(f"logits must be B×C×s²×h×w with s²={stride**2} sub-positions on axis 2 and non-empty "
                         f"C, h, w (stride={stride}), got shape {tuple(logits.shape)}")
    dec = torch.sigmoid(logits)
    enc = torch.softmax(dec, dim=2)
    shuffle = "b c (s1 s2) h w -> b c (h s1) (w s2)"
    return (rearrange(enc, shuffle, s1=stride, s2=stride), rearrange(dec, shuffle, s1=stride, s2=stride))


class _IndexBlock(NotScriptable, nn.Module):
    """Shared input checks and the (logits → enc, dec) step of both block kinds."""

    def __init__(self, in_channels: int, stride: int):
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.stride = _check_stride(stride)

    def _check_input(self, x: torch.Tensor) -> None:
        check_tensor(x, "x", ndim=4)
        check_channels(x, self.in_channels, type(self).__name__)
        check_divisible(x, self.stride)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Raw index logits, B×C'×s²×(H/s)×(W/s) (C' = 1 for HIN, C for DIN)."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(encoder_index, decoder_index)`` at x's resolution."""
        self._check_input(x)
        return normalise_index(self.logits(x), self.stride)


class HolisticIndexBlock(_IndexBlock):
    """HIN: one index map (B×1×H×W) shared by every channel.

    Linear: conv C→s². Nonlinear: conv C→2C, BN, ReLU6, conv 1×1 2C→s².
    Parameters (s=2, no context): 16C linear; nonlinear 2C·C·4 + 4C (BN) + 8C.
    """

    def __init__(self, in_channels: int, stride: int = 2, nonlinear: bool = False, context: bool = False):
        super().__init__(in_channels, stride)
        self.nonlinear, self.context = check_flag(nonlinear, "nonlinear"), check_flag(context, "context")
        subpositions = self.stride**2
        if nonlinear:
            self.predictor = nn.Sequential(
                _index_conv(in_channels, 2 * in_channels, self.stride, context),
                nn.BatchNorm2d(2 * in_channels),
                nn.ReLU6(inplace=True),
                nn.Conv2d(2 * in_channels, subpositions, 1, bias=False),
            )
        else:
            self.predictor = _index_conv(in_channels, subpositions, self.stride, context)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.predictor(x).unsqueeze(1)  # B×1×s²×h×w


class DepthwiseIndexBlock(_IndexBlock):
    """DIN: one index map per channel (B×C×H×W), from s² parallel branches.

    ``mode="o2o"`` (one-to-one): each branch is a depthwise conv (groups=C), so channel c's
    index depends on channel c alone. ``mode="m2o"`` (many-to-one): each branch is a full conv.
    Nonlinear branch: conv, BN(C), ReLU6, conv 1×1 C→C with the same groups.
    Parameters (s=2, no context, linear): O2O 16C, M2O 16C².
    """

    def __init__(self, in_channels: int, stride: int = 2, mode: str = "o2o", nonlinear: bool = False,
                 context: bool = False):
        super().__init__(in_channels, stride)
        self.mode = check_choice(mode, "mode", DIN_MODES)
        self.nonlinear, self.context = check_flag(nonlinear, "nonlinear"), check_flag(context, "context")
        groups = in_channels if mode == "o2o" else 1
        self.branches = nn.ModuleList(
            self._branch(in_channels, groups, nonlinear, context) for _ in range(self.stride**2)
        )

    def _branch(self, channels: int, groups: int, nonlinear: bool, context: bool) -> nn.Module:
        conv = _index_conv(channels, channels, self.stride, context, groups=groups)
        if not nonlinear:
            return conv
        return nn.Sequential(conv, nn.BatchNorm2d(channels), nn.ReLU6(inplace=True),
                             nn.Conv2d(channels, channels, 1, groups=groups, bias=False))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([branch(x) for branch in self.branches], dim=2)  # B×C×s²×h×w


class SharedDepthwiseIndexBlock(NotScriptable, nn.Module):
    """An O2O index function shared by every channel it sees: the basis of modelwise and
    stagewise-shared O2O (the project's reading of the TPAMI taxonomy).

    An O2O branch's per-channel kernel does not depend on C, so one single-channel O2O
    block can be applied to each channel in turn (channels folded into the batch). The
    same instance can serve stages of different widths: pass it to every stage of a model
    for "modelwise", build one per stage for "stagewise-shared". Parameters: 16 for the
    linear block at s=2, whatever C is.
    """

    def __init__(self, stride: int = 2, nonlinear: bool = False, context: bool = False):
        super().__init__()
        self.stride = _check_stride(stride)
        self.per_channel = DepthwiseIndexBlock(1, self.stride, "o2o", nonlinear, context)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_tensor(x, "x", ndim=4)
        check_divisible(x, self.stride)
        channels = x.shape[1]
        folded = rearrange(x, "b c h w -> (b c) 1 h w")
        enc, dec = self.per_channel(folded)
        unfold = "(b c) 1 h w -> b c h w"
        return rearrange(enc, unfold, c=channels), rearrange(dec, unfold, c=channels)
