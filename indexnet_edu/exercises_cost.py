"""Checked exercises for lesson 08, "The cost of upsampling".

Each ``check_…`` takes your function, tries it on several cases, prints a line when it is
right and raises ``AssertionError`` with a hint when it is not.
"""
from __future__ import annotations

import torch

from .cost import naive_reassembly_values, reassembly_flops
from .reassembly import reassemble

_SHAPES = [(1, 1, 1, 1, 1), (3, 4, 5, 3, 2), (256, 64, 64, 5, 2), (16, 7, 9, 5, 4), (8, 2, 3, 1, 3)]


def _call(fn, *args):
    if not callable(fn):
        raise TypeError(f"pass your function itself (not its result), got {type(fn).__name__}")
    return fn(*args)


def check_naive_values(fn) -> bool:
    """``fn(channels, height, width, kernel_size, scale)`` → values the naive formulation stores."""
    for shape in _SHAPES:
        got, want = _call(fn, *shape), naive_reassembly_values(*shape)
        assert got == want, (
            f"for C, h, w, k, s = {shape} you returned {got}, expected {want}. Hint: every one of the "
            "s²·h·w output pixels gets its own copy of a k×k neighbourhood, for each of the C channels.")
    print("✓ check_naive_values: the upsampled patch tensor has C·k²·s²·h·w values")
    return True


def check_reassembly_flops(fn) -> bool:
    """``fn(channels, height, width, kernel_size, scale)`` → FLOPs of one reassembly."""
    for shape in _SHAPES:
        got, want = _call(fn, *shape), reassembly_flops(*shape)
        assert got == want, (
            f"for C, h, w, k, s = {shape} you returned {got}, expected {want}. Hint: each output value "
            "is a sum of k² products, and a multiply-add counts as 2 FLOPs.")
    print("✓ check_reassembly_flops: 2·C·k²·s²·h·w")
    return True


def check_offset_loop(fn) -> bool:
    """``fn(y, kernels, kernel_size, scale)`` → reassembly with zeros padding and one group,
    written as a loop over the k² offsets that never builds the C·k²·s²·h·w tensor."""
    generator = torch.Generator().manual_seed(0)
    for batch, channels, height, width, k, s in [(1, 2, 3, 4, 3, 2), (2, 3, 4, 4, 5, 2), (1, 1, 2, 3, 1, 3)]:
        y = torch.randn(batch, channels, height, width, generator=generator, dtype=torch.float64)
        kernels = torch.rand(batch, k * k, s * height, s * width, generator=generator, dtype=torch.float64)
        got = _call(fn, y, kernels, k, s)
        want = reassemble(y, kernels, k, s)
        assert isinstance(got, torch.Tensor) and got.shape == want.shape, (
            f"expected a tensor of shape {tuple(want.shape)}, got "
            f"{tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__}")
        assert torch.allclose(got, want, atol=1e-10), (
            f"values differ (max error {float((got - want).abs().max()):.3g}) for k={k}, s={s}. Hint: "
            "pad y by k//2 with zeros; offset (dy, dx) uses kernel channel dy·k + dx and the window "
            "padded[..., dy:dy+h, dx:dx+w], nearest-upsampled by s.")
    print("✓ check_offset_loop: your loop matches reassemble")
    return True
