"""The CARAFE operator as a module (Wang et al., ICCV 2019, arXiv 1905.02188).

    y (B×C×h×w) ─ 1×1 compressor C→C_m ─ k_enc×k_enc encoder C_m→s²·G·k_up² ─ pixel shuffle s
      ─ softmax over the k_up² entries ─ reassembly of y with zeros padding → B×C×(s·h)×(s·w)

Its kernels come from the *decoder's* low-resolution feature itself, unlike IndexNet, whose
decoder index comes from the encoder's high-resolution feature.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_channels, check_odd_kernel, check_positive_int, check_tensor
from ..ops.graph_capture import NotScriptable
from ..ops.reassembly import carafe


class CARAFE(NotScriptable, nn.Module):
    """Content-aware reassembly of features.

    Args:
        channels: C of the feature to upsample; must be divisible by ``groups``.
        scale: upsampling factor s.
        k_up: reassembly kernel size (odd).
        k_enc: content-encoder kernel size (odd).
        c_mid: compressed channels C_m.
        groups: G kernel groups.

    With C=256 and the paper's defaults it has 74,148 parameters (16,448 + 57,700).

    ``forward(y)``: B×C×h×w → B×C×(s·h)×(s·w); an empty batch (B = 0) gives an empty result.
    Raises TypeError/ValueError for a non-floating or non-4-D ``y``, the wrong C, or a map with
    no channels or an empty h×w.
    """

    def __init__(self, channels: int, scale: int = 2, k_up: int = 5, k_enc: int = 3, c_mid: int = 64,
                 groups: int = 1):
        super().__init__()
        self.channels = check_positive_int(channels, "channels")
        self.scale = check_positive_int(scale, "scale")
        self.k_up = check_odd_kernel(k_up, "k_up")
        k_enc = check_odd_kernel(k_enc, "k_enc")
        self.groups = check_positive_int(groups, "groups")
        c_mid = check_positive_int(c_mid, "c_mid")
        if channels % groups:
            raise ValueError(f"channels must be divisible by groups={groups}, got channels={channels}")
        self.compressor = nn.Conv2d(channels, c_mid, 1)
        self.encoder = nn.Conv2d(c_mid, scale**2 * groups * k_up**2, k_enc, padding=k_enc // 2)
        # Near-zero encoder: every kernel starts as a uniform average over its k_up² neighbourhood.
        nn.init.normal_(self.encoder.weight, std=0.001)
        nn.init.zeros_(self.encoder.bias)

    def kernels(self, y: torch.Tensor) -> torch.Tensor:
        """Predicted reassembly kernels, B×(G·k_up²)×(s·h)×(s·w), each summing to 1."""
        check_tensor(y, "y", ndim=4)
        check_channels(y, self.channels, "CARAFE")
        # Encoder channels are (kernel entry, sub-pixel) with sub-pixel minor, which is
        # exactly the channel layout pixel_shuffle expects.
        logits = F.pixel_shuffle(self.encoder(self.compressor(y)), self.scale)
        batch, _, height, width = logits.shape
        logits = logits.view(batch, self.groups, self.k_up**2, height, width)
        # Explicit sizes (no -1): an empty batch keeps its shape B×(G·k²)×sH×sW.
        return torch.softmax(logits, dim=2).view(batch, self.groups * self.k_up**2, height, width)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return carafe(y, self.kernels(y), self.k_up, groups=self.groups, scale=self.scale)
