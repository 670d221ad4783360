"""Argument checks shared by every public entry point.

Each helper raises a ``TypeError`` or ``ValueError`` whose message names what was
expected and what came, so a user sees the mistake at the call they wrote instead of
a stack trace from deep inside PyTorch.

Conventions every entry point follows:

* numbers: any ``numbers.Integral`` / ``numbers.Real`` is accepted where a Python int / float
  is (NumPy scalars such as ``np.int64(3)`` and ``np.float32(1)`` included); ``bool`` is never
  taken for a number; NaN is refused everywhere, and ±inf unless the parameter says otherwise.
* degenerate shapes: an empty batch (B = 0) gives an empty result of the right shape; a map
  with no channels or a zero height or width is refused with a ValueError naming its shape.
"""
from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
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
    if ndim == 4 and 0 in value.shape[1:]:
        raise ValueError(f"{name} must have at least one channel and a non-empty H×W (only the batch may be "
                         f"empty), got shape {tuple(value.shape)}")
    return value


def all_finite(tensor: torch.Tensor) -> bool:
    """True when every entry is surely finite (a data-less ``meta`` tensor counts as finite).

    One reduction, no mask: any ±inf or NaN makes the sum non-finite. A sum that overflows
    reports False for finite data too — callers use this only to pick a fast path, and the
    careful path is right either way.
    """
    if tensor.device.type == "meta":
        return True
    accumulate = torch.float64 if tensor.dtype == torch.float64 else torch.float32
    return bool(torch.isfinite(tensor.sum(dtype=accumulate)))


def _int_at_least(value, name: str, minimum: int, expected: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be {expected}, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be {expected}, got {value}")
    return int(value)


def check_positive_int(value, name: str) -> int:
    """``value`` must be an int >= 1 (bools are refused)."""
    return _int_at_least(value, name, 1, "a positive int")


def check_nonnegative_int(value, name: str) -> int:
    """``value`` must be an int >= 0 (a seed, a count that may be zero); bools are refused."""
    return _int_at_least(value, name, 0, "an int >= 0")


#: Seeds must fit NumPy's legacy seeding (``np.random.seed``), which training calls: 0 ≤ seed < 2³².
MAX_SEED = 2**32 - 1


def check_seed(value, name: str = "seed") -> int:
    """``value`` must be an int in [0, 2³² − 1] (what ``np.random.seed`` accepts); bools refused."""
    seed = _int_at_least(value, name, 0, f"an int in [0, {MAX_SEED}]")
    if seed > MAX_SEED:
        raise ValueError(f"{name} must be an int in [0, {MAX_SEED}] (NumPy's seed range), got {seed}")
    return seed


def check_flag(value, name: str) -> bool:
    """``value`` must be a bool (NumPy's too): a string such as ``"no"`` is not silently true."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def check_odd_kernel(value, name: str = "kernel_size") -> int:
    """``value`` must be a positive odd int (a kernel with a centre)."""
    value = check_positive_int(value, name)
    if value % 2 == 0:
        raise ValueError(f"{name} must be odd so the kernel has a centre, got {value}")
    return value


def _real(value, name: str, expected: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be {expected}, got {type(value).__name__} {value!r}")
    number = float(value)
    if math.isnan(number):
        raise ValueError(f"{name} must be {expected}, got nan")
    return number


def check_positive_real(value, name: str, allow_inf: bool = True) -> float:
    """``value`` must be a real number > 0; ``inf`` only with ``allow_inf`` (a limit some
    recipes accept, e.g. an infinite softmax temperature); NaN never."""
    number = _real(value, name, "a positive number")
    if not number > 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    if not allow_inf and math.isinf(number):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return number


def check_finite_real(value, name: str, minimum: float | None = None) -> float:
    """``value`` must be a finite real number (>= ``minimum`` if given)."""
    number = _real(value, name, "a finite number")
    if math.isinf(number):
        raise ValueError(f"{name} must be a finite number, got {value}")
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return number


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


def check_guide(encoder: torch.Tensor, decoder: torch.Tensor, channels: int, scale: int, owner: str) -> None:
    """The encoder feature must be B×C×(s·h)×(s·w) for a decoder feature B×C×h×w.

    Raises TypeError/ValueError naming both shapes (shared by FADE and SAPA).
    """
    check_tensor(decoder, "decoder feature", ndim=4)
    check_channels(decoder, channels, owner)
    if encoder is None:
        raise ValueError(f"{owner} needs the encoder feature kept by down(x); got state=None")
    check_tensor(encoder, "encoder feature", ndim=4)
    batch, _, height, width = decoder.shape
    expected = (batch, channels, scale * height, scale * width)
    if tuple(encoder.shape) != expected:
        raise ValueError(f"{owner}: the encoder feature must be {'×'.join(map(str, expected))} (s={scale} times the "
                         f"decoder's {height}×{width}), got {'×'.join(map(str, encoder.shape))}")
