"""A2U: affinity-aware upsampling (Dai, Lu, Shen, CVPR 2021, arXiv 2011.14288).

A2U keeps IndexNet's plan — kernels for *both* downsampling and upsampling are predicted from the
*encoder's* high-resolution feature X — but makes the prediction second order: each kernel entry
is a low-rank bilinear form of X's local windows (pairwise affinities), and the form itself is
predicted from the input. As the authors' released operator (github.com/dongdong93/a2u_matting,
``scripts/BilinearModel.py``, ``InterChannelUpDown`` with ``share=True``, rank d = 1, one group;
``scripts/config/adobe.yaml``: k_up = 3, k_enc = 6, down kernel 2·k_up = 6), for X B×C×H×W:

    u = Conv1×1_{C→1}(AdaptiveAvgPool_{k_enc×k_enc}(X)),  v likewise      (one k_enc×k_enc filter per image)
    U = LeakyReLU(GN(u ⊛_s X)),  V = LeakyReLU(GN(v ⊛_s X))                (each channel filtered alone,
                                                                           stride s, padding ⌊(k_enc−1)/2⌋)
    a = Σ_c U_c ⊙ V_c / √C                                                 (B×1×h×w: the affinity map)
    z_up = a · Conv1×1_{C→s²k_up²}(GAP(X)),  z_down = a · Conv1×1_{C→k_down²}(GAP(X))
    K_up   = softmax_{k_up²}(sigmoid(pixel_shuffle(z_up, s)))               (B×k_up²×H×W)
    K_down = softmax_{k_down²}(z_down)                                      (B×k_down²×h×w)

Downsampling is :func:`kernel_downsample` (a k_down×k_down window at stride s, zeros outside),
upsampling the suite's :func:`~indexnet_edu.ops.reassembly.reassemble` with K_up (zeros padding) — the
two CUDA operators of the authors' ``Biupdownsample``. Because of the sigmoid, a kernel entry is at
most e/(e + k_up² − 1) (0.254 for k_up = 3). GN is GroupNorm with the authors' 32 groups; their code
needs C to be a multiple of 32, so for other widths this suite uses gcd(32, C) groups (the only
departure, and none at C = 32, 64, 128, ...). Their model-wide initialisation is not part of the
operator; the layers start with PyTorch's defaults.

Parameters (C channels, s = 2, k_up = 3, k_down = k_enc = 6): ``(36C + 36) + (36C + 36) + 2(C + 1) + 4C``
= 78C + 74 — 5,066 at C = 64; the four A2U modules of the authors' matting model (C = 64, 64,
128, 256) hold 40,232, of which 38,184 are convolution weights and biases (their README: +38K, which
fits the count without GroupNorm's 4C affine parameters).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_channels, check_divisible, check_odd_kernel, check_positive_int, check_tensor
from ..ops.graph_capture import NotScriptable


def kernel_downsample(x: torch.Tensor, kernels: torch.Tensor, kernel_size: int, stride: int = 2) -> torch.Tensor:
    """``out(c, l) = Σ_{i,j} K(l, i·k + j) · x(c, s·l − o + (i, j))``, o = ⌊(k − 1)/2⌋, zeros outside.

    x: B×C×H×W (H, W divisible by s); kernels: B×k²×(H/s)×(W/s). Returns B×C×(H/s)×(W/s). For an
    even k the window is [s·l − (k − 2)/2, s·l + k/2] as the authors' ``bidownsample_naive``.
    Raises TypeError/ValueError for non-tensors or mismatched shapes.
    """
    check_tensor(x, "x", ndim=4)
    check_tensor(kernels, "kernels", ndim=4)
    kernel_size = check_positive_int(kernel_size, "kernel_size")
    stride = check_positive_int(stride, "stride")
    check_divisible(x, stride)
    batch, channels, height, width = x.shape
    expected = (batch, kernel_size**2, height // stride, width // stride)
    if tuple(kernels.shape) != expected:
        raise ValueError(f"kernels must be {'×'.join(map(str, expected))} for x {'×'.join(map(str, x.shape))}, "
                         f"got {'×'.join(map(str, kernels.shape))}")
    before = (kernel_size - 1) // 2
    after = stride * (height // stride - 1) + kernel_size - before - height  # rows past the bottom edge
    padded = F.pad(x, (before, after, before, after))  # a negative `after` crops
    windows = F.unfold(padded, kernel_size, stride=stride)
    windows = windows.reshape(batch, channels, kernel_size**2, expected[2], expected[3])
    return torch.einsum("bckhw,bkhw->bchw", windows, kernels.to(windows.dtype))


class A2U(NotScriptable, nn.Module):
    """A2U's kernel generator (the authors' ``InterChannelUpDown``).

    Args:
        channels: C of the encoder feature.
        scale: stride s (2 in the authors' code).
        k_up: upsampling kernel size (odd; 3).
        k_down: downsampling kernel size (6 = 2·k_up).
        k_enc: size of the per-image filters u, v (6).

    ``forward(x)`` (B×C×H×W, H and W divisible by s) returns ``(down_kernels, up_kernels)``:
    B×k_down²×(H/s)×(W/s) and B×k_up²×H×W, each summing to 1 over its entries.
    Raises TypeError/ValueError for bad hyper-parameters or input.
    """

    def __init__(self, channels: int, scale: int = 2, k_up: int = 3, k_down: int = 6, k_enc: int = 6):
        super().__init__()
        self.channels = check_positive_int(channels, "channels")
        self.scale = check_positive_int(scale, "scale")
        self.k_up = check_odd_kernel(k_up, "k_up")
        self.k_down = check_positive_int(k_down, "k_down")
        self.k_enc = check_positive_int(k_enc, "k_enc")
        groups = math.gcd(32, channels)
        self.up_weights = nn.Conv2d(channels, scale**2 * self.k_up**2, 1)      # bconv_UP
        self.down_weights = nn.Conv2d(channels, self.k_down**2, 1)             # bconv_DP
        self.u_filter = nn.Conv2d(channels, 1, 1)                              # bconv_U
        self.v_filter = nn.Conv2d(channels, 1, 1)                              # bconv_V
        self.u_norm = nn.GroupNorm(groups, channels)                           # bnu
        self.v_norm = nn.GroupNorm(groups, channels)                           # bnv

    def _filtered(self, x: torch.Tensor, pooled: torch.Tensor, filt: nn.Conv2d, norm: nn.GroupNorm) -> torch.Tensor:
        """``LeakyReLU(GN(f ⊛_s x))`` with the per-image filter ``f = filt(pooled)`` (pooled: x
        average-pooled to k_enc×k_enc), each channel of x filtered alone."""
        batch, channels, height, width = x.shape
        if batch == 0:
            return x.new_zeros(0, channels, height // self.scale, width // self.scale)
        weights = filt(pooled)                                                  # B×1×k×k, one per image
        weights = weights.repeat_interleave(channels, dim=0)                   # (B·C)×1×k×k
        out = F.conv2d(x.reshape(1, batch * channels, height, width), weights, stride=self.scale,
                       padding=(self.k_enc - 1) // 2, groups=batch * channels)
        out = out.reshape(batch, channels, *out.shape[-2:])[..., :height // self.scale, :width // self.scale]
        return F.leaky_relu(norm(out))

    def affinity(self, x: torch.Tensor) -> torch.Tensor:
        """a, B×1×(H/s)×(W/s): ``Σ_c U_c ⊙ V_c / √C``, second order in the filtered feature."""
        pooled = F.adaptive_avg_pool2d(x, self.k_enc)  # shared by both filters' predictions
        u = self._filtered(x, pooled, self.u_filter, self.u_norm)
        v = self._filtered(x, pooled, self.v_filter, self.v_norm)
        return (u * v).sum(dim=1, keepdim=True) / math.sqrt(self.channels)

    def forward(self, x: torch.Tensor):
        check_tensor(x, "x", ndim=4)
        check_divisible(x, self.scale)
        check_channels(x, self.channels, "A2U")
        a = self.affinity(x)
        pooled = F.adaptive_avg_pool2d(x, 1)
        up = F.pixel_shuffle(a * self.up_weights(pooled), self.scale)  # kernel-entry major, sub-pixel minor
        up = torch.sigmoid(up.to(torch.promote_types(up.dtype, torch.float32)))
        up_kernels = (torch.softmax(up, dim=1) if self.k_up > 1 else up).to(x.dtype)
        down = a * self.down_weights(pooled)
        down_kernels = torch.softmax(down.to(torch.promote_types(down.dtype, torch.float32)), dim=1).to(x.dtype)
        return down_kernels, up_kernels

    def downsample(self, x: torch.Tensor, down_kernels: torch.Tensor) -> torch.Tensor:
        """B×C×H×W → B×C×(H/s)×(W/s) with this module's downsampling kernels."""
        return kernel_downsample(x, down_kernels, self.k_down, self.scale)


def a2u_parameter_count(channels: int, scale: int = 2, k_up: int = 3, k_down: int = 6) -> int:
    """``(C + 1)(s²k_up² + k_down² + 2) + 4C`` (the docstring's count; GroupNorm's 4C included)."""
    return (channels + 1) * (scale**2 * k_up**2 + k_down**2 + 2) + 4 * channels
