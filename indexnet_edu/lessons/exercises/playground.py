"""Checks for the exercises of lessons 02 (index playground) and 04 (IndexNet vs CARAFE).

Same contract as :mod:`indexnet_edu.lessons.exercises.core`: ``check_…(your_function)`` returns True when
every case agrees, raises ``AssertionError`` with the case, expected, got and a hint when
not, and returns False (with a reminder) while your function still raises
``NotImplementedError``.
"""
from __future__ import annotations

import math
from numbers import Real
from typing import Callable

import torch
import torch.nn.functional as F

from .core import _call, _compare_tensors, _random, _run_check, show
from ...ops.recipes import softmax_index
from ...widgets.pooling import window_max_gate

# --- Lesson 02: the index playground ----------------------------------------------------------


def check_window_max_gate(your_gate: Callable) -> bool:
    """``your_gate(index, stride)``: B×C×H×W pooling index → decoder gate, each window divided
    by its largest entry (an all-zero window stays zero)."""

    def cases():
        for shape, stride, seed in [((1, 1, 4, 4), 2, 0), ((2, 3, 8, 12), 4, 1), ((1, 2, 6, 6), 3, 2)]:
            index = softmax_index(_random(shape, seed), stride, temperature=0.7)
            index[..., :stride, :stride] = 0.0  # one all-zero window per map
            got = _call(your_gate, index.clone(), stride, case=f"shape {shape}, stride {stride}")
            _compare_tensors(got, window_max_gate(index, stride), f"shape {shape}, stride {stride}",
                             "reduce each window with max (einops.reduce or F.max_pool2d), bring it back "
                             "to full size (repeat / F.interpolate nearest), divide where it is > 0.")

    return _run_check("check_window_max_gate", cases)


def check_temperature_for_weight(your_temperature: Callable) -> bool:
    """``your_temperature(gap, weight)``: the softmax temperature T at which, in a window of
    two values ``gap`` apart, the larger one gets index weight ``weight`` (0.5 < weight < 1)."""

    def cases():
        for gap, weight in [(0.1, 0.9), (0.5, 0.99), (1 / 255, 0.75), (2.0, 0.6)]:
            case = f"gap {gap:.4g}, weight {weight}"
            got = _call(your_temperature, gap, weight, case=case)
            if not isinstance(got, Real) or isinstance(got, bool):  # NumPy floats are floats too
                raise AssertionError(f"{case}: expected a float temperature, got {type(got).__name__}")
            reached = 1 / (1 + math.exp(-gap / float(got))) if got > 0 else math.nan
            expected = gap / math.log(weight / (1 - weight))
            if not math.isclose(float(got), expected, rel_tol=1e-6):
                raise AssertionError(
                    f"{case}: expected T = {show(expected)}, got {show(got)} (the larger value's weight at your "
                    f"T is {show(reached)}). Hint: with two values the softmax weight is 1 / (1 + exp(-gap / T)); "
                    "solve it for T.")

    return _run_check("check_temperature_for_weight", cases)


# --- Lesson 04: IndexNet vs CARAFE --------------------------------------------------------------


def check_pixel_shuffle_by_index(your_pixel_shuffle: Callable) -> bool:
    """``your_pixel_shuffle(x, r)``: B×(C·r²)×h×w → B×C×(r·h)×(r·w), equal to ``F.pixel_shuffle``."""

    def cases():
        for shape, r, seed in [((1, 4, 2, 3), 2, 0), ((2, 18, 3, 3), 3, 1), ((1, 32, 2, 2), 4, 2)]:
            x = _random(shape, seed)
            got = _call(your_pixel_shuffle, x.clone(), r, case=f"shape {shape}, r {r}")
            _compare_tensors(got, F.pixel_shuffle(x, r), f"shape {shape}, r {r}",
                             "out[c, h·r+i, w·r+j] = in[c·r²+i·r+j, h, w]: with einops, "
                             "'b (c i j) h w -> b c (h i) (w j)'.")

    return _run_check("check_pixel_shuffle_by_index", cases)


def check_deconv_overlap(your_overlap: Callable) -> bool:
    """``your_overlap(kernel_size, stride, length)``: for a 1-D transposed convolution of
    ``length`` inputs (no padding), how many kernel taps land on each of the
    ``(length − 1)·stride + kernel_size`` outputs (a 1-D int tensor)."""

    def cases():
        for k, s, n in [(3, 2, 5), (4, 2, 6), (3, 1, 4), (5, 3, 4), (2, 2, 3)]:
            expected = F.conv_transpose1d(torch.ones(1, 1, n, dtype=torch.float64),
                                          torch.ones(1, 1, k, dtype=torch.float64), stride=s)[0, 0]
            got = _call(your_overlap, k, s, n, case=f"kernel {k}, stride {s}, length {n}")
            if isinstance(got, torch.Tensor):
                got = got.to(torch.float64)
            _compare_tensors(got, expected, f"kernel {k}, stride {s}, length {n}",
                             "input i writes its k taps to outputs i·s … i·s + k − 1; count the writes "
                             "per output (or run conv_transpose1d on ones).")

    return _run_check("check_deconv_overlap", cases)

