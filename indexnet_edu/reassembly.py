"""Reassembly: one formula for IndexNet, CARAFE, nearest, bilinear and max-unpooling (SPEC §2).

    out(c, p) = Σ_{dy,dx ∈ k×k} W_p(g(c), dy, dx) · y(c, ⌊p/s⌋ + (dy − r, dx − r)),  r = ⌊k/2⌋

``W`` is B×(G·k²)×(s·h)×(s·w) with channel ``g·k² + dy·k + dx`` (mmcv's order); group ``g``
covers channels ``[g·C/G, (g+1)·C/G)``. Neighbours outside the map are zero ("zeros", the
CARAFE semantics, kernels not renormalised) or the nearest valid pixel ("replicate").
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange

from ._checks import check_choice, check_odd_kernel, check_positive_int, check_tensor

PADDINGS = ("zeros", "replicate")


def check_reassembly_args(y, kernels, kernel_size, scale, groups, padding):
    """Validate the arguments of :func:`reassemble`; returns the normalised ints."""
    check_tensor(y, "y", ndim=4)
    check_tensor(kernels, "kernels", ndim=4)
    kernel_size = check_odd_kernel(kernel_size)
    scale = check_positive_int(scale, "scale")
    groups = check_positive_int(groups, "groups")
    check_choice(padding, "padding", PADDINGS)
    batch, channels, height, width = y.shape
    if channels % groups:
        raise ValueError(f"channels of y must be divisible by groups={groups}, got C={channels}")
    expected = (batch, groups * kernel_size**2, scale * height, scale * width)
    if tuple(kernels.shape) != expected:
        raise ValueError(
            "kernels must have shape B×(groups·k²)×(s·h)×(s·w) = "
            f"{'×'.join(map(str, expected))} (groups={groups}, k={kernel_size}, s={scale}), "
            f"got {'×'.join(map(str, kernels.shape))}"
        )
    return kernel_size, scale, groups


def pad_for_kernel(y: torch.Tensor, kernel_size: int, padding: str) -> torch.Tensor:
    """Pad a B×C×h×w map by ⌊k/2⌋ on every side, with zeros or by replicating the border."""
    r = kernel_size // 2
    if r == 0:
        return y
    mode = "constant" if padding == "zeros" else "replicate"
    return F.pad(y, (r, r, r, r), mode=mode)


def reassemble(y: torch.Tensor, kernels: torch.Tensor, kernel_size: int, scale: int = 2,
               groups: int = 1, padding: str = "zeros") -> torch.Tensor:
    """Content-aware reassembly of a low-resolution map (SPEC §2).

    Args:
        y: B×C×h×w feature to upsample.
        kernels: B×(G·k²)×(s·h)×(s·w) reassembly weights, one k×k kernel per output pixel
            and group, channel order ``g·k² + dy·k + dx``.
        kernel_size: odd k.
        scale: upsampling factor s.
        groups: G; C must be divisible by G.
        padding: "zeros" (CARAFE) or "replicate" (needed for bilinear).

    Returns:
        B×C×(s·h)×(s·w).
    """
    kernel_size, scale, groups = check_reassembly_args(y, kernels, kernel_size, scale, groups, padding)
    height = y.shape[2]
    patches = F.unfold(pad_for_kernel(y, kernel_size, padding), kernel_size)
    patches = rearrange(patches, "b (g c k) (h w) -> b g c k h w", g=groups, k=kernel_size**2, h=height)
    weights = rearrange(kernels, "b (g k) (h i) (w j) -> b g k h w i j", g=groups, i=scale, j=scale)
    out = torch.einsum("bgckhw,bgkhwij->bgchwij", patches, weights)
    return rearrange(out, "b g c h w i j -> b (g c) (h i) (w j)")


def carafe(y: torch.Tensor, kernels: torch.Tensor, kernel_size: int, groups: int = 1,
           scale: int = 2) -> torch.Tensor:
    """CARAFE's reassembly step: :func:`reassemble` with zeros padding (mmcv semantics)."""
    return reassemble(y, kernels, kernel_size, scale=scale, groups=groups, padding="zeros")
