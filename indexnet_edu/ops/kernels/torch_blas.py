"""Reassembly in plain PyTorch: batched matrix products (BLAS), a few low-res rows at a time.

The backend :func:`indexnet_edu.ops.reassembly.reassemble` falls back to when neither the numba
nor the Triton kernel can take the tensors; a peer of :mod:`.numba_cpu` and :mod:`.triton_cuda`
with the same three functions: :func:`supports`, :func:`forward` (pads y itself) and
:func:`backward` (returns dL/dy with the padding's gradient folded back). Every PyTorch device and
floating dtype works; the results agree with the naive unfolded form to rounding.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from einops import rearrange

from .layout import channels_first as _channels_first
from .layout import channels_last as _channels_last
from .layout import fold_padding_gradient, pad_for_kernel

#: Patch values gathered per step (16 MiB in float32): a few rows at a time.
_CHUNK_VALUES = 1 << 22


def supports(y: torch.Tensor, kernels: torch.Tensor) -> bool:
    """Always True: plain PyTorch takes every device and floating dtype."""
    return True


def forward(y: torch.Tensor, kernels: torch.Tensor, kernel_size: int, scale: int, groups: int,
            padding: str) -> torch.Tensor:
    """Reassembly of y B×C×h×w by kernels B×(G·k²)×(s·h)×(s·w) → B×C×(s·h)×(s·w) (arguments
    already checked, one dtype, a non-empty batch)."""
    return _forward(pad_for_kernel(y, kernel_size, padding), kernels, kernel_size, scale, groups)


def backward(grad_out: torch.Tensor, y: torch.Tensor, kernels: torch.Tensor, kernel_size: int, scale: int,
             groups: int, padding: str):
    """(dL/dy B×C×h×w, dL/dkernels) for the upstream gradient B×C×(s·h)×(s·w)."""
    grad_padded, grad_kernels = _backward(grad_out.contiguous(), pad_for_kernel(y, kernel_size, padding), kernels,
                                          kernel_size, scale, groups, True, True)
    return fold_padding_gradient(grad_padded, kernel_size // 2, padding), grad_kernels


# ---------------------------------------------------------------------------------------------
# How it is computed.
#
# The textbook version (``indexnet_edu.bench.naive``) unfolds every k×k neighbourhood and
# nearest-upsamples it: C·k²·s²·h·w values, 100× the input for k=5, s=2. Here nothing is
# upsampled. The s×s output pixels above low-res pixel (row, x) each take a dot product of
# their own k² weights with the *same* k² neighbours, for every channel of their group.
# Batched over pixels that is a small matrix product per pixel,
#
#     out[pixel, (i j), c] = Σ_k W[pixel, (i j), k] · patches[pixel, k, c]
#                            (s² × k²)               (k² × C/G)
#
# done for a few low-res rows at a time (about _CHUNK_VALUES patch values), so the only
# temporaries are those rows of patches and of output, and the arithmetic runs in BLAS.
# Working channels-last makes every operand a plain strided matrix; one transpose at each
# end converts from and to B×C×H×W. Buffers are allocated once per call and refilled:
# fresh megabyte-sized allocations per step would cost more in page faults than the maths.
# The backward mirrors it: dL/dW = dL/dout · patchesᵀ, dL/dpatches = Wᵀ · dL/dout, and the
# patch gradients go back to where each neighbour was read with one ``index_add_`` per step
# (few operator calls matter: on a busy machine every parallel call waits for its threads).
# ---------------------------------------------------------------------------------------------


def _kernel_rows(kernels: torch.Tensor, kernel_size: int, scale: int, groups: int) -> torch.Tensor:
    """B×(G·k²)×(s·h)×(s·w) → h×(B·G)×w×s²×k², contiguous."""
    return rearrange(kernels, "b (g k) (h i) (w j) -> h (b g) w (i j) k", g=groups, k=kernel_size**2,
                     i=scale, j=scale).contiguous()


def _kernels_from_rows(rows: torch.Tensor, batch: int, scale: int) -> torch.Tensor:
    """Inverse of :func:`_kernel_rows`."""
    return rearrange(rows, "h (b g) w (i j) k -> b (g k) (h i) (w j)", b=batch, i=scale).contiguous()


def _row_windows(features: torch.Tensor, first_row: int, rows: int, kernel_size: int, width: int) -> torch.Tensor:
    """A view (no copy) of the k×k neighbourhoods of ``rows`` low-res rows from ``first_row``:
    (B·G)×hp×wp×c → rows×(B·G)×w×k×k×c."""
    batch_groups, padded_height, padded_width, channels = features.shape
    row_stride = padded_width * channels
    return features.as_strided(
        (rows, batch_groups, width, kernel_size, kernel_size, channels),
        (row_stride, padded_height * row_stride, channels, row_stride, channels, 1),
        features.storage_offset() + first_row * row_stride)


def _row_chunks(height: int, values_per_row: int):
    """(first row, number of rows) chunks holding about ``_CHUNK_VALUES`` patch values each.

    Several rows per chunk keep the number of (parallel) operator calls small: on a busy
    machine each call pays for gathering its threads, and hundreds of tiny calls pay often.
    """
    rows = max(1, min(height, _CHUNK_VALUES // max(1, values_per_row)))
    return [(first, min(rows, height - first)) for first in range(0, height, rows)]


def _patch_sources(shape, rows: int, kernel_size: int, width: int, device) -> torch.Tensor:
    """Flat pixel index into a (B·G)×hp×wp map of every entry of ``rows`` rows of patches
    (order rows×(B·G)×w×k×k, as :func:`_row_windows`), for the rows starting at row 0."""
    batch_groups, padded_height, padded_width, _ = shape
    r, n, x, dy, dx = (torch.arange(size, device=device).view([-1 if i == axis else 1 for i in range(5)])
                       for axis, size in enumerate((rows, batch_groups, width, kernel_size, kernel_size)))
    return (n * padded_height * padded_width + (r + dy) * padded_width + x + dx).reshape(-1)


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


class _Layout(NamedTuple):
    """What the forward and backward passes both derive from their inputs."""

    features: torch.Tensor   # (B·G)×hp×wp×c, channels-last padded input
    weights: torch.Tensor    # h×(B·G)×w×s²×k², kernels by low-res row
    height: int
    width: int               # low-res h, w
    batch_groups: int
    per_group: int           # B·G and C/G
    area: int
    phases: int              # k² and s²
    chunks: list             # (first row, rows) steps
    most: int                # the largest number of rows in a step


def _layout(padded, kernels, kernel_size, scale, groups) -> _Layout:
    _, _, padded_height, padded_width = padded.shape
    height, width = padded_height - kernel_size + 1, padded_width - kernel_size + 1
    features = _channels_last(padded, groups)
    batch_groups, per_group = features.shape[0], features.shape[3]
    area = kernel_size**2
    chunks = _row_chunks(height, batch_groups * width * area * per_group)
    return _Layout(features, _kernel_rows(kernels, kernel_size, scale, groups), height, width, batch_groups,
                   per_group, area, scale * scale, chunks, max(rows for _, rows in chunks))


def _forward(padded, kernels, kernel_size, scale, groups):
    batch = padded.shape[0]
    features, weights, height, width, batch_groups, per_group, area, phases, chunks, most = \
        _layout(padded, kernels, kernel_size, scale, groups)
    patch_buffer = features.new_empty(most * batch_groups * width * area * per_group)
    product_buffer = features.new_empty(most * batch_groups * width * phases * per_group)
    out_rows = features.new_empty(height, scale, batch_groups, width, scale, per_group)
    for first, rows in chunks:
        pixels = rows * batch_groups * width
        patches = patch_buffer[:pixels * area * per_group].view(rows, batch_groups, width, kernel_size,
                                                                kernel_size, per_group)
        patches.copy_(_row_windows(features, first, rows, kernel_size, width))
        product = product_buffer[:pixels * phases * per_group].view(pixels, phases, per_group)
        torch.bmm(weights[first:first + rows].view(pixels, phases, area), patches.view(pixels, area, per_group),
                  out=product)
        out_rows[first:first + rows].copy_(
            rearrange(product, "(r n x) (i j) c -> r i n x j c", r=rows, n=batch_groups, i=scale))
    return _to_channels_first(out_rows, batch)


def _backward(grad_out, padded, kernels, kernel_size, scale, groups, need_features, need_kernels):
    batch, padded_width = padded.shape[0], padded.shape[3]
    features, weights, height, width, batch_groups, per_group, area, phases, chunks, most = \
        _layout(padded, kernels, kernel_size, scale, groups)
    grads = _to_rows(grad_out, groups, scale)                          # h×s×(BG)×w×s×c
    grad_buffer = features.new_empty(most * batch_groups * width * phases * per_group)
    patch_buffer = features.new_empty(most * batch_groups * width * area * per_group)
    grad_features = torch.zeros_like(features) if need_features else None
    grad_weights = torch.empty_like(weights) if need_kernels else None
    read_from = _patch_sources(features.shape, most, kernel_size, width, features.device) if need_features else None
    for first, rows in chunks:
        pixels = rows * batch_groups * width
        grad_rows = grad_buffer[:pixels * phases * per_group].view(pixels, phases, per_group)
        grad_rows.copy_(rearrange(grads[first:first + rows], "r i n x j c -> (r n x) (i j) c"))
        patches = patch_buffer[:pixels * area * per_group].view(pixels, area, per_group)
        if need_kernels:  # dL/dW = dL/dout · patchesᵀ
            patches.view(rows, batch_groups, width, kernel_size, kernel_size, per_group).copy_(
                _row_windows(features, first, rows, kernel_size, width))
            torch.bmm(grad_rows, patches.transpose(1, 2),
                      out=grad_weights[first:first + rows].view(pixels, phases, area))
        if need_features:  # dL/dpatches = Wᵀ · dL/dout (reusing the patch buffer), then added
            grad_patches = patches  # back to the k² places each neighbour was read from, in one call
            torch.bmm(weights[first:first + rows].view(pixels, phases, area).transpose(1, 2), grad_rows,
                      out=grad_patches)
            targets = read_from[:pixels * area] + first * padded_width
            grad_features.view(-1, per_group).index_add_(0, targets, grad_patches.view(-1, per_group))
    grad_padded = grad_kernels = None
    if need_features:
        grad_padded = _channels_first(grad_features, batch)
    if need_kernels:
        grad_kernels = _kernels_from_rows(grad_weights, batch, scale)
    return grad_padded, grad_kernels
