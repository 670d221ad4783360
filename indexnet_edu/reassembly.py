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
from torch.autograd.function import once_differentiable

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
        B×C×(s·h)×(s·w). Differentiable in ``y`` and ``kernels`` (hand-written backward,
        see :class:`_Reassembly`); never holds more than one row of k×k patches at a time.
    """
    kernel_size, scale, groups = check_reassembly_args(y, kernels, kernel_size, scale, groups, padding)
    dtype = torch.promote_types(y.dtype, kernels.dtype)
    padded = pad_for_kernel(y.to(dtype), kernel_size, padding)  # autograd folds the padding back
    return _Reassembly.apply(padded, kernels.to(dtype), kernel_size, scale, groups)


def carafe(y: torch.Tensor, kernels: torch.Tensor, kernel_size: int, groups: int = 1,
           scale: int = 2) -> torch.Tensor:
    """CARAFE's reassembly step: :func:`reassemble` with zeros padding (mmcv semantics)."""
    return reassemble(y, kernels, kernel_size, scale=scale, groups=groups, padding="zeros")


# ---------------------------------------------------------------------------------------------
# The fast operator.
#
# The textbook version (``indexnet_edu.bench.naive``) unfolds every k×k neighbourhood and
# nearest-upsamples it: C·k²·s²·h·w values, 100× the input for k=5, s=2. Here the work goes
# one low-resolution row at a time. The s×s output pixels above low-res pixel (row, x) each
# take a dot product of their k² weights with the same k² neighbours, for every channel of
# their group. Batched over x (and batch·group) that is one small matrix product per row,
#
#     out[x, (i j), c] = Σ_k W[x, (i j), k] · patches[x, k, c]
#                        (s² × k²)           (k² × C/G)
#
# so the only temporaries are one row of patches (w·k²·C/G values, refilled in place) and
# one row of output, and the arithmetic runs in BLAS. Working channels-last makes every
# operand a plain strided matrix; one transpose at each end converts from and to B×C×H×W.
# The buffers are allocated once and reused: fresh megabyte-sized allocations per row
# would spend more time in page faults than in arithmetic.
# ---------------------------------------------------------------------------------------------


def _channels_last(padded: torch.Tensor, groups: int) -> torch.Tensor:
    """B×C×hp×wp → (B·G)×hp×wp×(C/G), contiguous."""
    batch, channels, height, width = padded.shape
    if batch * groups == 1:  # a plain 2-D transpose: PyTorch's blocked fast path
        return padded.reshape(channels, height * width).t().contiguous().view(1, height, width, channels)
    return rearrange(padded, "b (g c) h w -> (b g) h w c", g=groups).contiguous()


def _channels_first(features: torch.Tensor, batch: int) -> torch.Tensor:
    """Inverse of :func:`_channels_last`."""
    batch_groups, height, width, channels = features.shape
    if batch_groups == 1:
        return features.reshape(height * width, channels).t().contiguous().view(1, channels, height, width)
    return rearrange(features, "(b g) h w c -> b (g c) h w", b=batch).contiguous()


def _kernel_rows(kernels: torch.Tensor, kernel_size: int, scale: int, groups: int) -> torch.Tensor:
    """B×(G·k²)×(s·h)×(s·w) → h×(B·G)×w×s²×k², contiguous."""
    return rearrange(kernels, "b (g k) (h i) (w j) -> h (b g) w (i j) k", g=groups, k=kernel_size**2,
                     i=scale, j=scale).contiguous()


def _kernels_from_rows(rows: torch.Tensor, batch: int, scale: int) -> torch.Tensor:
    """Inverse of :func:`_kernel_rows`."""
    return rearrange(rows, "h (b g) w (i j) k -> b (g k) (h i) (w j)", b=batch, i=scale).contiguous()


def _row_windows(features: torch.Tensor, row: int, kernel_size: int, width: int) -> torch.Tensor:
    """A view (no copy) of the k×k neighbourhoods of one low-res row: (B·G)×w×k×k×c."""
    batch_groups, padded_height, padded_width, channels = features.shape
    return features.as_strided(
        (batch_groups, width, kernel_size, kernel_size, channels),
        (padded_height * padded_width * channels, channels, padded_width * channels, channels, 1),
        features.storage_offset() + row * padded_width * channels)


def _to_channels_first(rows: torch.Tensor, batch: int) -> torch.Tensor:
    """h×s×(B·G)×w×s×c → B×(G·c)×(s·h)×(s·w)."""
    height, scale, batch_groups, width, _, channels = rows.shape
    if batch_groups == 1:  # a plain 2-D transpose: PyTorch's blocked fast path
        flat = rows.reshape(height * scale * width * scale, channels).t().contiguous()
        return flat.view(1, channels, height * scale, width * scale)
    return rearrange(rows, "h i (b g) w j c -> b (g c) (h i) (w j)", b=batch).contiguous()


def _to_rows(tensor: torch.Tensor, groups: int, scale: int) -> torch.Tensor:
    """B×(G·c)×(s·h)×(s·w) → h×s×(B·G)×w×s×c, contiguous (inverse of _to_channels_first)."""
    batch, channels, height, width = tensor.shape
    if batch * groups == 1:
        flat = tensor.reshape(channels, height * width).t().contiguous()
        return flat.view(height // scale, scale, 1, width // scale, scale, channels // groups)
    return rearrange(tensor, "b (g c) (h i) (w j) -> h i (b g) w j c", g=groups, i=scale,
                     j=scale).contiguous()


def _forward(padded, kernels, kernel_size, scale, groups):
    batch, _, padded_height, padded_width = padded.shape
    height, width = padded_height - kernel_size + 1, padded_width - kernel_size + 1
    features = _channels_last(padded, groups)                        # (BG)×hp×wp×c
    weights = _kernel_rows(kernels, kernel_size, scale, groups)      # h×(BG)×w×s²×k²
    batch_groups, per_group = features.shape[0], features.shape[3]
    pixels = batch_groups * width
    patches = features.new_empty(batch_groups, width, kernel_size, kernel_size, per_group)
    product = features.new_empty(pixels, scale * scale, per_group)
    rows = features.new_empty(height, scale, batch_groups, width, scale, per_group)
    for row in range(height):
        patches.copy_(_row_windows(features, row, kernel_size, width))
        torch.bmm(weights[row].view(pixels, scale * scale, -1), patches.view(pixels, -1, per_group),
                  out=product)
        rows[row].copy_(rearrange(product, "(n x) (i j) c -> i n x j c", n=batch_groups, i=scale))
    return _to_channels_first(rows, batch)


def _backward(grad_out, padded, kernels, kernel_size, scale, groups, need_features, need_kernels):
    batch, _, padded_height, padded_width = padded.shape
    height, width = padded_height - kernel_size + 1, padded_width - kernel_size + 1
    features = _channels_last(padded, groups)
    weights = _kernel_rows(kernels, kernel_size, scale, groups)
    grads = _to_rows(grad_out, groups, scale)                          # h×s×(BG)×w×s×c
    batch_groups, per_group = features.shape[0], features.shape[3]
    pixels, area = batch_groups * width, kernel_size**2
    grad_row = features.new_empty(pixels, scale * scale, per_group)
    patches = features.new_empty(batch_groups, width, kernel_size, kernel_size, per_group)
    grad_patches = features.new_empty(batch_groups, width, kernel_size, kernel_size, per_group)
    grad_features = torch.zeros_like(features) if need_features else None
    grad_weights = torch.empty_like(weights) if need_kernels else None
    for row in range(height):
        grad_row.copy_(rearrange(grads[row], "i n x j c -> (n x) (i j) c"))
        if need_kernels:  # dL/dW = dL/dout · patchesᵀ
            patches.copy_(_row_windows(features, row, kernel_size, width))
            torch.bmm(grad_row, patches.view(pixels, area, per_group).transpose(1, 2),
                      out=grad_weights[row].view(pixels, scale * scale, area))
        if need_features:  # dL/dpatches = Wᵀ · dL/dout, then back to where each entry was read
            torch.bmm(weights[row].view(pixels, scale * scale, area).transpose(1, 2), grad_row,
                      out=grad_patches.view(pixels, area, per_group))
            for dx in range(kernel_size):  # one add per column offset covers all k rows at once
                grad_features[:, row:row + kernel_size, dx:dx + width] += \
                    grad_patches[:, :, :, dx].transpose(1, 2)
    grad_padded = grad_kernels = None
    if need_features:
        grad_padded = _channels_first(grad_features, batch)
    if need_kernels:
        grad_kernels = _kernels_from_rows(grad_weights, batch, scale)
    return grad_padded, grad_kernels


class _Reassembly(torch.autograd.Function):
    """Reassembly of an already padded map with a hand-written backward.

    forward(padded B×C×(h+k−1)×(w+k−1), kernels B×(G·k²)×(s·h)×(s·w)) → B×C×(s·h)×(s·w).
    backward: dL/dW = Σ_c dL/dout · patch and dL/dpatch = Σ_sub-pixels W · dL/dout, the
    latter added back to the k² places each patch entry was read from.
    """

    @staticmethod
    def forward(ctx, padded, kernels, kernel_size, scale, groups):
        ctx.save_for_backward(padded, kernels)
        ctx.geometry = (kernel_size, scale, groups)
        return _forward(padded, kernels, kernel_size, scale, groups)

    @staticmethod
    @once_differentiable  # the backward is not itself differentiable: say so instead of being wrong
    def backward(ctx, grad_out):
        padded, kernels = ctx.saved_tensors
        need_features, need_kernels = ctx.needs_input_grad[:2]
        grad_padded, grad_kernels = _backward(grad_out.contiguous(), padded, kernels, *ctx.geometry,
                                              need_features, need_kernels)
        return grad_padded, grad_kernels, None, None, None
