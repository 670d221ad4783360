"""Indexed pooling (IP) and indexed upsampling (IU): the two halves of an index function.

Notation (Lu et al., Index Networks, TPAMI 2022): ``x`` is B×C×H×W, ``s`` the stride, and an index map ``I`` is holistic
(B×1×H×W, shared by all channels) or depthwise (B×C×H×W).

* ``IP(x)[e] = Σ_{p ∈ window e} I(p) · x(p)`` — pooling is a weighted sum inside each s×s window.
* ``IU(y) = I ⊙ NN↑(y)`` — upsampling gates a nearest-neighbour copy of ``y`` pixel by pixel.

Non-finite values: a pixel whose index is exactly 0 is *not read*, so it contributes 0 even
when it holds ±inf or NaN (plain ``0 · inf`` would be NaN). That is what PyTorch's operators
do — ``F.max_pool2d`` ignores every non-maximum of a window, ``F.max_unpool2d`` writes 0 away
from the argmax — so the one-hot index forms equal them on inf/NaN inputs too. A NaN at a
window's argmax propagates, as in ``F.max_pool2d`` (which treats NaN as the maximum).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import reduce

from .._checks import all_finite, check_divisible, check_index_shape, check_positive_int, check_tensor
from .graph_capture import is_tracing


def gated_product(index: torch.Tensor, values: torch.Tensor, source: torch.Tensor | None = None) -> torch.Tensor:
    """``index · values`` with ``0 · (±inf or NaN) = 0``: a pixel gated by an exact 0 is not read.

    Broadcasts like ``*``. Finite inputs take the plain product after one finiteness check of
    ``source`` (default ``values``; IU passes the low-resolution ``y``, s² times smaller); the
    masking only runs when there is a non-finite entry, and its gradient is 0 (not NaN) at the
    masked pixels. Under ``torch.compile``/``torch.export`` the masked form always runs (it
    equals the plain product on finite values, and a graph cannot branch on data).
    """
    if not is_tracing() and all_finite(values if source is None else source):
        return index * values
    unread = (index == 0) & ~torch.isfinite(values)
    return index * torch.where(unread, torch.zeros((), dtype=values.dtype, device=values.device), values)


def indexed_pool(x: torch.Tensor, index: torch.Tensor, stride: int = 2) -> torch.Tensor:
    """Indexed pooling: sum of ``index · x`` over each stride×stride window.

    Args:
        x: B×C×H×W feature, H and W divisible by ``stride``.
        index: B×1×H×W (holistic) or B×C×H×W (depthwise) weights.
        stride: window size and step.

    Returns:
        B×C×(H/s)×(W/s). With ``index`` one-hot at each window's argmax this is max pooling;
        with ``index ≡ 1/s²`` it is average pooling.
    """
    check_tensor(x, "x", ndim=4)
    check_tensor(index, "index", ndim=4)
    stride = check_positive_int(stride, "stride")
    check_divisible(x, stride)
    check_index_shape(index, x, x.shape[2], x.shape[3])
    # A plain windowed sum (not s²·avg_pool) keeps one-hot indices exact for every stride.
    return reduce(gated_product(index, x), "b c (h s1) (w s2) -> b c h w", "sum", s1=stride, s2=stride)


def indexed_upsample(y: torch.Tensor, index: torch.Tensor, stride: int = 2) -> torch.Tensor:
    """Indexed upsampling: ``index ⊙ nearest_upsample(y, stride)``.

    Args:
        y: B×C×h×w low-resolution feature.
        index: B×1×(s·h)×(s·w) (holistic) or B×C×(s·h)×(s·w) (depthwise) gate.
        stride: upsampling factor s.

    Returns:
        B×C×(s·h)×(s·w). ``index ≡ 1`` gives nearest-neighbour upsampling; the one-hot argmax
        index of a max-pooling stage gives max-unpooling.
    """
    check_tensor(y, "y", ndim=4)
    check_tensor(index, "index", ndim=4)
    stride = check_positive_int(stride, "stride")
    check_index_shape(index, y, stride * y.shape[2], stride * y.shape[3])
    return gated_product(index, F.interpolate(y, scale_factor=stride, mode="nearest"), source=y)
