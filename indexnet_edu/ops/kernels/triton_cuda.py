"""Reassembly on CUDA in Triton: forward and backward kernels, one program per tile.

Forward (Wang et al., CARAFE, ICCV 2019, Eq. 4): a program owns ``BLOCK_C`` channels ×
``BLOCK_P`` output pixels of one image; for each of the k² taps it loads the pixels' weights
and their neighbour in every channel, and accumulates in float32 (float64 for float64 inputs).

Backward, two kernels, neither with atomics:
- ``dL/dW``: a program owns ``BLOCK_P`` output pixels, one group and one tap, and sums
  ``dL/dout · neighbour`` over the group's channels, ``BLOCK_C`` at a time.
- ``dL/dpadded``: a program owns ``BLOCK_C`` channels × ``BLOCK_P`` pixels of the *padded*
  input and gathers, for every tap that read it and every sub-pixel, ``W · dL/dout``.

Triton is optional (``pip install triton``; it ships with PyTorch's CUDA wheels). The kernels
run on the CPU under Triton's interpreter (``TRITON_INTERPRET=1`` set before the import),
which is how the tests check them on a machine without a GPU.
"""
from __future__ import annotations

import functools
import os

import torch

from .layout import fold_padding_gradient, pad_for_kernel

#: dtypes the kernels take (accumulation is float32, float64 for float64).
DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
BLOCK_C = 16
BLOCK_P = 64


@functools.lru_cache(maxsize=1)
def triton_available() -> bool:
    """True when triton can be imported."""
    try:
        import triton  # noqa: F401
        import triton.language  # noqa: F401
    except ImportError:
        return False
    return True


def interpreted() -> bool:
    """True when Triton runs its kernels in the CPU interpreter (``TRITON_INTERPRET=1``)."""
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def supports(y: torch.Tensor, kernels: torch.Tensor) -> bool:
    """Whether these kernels can take the call: triton importable, a CUDA tensor (or any tensor
    under the interpreter), a supported dtype."""
    on_device = y.device.type == "cuda" or (interpreted() and y.device.type == "cpu")
    return (on_device and kernels.device == y.device and y.dtype in DTYPES
            and kernels.dtype == y.dtype and triton_available())


@functools.lru_cache(maxsize=1)
def _kernels():
    import triton
    import triton.language as tl

    @triton.jit
    def forward_kernel(padded, weights, out, channels, per_group, height, width, padded_height, padded_width,
                       K: tl.constexpr, S: tl.constexpr, WIDE: tl.constexpr,
                       BLOCK_C: tl.constexpr, BLOCK_P: tl.constexpr):
        pixel_block, channel_block, b = tl.program_id(0), tl.program_id(1), tl.program_id(2)
        out_width = S * width
        pixels = S * height * out_width
        p = pixel_block * BLOCK_P + tl.arange(0, BLOCK_P)
        c = channel_block * BLOCK_C + tl.arange(0, BLOCK_C)
        y = (p // out_width) // S
        x = (p % out_width) // S
        groups = channels // per_group
        first_kernel = (b * groups + c // per_group) * (K * K)
        mask = (c[:, None] < channels) & (p[None, :] < pixels)
        acc = tl.zeros((BLOCK_C, BLOCK_P), dtype=tl.float64 if WIDE else tl.float32)
        source = (b * channels + c[:, None]) * padded_height
        for tap in tl.static_range(K * K):
            w = tl.load(weights + (first_kernel[:, None] + tap) * pixels + p[None, :], mask=mask, other=0.0)
            v = tl.load(padded + (source + y[None, :] + tap // K) * padded_width + x[None, :] + tap % K,
                        mask=mask, other=0.0)
            acc += w.to(acc.dtype) * v.to(acc.dtype)
        tl.store(out + (b * channels + c[:, None]) * pixels + p[None, :], acc.to(out.dtype.element_ty), mask=mask)

    @triton.jit
    def grad_weights_kernel(padded, grads, grad_weights, channels, per_group, height, width, padded_height,
                            padded_width, K: tl.constexpr, S: tl.constexpr, WIDE: tl.constexpr,
                            BLOCK_C: tl.constexpr, BLOCK_P: tl.constexpr):
        pixel_block, group, b = tl.program_id(0), tl.program_id(1), tl.program_id(2)
        out_width = S * width
        pixels = S * height * out_width
        p = pixel_block * BLOCK_P + tl.arange(0, BLOCK_P)
        y = (p // out_width) // S
        x = (p % out_width) // S
        groups = channels // per_group
        for tap in tl.static_range(K * K):
            acc = tl.zeros((BLOCK_P,), dtype=tl.float64 if WIDE else tl.float32)
            for start in range(0, per_group, BLOCK_C):
                c = group * per_group + start + tl.arange(0, BLOCK_C)
                mask = (start + tl.arange(0, BLOCK_C) < per_group)[:, None] & (p[None, :] < pixels)
                g = tl.load(grads + (b * channels + c[:, None]) * pixels + p[None, :], mask=mask, other=0.0)
                v = tl.load(padded + ((b * channels + c[:, None]) * padded_height + y[None, :] + tap // K)
                            * padded_width + x[None, :] + tap % K, mask=mask, other=0.0)
                acc += tl.sum(g.to(acc.dtype) * v.to(acc.dtype), axis=0)
            tl.store(grad_weights + ((b * groups + group) * (K * K) + tap) * pixels + p,
                     acc.to(grad_weights.dtype.element_ty), mask=p < pixels)

    @triton.jit
    def grad_padded_kernel(weights, grads, grad_padded, channels, per_group, height, width, padded_height,
                           padded_width, K: tl.constexpr, S: tl.constexpr, WIDE: tl.constexpr,
                           BLOCK_C: tl.constexpr, BLOCK_P: tl.constexpr):
        pixel_block, channel_block, b = tl.program_id(0), tl.program_id(1), tl.program_id(2)
        out_width = S * width
        pixels = S * height * out_width
        q = pixel_block * BLOCK_P + tl.arange(0, BLOCK_P)  # a pixel of the padded input
        c = channel_block * BLOCK_C + tl.arange(0, BLOCK_C)
        py = q // padded_width
        px = q % padded_width
        groups = channels // per_group
        first_kernel = (b * groups + c // per_group) * (K * K)
        inside = (c[:, None] < channels) & (q[None, :] < padded_height * padded_width)
        acc = tl.zeros((BLOCK_C, BLOCK_P), dtype=tl.float64 if WIDE else tl.float32)
        for tap in tl.static_range(K * K):
            y = py - tap // K  # the low-res pixel whose tap `tap` read this one
            x = px - tap % K
            valid = inside & ((y >= 0) & (y < height) & (x >= 0) & (x < width))[None, :]
            for phase in tl.static_range(S * S):
                out_pixel = (S * y + phase // S) * out_width + S * x + phase % S
                w = tl.load(weights + (first_kernel[:, None] + tap) * pixels + out_pixel[None, :],
                            mask=valid, other=0.0)
                g = tl.load(grads + (b * channels + c[:, None]) * pixels + out_pixel[None, :], mask=valid, other=0.0)
                acc += w.to(acc.dtype) * g.to(acc.dtype)
        tl.store(grad_padded + (b * channels + c[:, None]) * (padded_height * padded_width) + q[None, :],
                 acc.to(grad_padded.dtype.element_ty), mask=inside)

    return triton.cdiv, forward_kernel, grad_weights_kernel, grad_padded_kernel


def _geometry(padded, kernel_size):
    batch, channels, padded_height, padded_width = padded.shape
    return batch, channels, padded_height - kernel_size + 1, padded_width - kernel_size + 1, padded_height, padded_width


def forward(y: torch.Tensor, kernels: torch.Tensor, kernel_size: int, scale: int, groups: int,
            padding: str) -> torch.Tensor:
    """Reassembly: y B×C×h×w, kernels B×(G·k²)×(s·h)×(s·w) → B×C×(s·h)×(s·w)."""
    cdiv, forward_kernel, _, _ = _kernels()
    padded, kernels = pad_for_kernel(y, kernel_size, padding).contiguous(), kernels.contiguous()
    batch, channels, height, width, padded_height, padded_width = _geometry(padded, kernel_size)
    out = kernels.new_empty(batch, channels, scale * height, scale * width)
    grid = (cdiv(scale * scale * height * width, BLOCK_P), cdiv(channels, BLOCK_C), batch)
    forward_kernel[grid](padded, kernels, out, channels, channels // groups, height, width, padded_height,
                         padded_width, K=kernel_size, S=scale, WIDE=padded.dtype == torch.float64,
                         BLOCK_C=BLOCK_C, BLOCK_P=BLOCK_P)
    return out


def backward(grad_out: torch.Tensor, y: torch.Tensor, kernels: torch.Tensor, kernel_size: int, scale: int,
             groups: int, padding: str):
    """(dL/dy B×C×h×w, dL/dkernels B×(G·k²)×(s·h)×(s·w)) from dL/dout B×C×(s·h)×(s·w)."""
    cdiv, _, grad_weights_kernel, grad_padded_kernel = _kernels()
    padded, kernels, grad_out = pad_for_kernel(y, kernel_size, padding).contiguous(), kernels.contiguous(), grad_out.contiguous()
    batch, channels, height, width, padded_height, padded_width = _geometry(padded, kernel_size)
    geometry = (channels, channels // groups, height, width, padded_height, padded_width)
    constants = dict(K=kernel_size, S=scale, WIDE=padded.dtype == torch.float64, BLOCK_C=BLOCK_C, BLOCK_P=BLOCK_P)
    grad_kernels = torch.empty_like(kernels)
    grid = (cdiv(scale * scale * height * width, BLOCK_P), groups, batch)
    grad_weights_kernel[grid](padded, grad_out, grad_kernels, *geometry, **constants)
    grad_padded = torch.empty_like(padded)
    grid = (cdiv(padded_height * padded_width, BLOCK_P), cdiv(channels, BLOCK_C), batch)
    grad_padded_kernel[grid](kernels, grad_out, grad_padded, *geometry, **constants)
    return fold_padding_gradient(grad_padded, kernel_size // 2, padding), grad_kernels
