"""Checked exercises for lesson 08, "The cost of upsampling".

Each ``check_…`` takes your function, tries it on several cases, prints a line when it is
right and raises ``AssertionError`` with a hint when it is not (the shared machinery of
:mod:`indexnet_edu.lessons.exercises.core`: a stub still raising ``NotImplementedError`` is "not attempted").
"""
from __future__ import annotations

import torch

from ...bench.cost import naive_reassembly_values, reassembly_flops
from .core import _call, _compare_tensors, _run_check
from ...ops.reassembly import reassemble

_SHAPES = [(1, 1, 1, 1, 1), (3, 4, 5, 3, 2), (256, 64, 64, 5, 2), (16, 7, 9, 5, 4), (8, 2, 3, 1, 3)]


def _check_count(name: str, fn, reference, hint: str) -> bool:
    """``fn(channels, height, width, kernel_size, scale)`` must equal ``reference`` on every shape."""
    def cases():
        for shape in _SHAPES:
            case = f"for C, h, w, k, s = {shape}"
            got, want = _call(fn, *shape, case=case), reference(*shape)
            assert got == want, f"{case} you returned {got}, expected {want}. Hint: {hint}"
    return _run_check(name, cases)


def check_naive_values(fn) -> bool:
    """``fn(channels, height, width, kernel_size, scale)`` → values the naive formulation stores."""
    return _check_count("check_naive_values", fn, naive_reassembly_values,
                        "every one of the s²·h·w output pixels gets its own copy of a k×k neighbourhood, "
                        "for each of the C channels.")


def check_reassembly_flops(fn) -> bool:
    """``fn(channels, height, width, kernel_size, scale)`` → FLOPs of one reassembly."""
    return _check_count("check_reassembly_flops", fn, reassembly_flops,
                        "each output value is a sum of k² products, and a multiply-add counts as 2 FLOPs.")


def check_offset_loop(fn) -> bool:
    """``fn(y, kernels, kernel_size, scale)`` → reassembly with zeros padding and one group,
    written as a loop over the k² offsets that never builds the C·k²·s²·h·w tensor."""
    hint = ("pad y by k//2 with zeros; offset (dy, dx) uses kernel channel dy·k + dx and the window "
            "padded[..., dy:dy+h, dx:dx+w], nearest-upsampled by s.")

    def cases():
        generator = torch.Generator().manual_seed(0)
        for batch, channels, height, width, k, s in [(1, 2, 3, 4, 3, 2), (2, 3, 4, 4, 5, 2), (1, 1, 2, 3, 1, 3)]:
            y = torch.randn(batch, channels, height, width, generator=generator, dtype=torch.float64)
            kernels = torch.rand(batch, k * k, s * height, s * width, generator=generator, dtype=torch.float64)
            case = f"y of shape {tuple(y.shape)}, k={k}, s={s}"
            _compare_tensors(_call(fn, y, kernels, k, s, case=case), reassemble(y, kernels, k, s), case, hint,
                             atol=1e-10)
    return _run_check("check_offset_loop", cases)
