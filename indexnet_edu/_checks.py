"""Argument checks shared by every public entry point.

Each helper raises a ``TypeError`` or ``ValueError`` whose message names what was
expected and what came, so a user sees the mistake at the call they wrote instead of
a stack trace from deep inside PyTorch.
"""
from __future__ import annotations

from numbers import Integral, Real

import torch


def check_tensor(value, name: str, ndim: int | None = None, floating: bool = True) -> torch.Tensor:
    """``value`` must be a tensor (of rank ``ndim``; of floating dtype if ``floating``)."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if ndim is not None and value.dim() != ndim:
        layout = {4: "B×C×H×W"}.get(ndim, f"{ndim}-D")
        raise ValueError(
            f"{name} must be a {ndim}-D tensor ({layout}), got {value.dim()}-D with shape {tuple(value.shape)}"
        )
    if floating and not value.is_floating_point():
        raise TypeError(f"{name} must have a floating-point dtype, got {value.dtype}")
    return value


def check_positive_int(value, name: str) -> int:
    """``value`` must be an int >= 1 (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be a positive int, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value}")
    return int(value)


def check_odd_kernel(value, name: str = "kernel_size") -> int:
    """``value`` must be a positive odd int (a kernel with a centre)."""
    value = check_positive_int(value, name)
    if value % 2 == 0:
        raise ValueError(f"{name} must be odd so the kernel has a centre, got {value}")
    return value


def check_positive_real(value, name: str) -> float:
    """``value`` must be a real number > 0 (``inf`` is allowed: a limit some recipes accept)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a positive number, got {type(value).__name__} {value!r}")
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return float(value)


def check_choice(value, name: str, choices) -> str:
    """``value`` must be one of ``choices``; the message quotes what came."""
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value


def check_divisible(x: torch.Tensor, stride: int, name: str = "x") -> None:
    """H and W of a B×C×H×W tensor must be multiples of ``stride``."""
    height, width = x.shape[-2:]
    if height % stride or width % stride:
        raise ValueError(
            f"{name} height and width must be divisible by stride={stride}, got H×W = {height}×{width}"
        )


def check_index_shape(index: torch.Tensor, feature: torch.Tensor, height: int, width: int,
                      name: str = "index") -> None:
    """An index is holistic (B×1×H×W) or depthwise (B×C×H×W) for a B×C feature."""
    batch, channels = feature.shape[:2]
    expected = [(batch, 1, height, width), (batch, channels, height, width)]
    if tuple(index.shape) not in expected:
        raise ValueError(
            f"{name} must have shape {batch}×1×{height}×{width} (holistic) or "
            f"{batch}×{channels}×{height}×{width} (depthwise), got {'×'.join(map(str, index.shape))}"
        )


def check_channels(x: torch.Tensor, expected: int, owner: str) -> None:
    """A module built for ``expected`` channels must be fed exactly that many."""
    if x.shape[1] != expected:
        raise ValueError(f"{owner} was built for {expected} input channels, got {x.shape[1]} "
                         f"(input shape {tuple(x.shape)})")
