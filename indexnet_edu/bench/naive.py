"""The textbook ("naive") reassembly the fast operator is measured and tested against.

    unfold y at low resolution        B×(C·k²)×(h·w)            every k×k neighbourhood, as columns
    nearest-upsample the patches      B×G×(C/G)×k²×(s·h)×(s·w)  ← C·k²·s²·h·w values: the memory hog
    multiply by the kernels, sum k²   B×C×(s·h)×(s·w)

It is short and obviously right, which makes it the reference; it is also what most
pure-PyTorch CARAFE ports do, which is why they are slow and memory-hungry.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange

from ..ops.reassembly import check_reassembly_args, pad_for_kernel


def naive_reassemble(y: torch.Tensor, kernels: torch.Tensor, kernel_size: int, scale: int = 2,
                     groups: int = 1, padding: str = "zeros") -> torch.Tensor:
    """Reassembly by "unfold, nearest-upsample the patches, multiply, sum" (same contract as
    :func:`indexnet_edu.ops.reassembly.reassemble`).

    Args:
        y: B×C×h×w; kernels: B×(G·k²)×(s·h)×(s·w); see ``reassemble``.

    Returns:
        B×C×(s·h)×(s·w).
    """
    kernel_size, scale, groups = check_reassembly_args(y, kernels, kernel_size, scale, groups, padding)
    height, width = y.shape[2:]
    patches = F.unfold(pad_for_kernel(y, kernel_size, padding), kernel_size)  # B×(C·k²)×(h·w)
    patches = rearrange(patches, "b ck (h w) -> b ck h w", h=height, w=width)
    patches = F.interpolate(patches, scale_factor=scale, mode="nearest")  # B×(C·k²)×(s·h)×(s·w)
    patches = rearrange(patches, "b (g c k) H W -> b g c k H W", g=groups, k=kernel_size**2)
    weights = rearrange(kernels, "b (g k) H W -> b g 1 k H W", g=groups)
    return rearrange((patches * weights).sum(dim=3), "b g c H W -> b (g c) H W")
