"""Reassembly as a PyTorch custom operator, ``torch.ops.indexnet_edu.reassemble``, for
``torch.compile``.

Compiling a model that calls :func:`indexnet_edu.ops.reassembly.reassemble` would otherwise either
break the graph (the fast kernels are numba and Triton calls, and the finite-input check is a
branch on data) or trace the unfolded form, which Inductor runs several times slower than the
fused kernels (``benchmarks/compile_vs_eager.py``). As a custom operator, reassembly is one
opaque node of the compiled graph: its shape comes from a fake implementation, and at run time
it calls the eager operator — the fused kernel, with the finite check inside — forward and
backward (a second custom operator, so the compiled backward graph calls the fast backward too).

``torch.export`` (and ONNX export) records the unfolded form instead, so an exported program
holds only standard ATen operators and runs without this package.
"""
from __future__ import annotations

from typing import Optional

import torch

AVAILABLE = hasattr(torch, "library") and hasattr(torch.library, "custom_op")


def _output_like(y: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    dtype = torch.promote_types(y.dtype, kernels.dtype)
    return kernels.new_empty(y.shape[0], y.shape[1], kernels.shape[2], kernels.shape[3], dtype=dtype)


if AVAILABLE:
    @torch.library.custom_op("indexnet_edu::reassemble", mutates_args=())
    def reassemble_op(y: torch.Tensor, kernels: torch.Tensor, kernel_size: int, scale: int, groups: int,
                      padding: str, implementation: Optional[str]) -> torch.Tensor:
        """Eager :func:`~indexnet_edu.ops.reassembly.reassemble` (arguments checked by the caller)."""
        from .reassembly import reassemble

        # contiguous, as the fake implementation promises: a compiled graph plans views on that layout
        return reassemble(y, kernels, kernel_size, scale, groups, padding, implementation).contiguous()

    @reassemble_op.register_fake
    def _(y, kernels, kernel_size, scale, groups, padding, implementation):
        return _output_like(y, kernels)

    @torch.library.custom_op("indexnet_edu::reassemble_backward", mutates_args=())
    def reassemble_backward_op(grad_out: torch.Tensor, y: torch.Tensor, kernels: torch.Tensor, kernel_size: int,
                               scale: int, groups: int, padding: str,
                               implementation: Optional[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(dL/dy, dL/dkernels) by the eager operator's own backward (padding folded back)."""
        from .reassembly import reassembly_gradients

        dtype = torch.promote_types(y.dtype, kernels.dtype)
        grad_y, grad_kernels = reassembly_gradients(grad_out.to(dtype), y.to(dtype), kernels.to(dtype), kernel_size,
                                                    scale, groups, padding, implementation)
        return grad_y.to(y.dtype).contiguous(), grad_kernels.to(kernels.dtype).contiguous()

    @reassemble_backward_op.register_fake
    def _(grad_out, y, kernels, kernel_size, scale, groups, padding, implementation):
        # Contiguous whatever the inputs' strides (an einsum's output may be permuted): the real
        # implementation returns contiguous gradients, and the graph's later views rely on it.
        return y.new_empty(y.shape), kernels.new_empty(kernels.shape)

    def _setup_context(ctx, inputs, output):
        y, kernels, *geometry = inputs
        ctx.save_for_backward(y, kernels)
        ctx.geometry = geometry

    def _backward(ctx, grad_out):
        y, kernels = ctx.saved_tensors
        grad_y, grad_kernels = reassemble_backward_op(grad_out, y, kernels, *ctx.geometry)
        return grad_y, grad_kernels, None, None, None, None, None

    reassemble_op.register_autograd(_backward, setup_context=_setup_context)

    def _no_second_derivative(ctx, grad_y, grad_kernels):
        raise RuntimeError("second derivatives through torch.ops.indexnet_edu.reassemble are not supported "
                           "(torch.compile does not differentiate a backward again); for a gradient penalty call "
                           "indexnet_edu.reassemble eagerly, whose backward is differentiable")

    reassemble_backward_op.register_autograd(_no_second_derivative, setup_context=lambda ctx, inputs, output: None)
