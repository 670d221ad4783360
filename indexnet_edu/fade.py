"""FADE: fusing the assets of decoder and encoder (Lu, Liu, Fu, Cao, ECCV 2022, arXiv 2207.10392).

FADE is CARAFE's reassembly of the *decoder* feature with kernels predicted from *both* features,
plus a gate that lets the *encoder* feature through where details matter:

    logits(p)  = (W_e ⊛ Ê)(p) + (W_d ⊛ D̂)(⌊p/s⌋) + b          (the paper's semi-shift convolution)
    K_p        = softmax over the k_up² entries of logits(p)
    R(c, p)    = Σ_{dy,dx} K_p(dy, dx) · D(c, ⌊p/s⌋ + (dy − r, dx − r))   (= :func:`reassemble`)
    G          = NN↑ sigmoid(w_g · D + b_g)                       (its decoder-dependent gating)
    out        = G ⊙ E + (1 − G) ⊙ R

E is the encoder feature B×C×H×W (H = s·h), D the decoder feature B×C×h×w, Ê, D̂ their 1×1
compressions to C_m channels, W_e and W_d 3×3 convolutions C_m → k_up². The semi-shift
convolution is one 3×3 window that moves one encoder pixel per output pixel but one decoder
pixel per s output pixels: equivalent to a convolution over the concatenation of E and
nearest-upsampled D, computed without upsampling D. The gate is written from the paper's
description (a 1-channel map from the decoder feature, sigmoid, nearest-upsampled); the paper's
exact gate layer and compressor width were not available here, so C_m = 64 follows CARAFE's
default in this suite.

Everything but the gate is the suite's :func:`~indexnet_edu.reassembly.reassemble` with zeros
padding; the gate is an elementwise mix, which no reassembly of D can express (it reads E).

Parameters (C channels in both features, C_m compressed, k = k_up, 3×3 semi-shift windows):
``2·(C·C_m + C_m) + 2·9·C_m·k² + k²`` plus ``C + 1`` for the gate. With C = 64, C_m = 64,
k = 5 that is 8,320 + 28,800 + 25 + 65 = 37,210.
"""
from __future__ import annotations

import torch
from torch import nn

from ._checks import check_channels, check_flag, check_odd_kernel, check_positive_int, check_tensor
from .graph_capture import NotScriptable
from .reassembly import reassemble


def check_guide(encoder: torch.Tensor, decoder: torch.Tensor, channels: int, scale: int, owner: str) -> None:
    """The encoder feature must be B×C×(s·h)×(s·w) for a decoder feature B×C×h×w.

    Raises TypeError/ValueError naming both shapes (shared by FADE, SAPA and A2U).
    """
    check_tensor(decoder, "decoder feature", ndim=4)
    check_channels(decoder, channels, owner)
    if encoder is None:
        raise ValueError(f"{owner} needs the encoder feature kept by down(x); got state=None")
    check_tensor(encoder, "encoder feature", ndim=4)
    batch, _, height, width = decoder.shape
    expected = (batch, channels, scale * height, scale * width)
    if tuple(encoder.shape) != expected:
        raise ValueError(f"{owner}: the encoder feature must be {'×'.join(map(str, expected))} (s={scale} times the "
                         f"decoder's {height}×{width}), got {'×'.join(map(str, encoder.shape))}")


def nearest_up(tensor: torch.Tensor, scale: int) -> torch.Tensor:
    """Nearest-neighbour ×s of a B×C×h×w map (also for an empty batch)."""
    return tensor.repeat_interleave(scale, dim=2).repeat_interleave(scale, dim=3)


def mix(encoder: torch.Tensor, reassembled: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
    """FADE's gated fusion ``G ⊙ E + (1 − G) ⊙ R`` (gate B×1×H×W in [0, 1], broadcast over C)."""
    return gate * encoder + (1 - gate) * reassembled


class FADE(NotScriptable, nn.Module):
    """FADE upsampler: ``forward(encoder, decoder)`` → B×C×(s·h)×(s·w).

    Args:
        channels: C of both the encoder and the decoder feature.
        scale: factor s.
        k_up: reassembly kernel size (odd, 5 as CARAFE).
        c_mid: compressed channels C_m.
        gate: with False, ``out = R`` (FADE without its gating mechanism,
            the ablation this suite ships as ``fade_nogate``).

    Raises TypeError/ValueError for non-tensors, the wrong C, an encoder feature that is not
    s times the decoder's size, or bad hyper-parameters.
    """

    def __init__(self, channels: int, scale: int = 2, k_up: int = 5, c_mid: int = 64, gate: bool = True):
        super().__init__()
        self.channels = check_positive_int(channels, "channels")
        self.scale = check_positive_int(scale, "scale")
        self.k_up = check_odd_kernel(k_up, "k_up")
        c_mid = check_positive_int(c_mid, "c_mid")
        self.use_gate = check_flag(gate, "gate")
        self.compress_encoder = nn.Conv2d(channels, c_mid, 1)
        self.compress_decoder = nn.Conv2d(channels, c_mid, 1)
        self.from_encoder = nn.Conv2d(c_mid, self.k_up**2, 3, padding=1, bias=False)
        self.from_decoder = nn.Conv2d(c_mid, self.k_up**2, 3, padding=1)
        for conv in (self.from_encoder, self.from_decoder):  # start as a uniform k×k average, as CARAFE
            nn.init.normal_(conv.weight, std=0.001)
        nn.init.zeros_(self.from_decoder.bias)
        self.gate = nn.Conv2d(channels, 1, 1) if self.use_gate else None

    def kernels(self, encoder: torch.Tensor, decoder: torch.Tensor) -> torch.Tensor:
        """Semi-shift kernels B×k_up²×(s·h)×(s·w), softmax-normalised (each sums to 1)."""
        check_guide(encoder, decoder, self.channels, self.scale, "FADE")
        high = self.from_encoder(self.compress_encoder(encoder))
        low = self.from_decoder(self.compress_decoder(decoder))
        logits = high + nearest_up(low, self.scale)
        return torch.softmax(logits, dim=1)

    def gate_map(self, decoder: torch.Tensor) -> torch.Tensor:
        """The gate G, B×1×(s·h)×(s·w) in [0, 1] (all zeros without a gate: out = R)."""
        if self.gate is None:
            batch, _, height, width = decoder.shape
            return decoder.new_zeros(batch, 1, self.scale * height, self.scale * width)
        return nearest_up(torch.sigmoid(self.gate(decoder)), self.scale)

    def forward(self, encoder: torch.Tensor, decoder: torch.Tensor) -> torch.Tensor:
        reassembled = reassemble(decoder, self.kernels(encoder, decoder), self.k_up, self.scale)
        if self.gate is None:
            return reassembled
        return mix(encoder, reassembled.to(encoder.dtype), self.gate_map(decoder).to(encoder.dtype))


def fade_parameter_count(channels: int, k_up: int = 5, c_mid: int = 64, gate: bool = True) -> int:
    """The docstring's formula: ``2(C·C_m + C_m) + 18·C_m·k² + k² (+ C + 1 with the gate)``."""
    return 2 * (channels * c_mid + c_mid) + 18 * c_mid * k_up**2 + k_up**2 + (channels + 1 if gate else 0)
