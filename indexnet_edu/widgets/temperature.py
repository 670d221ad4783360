"""The temperature continuum: softmax pooling slides from max pooling (T→0) to average (T→∞).

For each temperature T the image is pooled with the softmax index ``softmax(x/T)`` per
window and unpooled with its window-max gate (see :mod:`.pooling`); the reconstruction
error traces a curve whose two ends are the errors of max pooling + max-unpooling and of
average pooling + nearest upsampling.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from einops import rearrange

from .._checks import check_positive_int, check_positive_real
from .pooling import check_image, explore_pooling

TEMPERATURE_RANGE = (1e-4, 1e2)


@dataclass(frozen=True)
class TemperatureCurve:
    """Mean absolute reconstruction error per temperature, with the two asymptotes."""

    temperatures: np.ndarray
    errors: np.ndarray
    max_error: float
    average_error: float


def temperature_grid(points: int = 25, low: float = TEMPERATURE_RANGE[0], high: float = TEMPERATURE_RANGE[1]) -> np.ndarray:
    """``points`` temperatures spaced evenly in log10 between ``low`` and ``high``."""
    points = check_positive_int(points, "points")
    low = check_positive_real(low, "low", allow_inf=False)
    high = check_positive_real(high, "high", allow_inf=False)
    if not low < high:
        raise ValueError(f"temperatures need 0 < low < high, got low={low}, high={high}")
    return np.logspace(np.log10(low), np.log10(high), points)


def softmax_reconstruction_errors(image: torch.Tensor, stride: int, temperatures: np.ndarray,
                                  chunk: int = 5) -> np.ndarray:
    """Mean |unpooled − image| of softmax pooling at many temperatures at once.

    Per window, with m = max(x): the index is softmax(x/T), the pooled value
    v = Σ softmax(x/T)·x, and the window-max gate is softmax/max(softmax) = exp((x − m)/T),
    so the reconstruction is exp((x − m)/T)·v. Same numbers as :func:`explore_pooling`,
    ``chunk`` temperatures per batched step.
    """
    # Sub-positions lead (s²×N) so the per-window sums are s² contiguous vector adds.
    windows = rearrange(image, "b c (h s1) (w s2) -> (s1 s2) (b c h w)", s1=stride, s2=stride).contiguous()
    shifted = windows - windows.amax(dim=0, keepdim=True)  # ≤ 0, 0 at the maximum
    errors = []
    for start in range(0, len(temperatures), chunk):
        inverse = torch.as_tensor(1.0 / temperatures[start:start + chunk], dtype=image.dtype).view(-1, 1, 1)
        gate = torch.exp(shifted * inverse)  # T×s²×N
        pooled = (gate * windows).sum(1, keepdim=True) / gate.sum(1, keepdim=True)
        errors.append(gate.mul_(pooled).sub_(windows).abs_().mean(dim=(1, 2)))
    return torch.cat(errors).double().numpy()


def temperature_curve(image: torch.Tensor, stride: int = 2, temperatures=None) -> TemperatureCurve:
    """Reconstruction error of softmax pooling at each temperature (default :func:`temperature_grid`)."""
    stride = check_positive_int(stride, "stride")
    check_image(image, stride)
    if temperatures is None:
        temperatures = temperature_grid()
    else:
        given = np.asarray(temperatures)
        if given.ndim != 1 or given.size == 0 or given.dtype.kind not in "iuf":  # complex, bool, text: refused
            raise ValueError(f"temperatures must be a non-empty 1-D sequence of positive numbers, got {temperatures!r}")
        temperatures = given.astype(np.float64)
        if not (temperatures > 0).all():
            raise ValueError(f"temperatures must be a non-empty 1-D sequence of positive numbers, got {temperatures!r}")
    errors = softmax_reconstruction_errors(image, stride, temperatures)
    return TemperatureCurve(temperatures, errors,
                            explore_pooling(image, stride, "max").mean_abs_error,
                            explore_pooling(image, stride, "average").mean_abs_error)
