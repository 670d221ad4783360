"""FADE: fusing the assets of decoder and encoder (Lu, Liu, Fu, Cao, ECCV 2022, arXiv 2207.10392).

FADE is CARAFE's reassembly of the *decoder* feature with kernels predicted from *both* features,
plus a gate that lets the *encoder* feature through where details matter. As the authors' released
operator (github.com/poppinace/fade, ``pytorch_implementation/FADE_L2H.py``; ``FADE_H2L.py`` computes
the same kernels with four shifted paddings):

    Ê = P_e ⊛ E + b_e,  D̂ = P_d ⊛ D                       (1×1 compressors to C_m; the decoder's has no bias)
    logits(p)  = (W ⊛ Ê)(p) + (W ⊛ D̂)(⌊p/s⌋) + 2·b            (ONE 3×3 content encoder W, b for both)
    K_p        = softmax over the k_up² entries of logits(p)
    R(c, p)    = Σ_{dy,dx} K_p(dy, dx) · D(c, ⌊p/s⌋ + (dy − r, dx − r))   (= :func:`reassemble`, zeros padding)
    G          = sigmoid(NN↑ (w_g · D + b_g))                 (1×1 gate from the decoder, nearest-upsampled)
    out        = G ⊙ E + (1 − G) ⊙ R

E is the encoder feature B×C×H×W (H = s·h), D the decoder feature B×C×h×w. The paper calls the sum
of the two content-encoder outputs a *semi-shift convolution*: one 3×3 window that moves one encoder
pixel per output pixel but one decoder pixel per s output pixels. The content encoder's bias is
added in both branches, as in the authors' code.

* ``lite=True`` is the authors' **FADE-Lite** (``FADELite``): the compressors go straight to k_up²
  channels and the content encoder is a depthwise 3×3 convolution on them.
* ``gate=False`` is the authors' ``SemiShiftUp`` (FADE's kernels and reassembly, no gate), the
  ablation this suite ships as ``fade_nogate``.

Initialisation as theirs: Xavier-uniform weights, zero biases. Their code fixes s = 2 (its
nearest upsampling has ``scale_factor=2``); here s is a parameter, and s = 2 is theirs exactly.

Parameters (C channels in both features, C_m compressed, k = k_up):
FADE ``(C·C_m + C_m) + C·C_m + (9·C_m·k² + k²) + (C + 1)`` — 22,746 at C = 64, 47,514 at C = 256;
FADE-Lite ``(C·k² + k²) + C·k² + (9·k² + k²) + (C + 1)`` — 3,540 at C = 64. Over the authors'
published configurations: their A2U-matting decoder (four stages, C = 256, 128, 64, 64) holds
124,008 (their README: +0.12M), their SegFormer-B1 head (six stages, C = 256) 285,084 (+0.29M).
"""
from __future__ import annotations

import torch
from torch import nn

from .._checks import check_flag, check_guide, check_odd_kernel, check_positive_int
from ..ops.graph_capture import NotScriptable
from ..ops.reassembly import reassemble


def nearest_up(tensor: torch.Tensor, scale: int) -> torch.Tensor:
    """Nearest-neighbour ×s of a B×C×h×w map (also for an empty batch), in one copy."""
    batch, channels, height, width = tensor.shape
    return tensor[:, :, :, None, :, None].expand(batch, channels, height, scale, width, scale).reshape(
        batch, channels, height * scale, width * scale)


def mix(encoder: torch.Tensor, reassembled: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
    """FADE's gated fusion ``G ⊙ E + (1 − G) ⊙ R`` (gate B×1×H×W in [0, 1], broadcast over C)."""
    return gate * encoder + (1 - gate) * reassembled


class FADE(NotScriptable, nn.Module):
    """FADE upsampler: ``forward(encoder, decoder)`` → B×C×(s·h)×(s·w).

    Args:
        channels: C of both the encoder and the decoder feature.
        scale: factor s.
        k_up: reassembly kernel size (odd, 5 as CARAFE).
        c_mid: compressed channels C_m (64 as the authors'; FADE-Lite ignores it: C_m = k_up²).
        gate: with False, ``out = R`` (the authors' ``SemiShiftUp``; this suite's ``fade_nogate``).
        lite: FADE-Lite's depthwise content encoder.

    Raises TypeError/ValueError for non-tensors, the wrong C, an encoder feature that is not
    s times the decoder's size, or bad hyper-parameters.
    """

    def __init__(self, channels: int, scale: int = 2, k_up: int = 5, c_mid: int = 64, gate: bool = True,
                 lite: bool = False):
        super().__init__()
        self.channels = check_positive_int(channels, "channels")
        self.scale = check_positive_int(scale, "scale")
        self.k_up = check_odd_kernel(k_up, "k_up")
        self.use_gate = check_flag(gate, "gate")
        self.lite = check_flag(lite, "lite")
        area = self.k_up**2
        c_mid = area if self.lite else check_positive_int(c_mid, "c_mid")
        self.compress_encoder = nn.Conv2d(channels, c_mid, 1)
        self.compress_decoder = nn.Conv2d(channels, c_mid, 1, bias=False)
        self.content_encoder = nn.Conv2d(c_mid, area, 3, padding=1, groups=area if self.lite else 1)
        self.gate = nn.Conv2d(channels, 1, 1) if self.use_gate else None
        for conv in self.modules():
            if isinstance(conv, nn.Conv2d):
                nn.init.xavier_uniform_(conv.weight)
                if conv.bias is not None:
                    nn.init.zeros_(conv.bias)

    def kernels(self, encoder: torch.Tensor, decoder: torch.Tensor) -> torch.Tensor:
        """Semi-shift kernels B×k_up²×(s·h)×(s·w), softmax-normalised (each sums to 1)."""
        check_guide(encoder, decoder, self.channels, self.scale, "FADE")
        high = self.content_encoder(self.compress_encoder(encoder))
        low = self.content_encoder(self.compress_decoder(decoder))
        return torch.softmax(high + nearest_up(low, self.scale), dim=1)

    def gate_map(self, decoder: torch.Tensor) -> torch.Tensor:
        """The gate G, B×1×(s·h)×(s·w) in [0, 1] (all zeros without a gate: out = R)."""
        if self.gate is None:
            batch, _, height, width = decoder.shape
            return decoder.new_zeros(batch, 1, self.scale * height, self.scale * width)
        return nearest_up(torch.sigmoid(self.gate(decoder)), self.scale)  # = sigmoid(NN↑ ·), elementwise

    def forward(self, encoder: torch.Tensor, decoder: torch.Tensor) -> torch.Tensor:
        reassembled = reassemble(decoder, self.kernels(encoder, decoder), self.k_up, self.scale)
        if self.gate is None:
            return reassembled
        return mix(encoder, reassembled.to(encoder.dtype), self.gate_map(decoder).to(encoder.dtype))


def fade_parameter_count(channels: int, k_up: int = 5, c_mid: int = 64, gate: bool = True, lite: bool = False) -> int:
    """The docstring's formulas: FADE, FADE-Lite (``lite``), either without the gate's ``C + 1``."""
    area = k_up**2
    c_mid = area if lite else c_mid
    content = 9 * area + area if lite else 9 * c_mid * area + area
    return (channels * c_mid + c_mid) + channels * c_mid + content + (channels + 1 if gate else 0)
