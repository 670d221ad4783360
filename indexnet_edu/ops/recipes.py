"""Hand-made index maps: the classic operators written as index functions.

Each recipe returns an index that, fed to :func:`indexed_pool`, :func:`indexed_upsample` or
:func:`reassemble`, reproduces a familiar operator (Lu et al., TPAMI 2022):

=====================  ===========================================================
``max_index``          one-hot at each window's argmax → max pooling / max unpooling
``average_index``      ``1/s²`` everywhere → average pooling
``softmax_index``      ``softmax(x/T)`` per window → max as T→0, average as T→∞
``nearest_index``      ``1`` everywhere → nearest-neighbour upsampling
``bilinear_kernels``   fixed 3×3 reassembly kernels → bilinear ×s upsampling
=====================  ===========================================================
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange, repeat

from .._checks import check_divisible, check_positive_int, check_positive_real, check_tensor


def _check_feature(x, stride):
    check_tensor(x, "x", ndim=4)
    stride = check_positive_int(stride, "stride")
    check_divisible(x, stride)
    return stride


def max_index(x: torch.Tensor, stride: int = 2) -> torch.Tensor:
    """Depthwise one-hot index (B×C×H×W) at the maximum of each stride×stride window.

    Ties go to the first maximum in row-major order, exactly as PyTorch's max pooling,
    because the positions come from ``F.max_pool2d(..., return_indices=True)`` itself —
    so are ±inf and NaN (a NaN counts as the maximum of its window, as in PyTorch).

    Raises:
        ValueError: x not 4-D, with no channels or an empty H×W, or H, W not divisible by ``stride``.
    """
    stride = _check_feature(x, stride)
    _, positions = F.max_pool2d(x.detach(), stride, return_indices=True)
    one_hot = torch.zeros_like(x).flatten(2).scatter_(2, positions.flatten(2), 1.0)
    return one_hot.view_as(x)


def average_index(x: torch.Tensor, stride: int = 2) -> torch.Tensor:
    """Holistic index (B×1×H×W) equal to ``1/s²``: indexed pooling becomes average pooling."""
    stride = _check_feature(x, stride)
    batch, _, height, width = x.shape
    return x.new_full((batch, 1, height, width), 1.0 / stride**2)


def softmax_index(x: torch.Tensor, stride: int = 2, temperature: float = 1.0) -> torch.Tensor:
    """Depthwise index (B×C×H×W): ``softmax(x / T)`` inside each stride×stride window.

    Sums to 1 per window and channel. T→0 approaches :func:`max_index` (for a unique
    maximum); T→∞ approaches :func:`average_index`, and ``temperature=inf`` is that limit.

    Computed in at least float32 on ``(x − window max) / T`` (every logit ≤ 0), so a tiny
    T in float16 gives the one-hot limit instead of overflowing to ``inf − inf = NaN``. A
    window holding +inf puts all its weight on its +inf entries (the T→0 limit at any T);
    a window of all −inf is uniform; a NaN makes its window NaN (as ``F.max_pool2d`` does).

    Raises:
        ValueError: ``temperature`` not > 0 (or NaN); H, W not divisible by ``stride``.
    """
    stride = _check_feature(x, stride)
    temperature = check_positive_real(temperature, "temperature")
    windows = rearrange(x, "b c (h s1) (w s2) -> b c h w (s1 s2)", s1=stride, s2=stride)
    if math.isinf(temperature):
        weights = torch.full_like(windows, 1.0 / stride**2)
    else:
        windows = windows.to(torch.promote_types(x.dtype, torch.float32))
        peak = windows.amax(dim=-1, keepdim=True)
        # Entries equal to the peak (±inf included) get logit 0, never inf − inf.
        shifted = torch.where(windows == peak, torch.zeros_like(windows), windows - peak)
        weights = torch.softmax(shifted / temperature, dim=-1).to(x.dtype)
    return rearrange(weights, "b c h w (s1 s2) -> b c (h s1) (w s2)", s1=stride, s2=stride)


def nearest_index(y: torch.Tensor, stride: int = 2) -> torch.Tensor:
    """Holistic index of ones at the high resolution (B×1×(s·h)×(s·w)) for a B×C×h×w ``y``.

    ``indexed_upsample(y, nearest_index(y, s), s)`` is nearest-neighbour upsampling.
    """
    check_tensor(y, "y", ndim=4)
    stride = check_positive_int(stride, "stride")
    batch, _, height, width = y.shape
    return y.new_ones((batch, 1, stride * height, stride * width))


def _bilinear_weights_1d(scale: int, dtype) -> torch.Tensor:
    """scale×3 table: weights on offsets (-1, 0, +1) for each sub-position, align_corners=False.

    Output pixel ``s·i + a`` samples the input at ``i + f`` with ``f = (a + ½)/s − ½`` ∈ (−½, ½):
    linear interpolation between ``i`` and its neighbour on the side of ``f``.
    """
    table = torch.zeros(scale, 3, dtype=dtype)
    for sub in range(scale):
        frac = (sub + 0.5) / scale - 0.5
        if frac < 0:
            table[sub, 0], table[sub, 1] = -frac, 1 + frac
        else:
            table[sub, 1], table[sub, 2] = 1 - frac, frac
    return table


def bilinear_kernels(h: int, w: int, scale: int = 2, dtype=torch.float64) -> torch.Tensor:
    """Reassembly kernels (1×9×(s·h)×(s·w)) that make bilinear upsampling.

    Use with ``reassemble(y, kernels, kernel_size=3, scale=s, padding="replicate")``: the
    result equals ``F.interpolate(y, scale_factor=s, mode="bilinear", align_corners=False)``,
    borders included (replicate padding plays the role of PyTorch's coordinate clamping).
    For s=2 the 2-D weights are 9/16, 3/16, 3/16, 1/16.

    Raises:
        TypeError: ``dtype`` is not a floating torch dtype (integer kernels would be all 0).
    """
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch dtype (e.g. torch.float32), got {dtype!r}")
    h = check_positive_int(h, "h")
    w = check_positive_int(w, "w")
    scale = check_positive_int(scale, "scale")
    table = _bilinear_weights_1d(scale, dtype)
    kernels = torch.einsum("ay,bx->abyx", table, table)  # sub-row a, sub-col b, offsets dy, dx
    kernels = rearrange(kernels, "a b dy dx -> (dy dx) a b")
    return repeat(kernels, "k a b -> 1 k (h a) (w b)", h=h, w=w).contiguous()
