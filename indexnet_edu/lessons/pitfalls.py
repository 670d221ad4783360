"""Five ways to get an index network wrong — re-created on purpose, to learn from.

The code this suite grew from had five bugs. Each is rebuilt here as a small,
clearly named function that is **wrong on purpose**, beside a pointer to what the package
does instead. Lesson 03 runs each one and shows what it does to the output; the tests prove
that each really differs from the correct behaviour. Never use these in a model.

=====================================  ==============================================
pitfall (wrong on purpose)             correct behaviour in the package
=====================================  ==============================================
:func:`softmax_over_height`            :func:`~indexnet_edu.upsamplers.index_blocks.normalise_index`
:func:`swapped_indices`                ``enc`` pools, ``dec`` upsamples
:class:`BranchWithMissingBatchNorm`    a norm layer that is always callable
:func:`mode_check_that_never_fails`    ``DepthwiseIndexBlock(mode=...)`` raises ValueError
:func:`pool_ignoring_divisibility`     :func:`~indexnet_edu.ops.indexing.indexed_pool` raises
=====================================  ==============================================
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from .._checks import check_positive_int, check_tensor
from ..upsamplers.index_blocks import normalise_index

_SHUFFLE = "b c (s1 s2) h w -> b c (h s1) (w s2)"


def _check_logits(logits: torch.Tensor, stride: int) -> int:
    check_tensor(logits, "logits", ndim=5)
    stride = check_positive_int(stride, "stride")
    if logits.shape[2] != stride**2:
        raise ValueError(f"logits must be B×C×s²×h×w with s²={stride**2}, got shape {tuple(logits.shape)}")
    return stride


# --- Pitfall 1 -------------------------------------------------------------------------------

def softmax_over_height(logits: torch.Tensor, stride: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """WRONG ON PURPOSE (seed bug 1): the encoder softmax runs over the *height* axis.

    The seed concatenated the s² depthwise branches on the channel axis (B×(s²·C)×h×w) and
    then took ``softmax(dim=2)`` — dim 2 of that tensor is the height h, not the s²
    sub-positions. So every column of the low-resolution map sums to 1, and a window's
    weights do not: pooling becomes a mixture of window sums scaled by how the rest of the
    column looks. Correct: :func:`~indexnet_edu.upsamplers.index_blocks.normalise_index` (softmax over s²).

    Args:
        logits: B×C×s²×h×w raw index logits (as ``DepthwiseIndexBlock.logits`` returns).

    Returns:
        ``(enc, dec)``, each B×C×(h·s)×(w·s), laid out exactly as the correct ones.
    """
    stride = _check_logits(logits, stride)
    concatenated = rearrange(torch.sigmoid(logits), "b c k h w -> b (k c) h w")
    enc = torch.softmax(concatenated, dim=2)  # the bug: dim 2 is the height here
    enc = rearrange(enc, "b (k c) h w -> b c k h w", k=stride**2)
    dec = torch.sigmoid(logits)
    return (rearrange(enc, _SHUFFLE, s1=stride, s2=stride), rearrange(dec, _SHUFFLE, s1=stride, s2=stride))


# --- Pitfall 2 -------------------------------------------------------------------------------

def swapped_indices(logits: torch.Tensor, stride: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """WRONG ON PURPOSE (seed bug 2): encoder and decoder indices swapped.

    Returns ``(sigmoid, softmax)`` where the official code returns ``(softmax, sigmoid)``.
    Pooling with the sigmoid index sums up to s² values each weighted by up to 1, so pooled
    features grow by up to s²×; upsampling with the softmax index scales every copy by about
    1/s². Correct: ``enc = softmax(sigmoid(z))`` pools, ``dec = sigmoid(z)`` upsamples.
    """
    stride = _check_logits(logits, stride)
    enc, dec = normalise_index(logits, stride)
    return dec, enc


# --- Pitfall 3 -------------------------------------------------------------------------------

class BranchWithMissingBatchNorm(nn.Module):
    """WRONG ON PURPOSE (seed bug 3): a nonlinear index branch whose norm layer may be ``None``.

    With ``batch_norm=False`` the seed stored ``None`` in place of the BatchNorm layer and
    still called it in ``forward``: ``TypeError: 'NoneType' object is not callable``. The fix
    is to store ``nn.Identity()`` when normalisation is off — always a callable layer. Pass
    ``fixed=True`` to get that fixed version for comparison.

    Shapes: B×C×H×W → B×C×(H/s)×(W/s) (conv s×s stride s, norm, ReLU6, conv 1×1).
    """

    def __init__(self, channels: int, stride: int = 2, batch_norm: bool = False, fixed: bool = False):
        super().__init__()
        channels = check_positive_int(channels, "channels")
        stride = check_positive_int(stride, "stride")
        self.conv = nn.Conv2d(channels, channels, stride, stride, bias=False)
        if batch_norm:
            self.norm = nn.BatchNorm2d(channels)
        else:
            self.norm = nn.Identity() if fixed else None  # the bug is the `None`
        self.activation = nn.ReLU6()
        self.project = nn.Conv2d(channels, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(self.activation(self.norm(self.conv(x))))


# --- Pitfall 4 -------------------------------------------------------------------------------

def mode_check_that_never_fails(mode, channels: int) -> int | None:
    """WRONG ON PURPOSE (seed bug 4): ``assert "MODE ERROR"`` checks a string, not the mode.

    Returns the conv ``groups`` a depthwise branch needs: ``channels`` for "o2o", 1 for "m2o".
    For any other mode the seed fell through to ``assert "MODE ERROR"`` — a non-empty string
    is truthy, so the assertion passes, a typo such as ``"o2m"`` sails through, and the caller
    gets ``None`` to fail much later (or silently build the wrong layer). Correct:
    ``DepthwiseIndexBlock(c, mode="o2m")`` raises ValueError quoting the mode.
    """
    if mode == "o2o":
        return channels
    if mode == "m2o":
        return 1
    assert "MODE ERROR"  # the bug: always true, so nothing is ever reported
    return None


# --- Pitfall 5 -------------------------------------------------------------------------------

def pool_ignoring_divisibility(x: torch.Tensor, index: torch.Tensor, stride: int = 2) -> torch.Tensor:
    """WRONG ON PURPOSE (seed bug 5): pool ``index · x`` without checking H, W divide by s.

    Computes ``s² · avg_pool2d(index · x, s)`` (the official ×s² compensation). When H or W is
    not a multiple of s, ``avg_pool2d`` silently drops the last rows/columns: the output is
    smaller than expected and those pixels never reach the decoder. Correct:
    :func:`~indexnet_edu.ops.indexing.indexed_pool` refuses such input with a ValueError.

    Shapes: x, index B×C×H×W (or index B×1×H×W) → B×C×⌊H/s⌋×⌊W/s⌋.
    """
    check_tensor(x, "x", ndim=4)
    check_tensor(index, "index", ndim=4)
    stride = check_positive_int(stride, "stride")
    return stride**2 * F.avg_pool2d(index * x, stride)


PITFALLS = {
    "softmax_over_height": "encoder softmax over the height axis instead of the s² sub-positions",
    "swapped_indices": "sigmoid index used for pooling, softmax index for upsampling",
    "BranchWithMissingBatchNorm": "norm layer stored as None when batch norm is off, then called",
    "mode_check_that_never_fails": "assert on a non-empty string: a wrong mode is never reported",
    "pool_ignoring_divisibility": "pooling when H, W do not divide by s silently drops pixels",
}
"""Name → one-line description of each pitfall, in the order lesson 03 presents them."""
