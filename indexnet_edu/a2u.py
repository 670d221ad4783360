"""A2U: affinity-aware upsampling (Dai, Lu, Shen, CVPR 2021, arXiv 2011.14288).

A2U keeps IndexNet's plan — kernels for *both* pooling and upsampling are predicted from the
*encoder's* high-resolution feature X — but makes the prediction second order: each kernel
entry is a low-rank bilinear form of the local window of X (the paper's method sections: existing
upsamplers are first-order, ``w = aᵀ vec(X)``; A2U uses ``w_m = vec(X)ᵀ A_m vec(X)`` with
``A_m = Σ_{r ≤ d} u_{m,r} v_{m,r}ᵀ``, i.e. pairwise affinities inside the window):

    z_m(l) = Σ_{r=1}^{d} (P_{m,r} ⊛ X)(l) · (Q_{m,r} ⊛ X)(l),     l a low-res position (stride s)

P and Q are each a depthwise s×s convolution with stride s followed by a 1×1 convolution to
d·M channels (the depthwise + pointwise factorisation that keeps A2U light-weight); no biases,
so z is exactly quadratic in X: ``z(t·X) = t²·z(X)``. Of the M = s²·(k² + 1) outputs at each
low-res position,

* s²·k² become, after pixel shuffle, one k×k upsampling kernel per high-res pixel p,
  softmax-normalised, used as ``out = reassemble(y, K, k)`` (zeros padding), and
* s² become a pooling index over the s×s window, softmax-normalised inside each window
  (:func:`~indexnet_edu.recipes.softmax_index`), used as ``pooled = indexed_pool(X, I)``.

How this reading maps the paper: the second-order low-rank form, the factorised convolutions
and the extension to downsampling are the paper's; the kernel size k = 3, rank d = 1 (the
rank drawn in its Fig. 2), the softmax normalisations and the reassembly of a k×k
neighbourhood are this suite's choices, which the paper's text available here did not fix.
All of it is the suite's reassembly / index functions: nothing here needs another operator.

Parameters (C channels, stride s, kernel k, rank d): ``2·(C·s² + C·d·s²·(k² + 1))``.
With C = 64, s = 2, k = 3, d = 1: 2·(256 + 2,560) = 5,632.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_odd_kernel, check_positive_int
from .graph_capture import NotScriptable
from .indexing import indexed_pool
from .recipes import softmax_index


class A2U(NotScriptable, nn.Module):
    """Second-order kernel generator from the encoder feature.

    Args:
        channels: C of the encoder feature.
        scale: stride s.
        k_up: upsampling kernel size k (odd).
        rank: d of the low-rank bilinear form.

    ``forward(x)`` (B×C×H×W, H and W divisible by s) returns ``(pool_index, up_kernels)``:
    B×1×H×W summing to 1 over each s×s window, and B×k²×H×W summing to 1 over each kernel.
    """

    def __init__(self, channels: int, scale: int = 2, k_up: int = 3, rank: int = 1):
        super().__init__()
        self.channels = check_positive_int(channels, "channels")
        self.scale = check_positive_int(scale, "scale")
        self.k_up = check_odd_kernel(k_up, "k_up")
        self.rank = check_positive_int(rank, "rank")
        self.outputs = scale**2 * (self.k_up**2 + 1)
        self.p_depthwise = nn.Conv2d(channels, channels, scale, scale, groups=channels, bias=False)
        self.p_pointwise = nn.Conv2d(channels, rank * self.outputs, 1, bias=False)
        self.q_depthwise = nn.Conv2d(channels, channels, scale, scale, groups=channels, bias=False)
        self.q_pointwise = nn.Conv2d(channels, rank * self.outputs, 1, bias=False)
        # Q near zero: the kernels start near uniform (average pooling, a k×k box upsampling),
        # while P is not zero, so Q's gradient (∝ P ⊛ X) is not zero either.
        nn.init.normal_(self.q_pointwise.weight, std=0.001)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """z, B×M×(H/s)×(W/s), M = s²·(k² + 1): the second-order form above."""
        batch, _, height, width = x.shape
        first = self.p_pointwise(self.p_depthwise(x))
        second = self.q_pointwise(self.q_depthwise(x))
        shape = (batch, self.rank, self.outputs, height // self.scale, width // self.scale)
        return (first * second).view(shape).sum(dim=1)

    def forward(self, x: torch.Tensor):
        s, area = self.scale, self.k_up**2
        z = self.logits(x)
        up = F.pixel_shuffle(z[:, :s * s * area], s)  # kernel-entry major, sub-pixel minor (as CARAFE)
        # softmax in at least float32 (half-precision exponentials saturate), kernels in x's dtype
        kernels = torch.softmax(up.to(torch.promote_types(up.dtype, torch.float32)), dim=1).to(up.dtype)
        pool_index = softmax_index(F.pixel_shuffle(z[:, s * s * area:], s), s)
        return pool_index, kernels

    def pool(self, x: torch.Tensor, pool_index: torch.Tensor) -> torch.Tensor:
        """``IP(x) = s²·avg_pool(I ⊙ x)`` with the A2U pooling index (indexed pooling, Lu et al., Index Networks, TPAMI 2022)."""
        return indexed_pool(x, pool_index.to(x.dtype), self.scale)


def a2u_parameter_count(channels: int, scale: int = 2, k_up: int = 3, rank: int = 1) -> int:
    """The docstring's formula: ``2·(C·s² + C·d·s²·(k² + 1))``."""
    return 2 * (channels * scale**2 + channels * rank * scale**2 * (k_up**2 + 1))
