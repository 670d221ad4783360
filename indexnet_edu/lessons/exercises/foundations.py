"""Checks for the exercises of lessons 00 (start here), 01 (upsampling is indexing) and 03
(index networks): indices, pooling and unpooling by index, the index blocks.

Each ``check_…(your_function)`` calls your function on random inputs (float64, several
shapes and strides) and compares it with the package's own operators (the contract of
:mod:`indexnet_edu.lessons.exercises.core`). No answers are printed: the checks only compare.
"""
from __future__ import annotations

import math
from numbers import Real
from typing import Callable

import torch
import torch.nn.functional as F

from ...bench.cost import count_parameters
from ...upsamplers.index_blocks import DepthwiseIndexBlock, HolisticIndexBlock, normalise_index
from ...ops.indexing import indexed_pool
from ...ops.reassembly import reassemble
from ...ops.recipes import max_index, softmax_index
from .core import _POOL_CASES, _call, _compare_tensors, _random, _run_check, show

# --- Lesson 00: start here -------------------------------------------------------------------


def check_average_index(your_average_index: Callable) -> bool:
    """Exercise 00-1: ``your_average_index(x, stride)`` returns a holistic index (B×1×H×W) for
    which ``indexed_pool(x, index, stride)`` equals ``F.avg_pool2d(x, stride)``."""
    hint = ("average pooling gives every pixel of an s×s window the same weight, and the weights of a "
            "window sum to 1. One map (1 channel) serves all channels.")

    def cases():
        for number, (shape, stride) in enumerate(_POOL_CASES):
            x = _random(shape, seed=50 + number)
            case = f"x of shape {shape}, stride {stride}"
            index = _call(your_average_index, x, stride, case=case)
            if isinstance(index, torch.Tensor) and index.shape != (shape[0], 1, shape[2], shape[3]):
                raise AssertionError(f"{case}: expected a holistic index of shape "
                                     f"{(shape[0], 1, shape[2], shape[3])}, got {tuple(index.shape)}. Hint: {hint}")
            _compare_tensors(index, torch.full((shape[0], 1, shape[2], shape[3]), 1.0 / stride**2, dtype=x.dtype),
                             case + " (the index)", hint)

    return _run_check("check_average_index", cases)


# --- Lesson 01: upsampling is indexing -------------------------------------------------------


def check_min_pool_index(your_min_index: Callable) -> bool:
    """Exercise 01-1: ``your_min_index(x, stride)`` returns an index (B×C×H×W) for which
    ``indexed_pool(x, index, stride)`` equals min pooling, ``-F.max_pool2d(-x, stride)``."""
    hint = ("min pooling keeps the smallest value of each window: the index is one-hot there and 0 "
            "elsewhere, one map per channel. Think about what max_index would do with -x.")

    def cases():
        for number, (shape, stride) in enumerate(_POOL_CASES):
            x = _random(shape, seed=number)
            case = f"x of shape {shape}, stride {stride}"
            index = _call(your_min_index, x, stride, case=case)
            _compare_tensors(index, max_index(-x, stride), case + " (the index)", hint)
            _compare_tensors(indexed_pool(x, index, stride), -F.max_pool2d(-x, stride),
                             case + " (indexed_pool with your index)", hint)

    return _run_check("check_min_pool_index", cases)


def check_nearest_as_reassembly(your_nearest_kernels: Callable) -> bool:
    """Exercise 01-2: ``your_nearest_kernels(h, w, scale)`` returns 3×3 reassembly kernels
    (1×9×(s·h)×(s·w)) that make ``reassemble(y, kernels, 3, scale)`` nearest-neighbour upsampling."""
    hint = ("each output pixel should copy its own low-resolution pixel, the centre of the 3×3 "
            "neighbourhood. Kernel channel dy·3 + dx holds the weight of offset (dy-1, dx-1).")

    def cases():
        for number, (h, w, scale) in enumerate([(2, 2, 2), (3, 5, 2), (4, 3, 4)]):
            case = f"h={h}, w={w}, scale={scale}"
            kernels = _call(your_nearest_kernels, h, w, scale, case=case)
            if not isinstance(kernels, torch.Tensor) or kernels.shape != (1, 9, scale * h, scale * w):
                shape = tuple(kernels.shape) if isinstance(kernels, torch.Tensor) else type(kernels).__name__
                raise AssertionError(f"{case}: expected kernels of shape (1, 9, {scale * h}, {scale * w}), "
                                     f"got {shape}. Hint: {hint}")
            y = _random((2, 3, h, w), seed=10 + number)
            out = reassemble(y, kernels.to(y.dtype).expand(2, -1, -1, -1), 3, scale=scale)
            _compare_tensors(out, F.interpolate(y, scale_factor=scale, mode="nearest"),
                             case + " (reassemble with your kernels)", hint)

    return _run_check("check_nearest_as_reassembly", cases)


def check_softmax_pool(your_softmax_pool: Callable) -> bool:
    """Exercise 01-3: ``your_softmax_pool(x, stride, temperature)`` returns the B×C×(H/s)×(W/s)
    softmax pooling: each window's values weighted by ``softmax(values / T)`` and summed."""
    hint = ("inside each stride×stride window, weights = softmax(window / T) over the s² values, "
            "output = Σ weight · value. einops.rearrange(x, 'b c (h s1) (w s2) -> b c h w (s1 s2)') "
            "puts each window on the last axis.")

    def cases():
        for number, ((shape, stride), temperature) in enumerate(zip(_POOL_CASES, [1.0, 0.1, 5.0, 0.5])):
            x = _random(shape, seed=20 + number)
            case = f"x of shape {shape}, stride {stride}, temperature {temperature}"
            got = _call(your_softmax_pool, x, stride, temperature, case=case)
            _compare_tensors(got, indexed_pool(x, softmax_index(x, stride, temperature), stride), case, hint)

    return _run_check("check_softmax_pool", cases)


def check_max_unpool(your_max_unpool: Callable) -> bool:
    """Exercise 01-4: ``your_max_unpool(x, stride)`` max-pools x and unpools the result with the
    argmax index (B×C×H×W in, B×C×H×W out); compared with ``F.max_unpool2d``."""
    hint = ("pool with a one-hot index at each window's maximum, then indexed_upsample the pooled map "
            "with the same index: the maximum goes back where it came from, zeros elsewhere.")

    def cases():
        for number, (shape, stride) in enumerate(_POOL_CASES):
            x = _random(shape, seed=30 + number)
            case = f"x of shape {shape}, stride {stride}"
            pooled, positions = F.max_pool2d(x, stride, return_indices=True)
            expected = F.max_unpool2d(pooled, positions, stride, output_size=x.shape[-2:])
            _compare_tensors(_call(your_max_unpool, x, stride, case=case), expected, case, hint)

    return _run_check("check_max_unpool", cases)


# --- Lesson 03: index networks ---------------------------------------------------------------


def check_index_block_parameter_count(your_count: Callable) -> bool:
    """Exercise 03-1: ``your_count(kind, channels, context)`` gives the parameters of a linear
    index block at stride 2 (kind "hin", "o2o" or "m2o"), compared with the real blocks."""
    hint = ("one bias-free conv per block (HIN: C→4 channels) or per branch (DIN: 4 branches, C→C; "
            "O2O uses groups=C). A conv has out·(in/groups)·k·k weights; k = 2, or 4 with context.")

    def build(kind, channels, context):
        if kind == "hin":
            return HolisticIndexBlock(channels, 2, context=context)
        return DepthwiseIndexBlock(channels, 2, mode=kind, context=context)

    def cases():
        for kind in ("hin", "o2o", "m2o"):
            for channels in (1, 3, 16, 40):
                for context in (False, True):
                    case = f"kind={kind!r}, channels={channels}, context={context}"
                    got = _call(your_count, kind, channels, context, case=case)
                    expected = count_parameters(build(kind, channels, context))
                    if got != expected:
                        raise AssertionError(f"{case}: expected {expected} parameters, got {got!r}. Hint: {hint}")

    return _run_check("check_index_block_parameter_count", cases)


def check_index_normalisation(your_normalise: Callable) -> bool:
    """Exercise 03-2: ``your_normalise(logits, stride)`` turns B×C×s²×h×w logits into the
    official ``(encoder_index, decoder_index)``, each B×C×(h·s)×(w·s)."""
    hint = ("dec = sigmoid(z); enc = softmax(dec) over the s² axis (dim 2) — softmax of the *sigmoid*, "
            "not of z. Then place sub-position k at row k // s, column k % s of its window: "
            "rearrange(t, 'b c (s1 s2) h w -> b c (h s1) (w s2)').")

    def cases():
        for number, (shape, stride) in enumerate([((1, 1, 4, 2, 3), 2), ((2, 3, 4, 3, 3), 2),
                                                  ((1, 2, 16, 2, 2), 4)]):
            logits = 3 * _random(shape, seed=40 + number)
            case = f"logits of shape {shape}, stride {stride}"
            got = _call(your_normalise, logits, stride, case=case)
            if not isinstance(got, tuple) or len(got) != 2:
                raise AssertionError(f"{case}: expected a pair (encoder_index, decoder_index), "
                                     f"got {type(got).__name__}. Hint: return enc, dec")
            enc, dec = normalise_index(logits, stride)
            _compare_tensors(got[0], enc, case + " (encoder index)", hint)
            _compare_tensors(got[1], dec, case + " (decoder index)", hint)

    return _run_check("check_index_normalisation", cases)


def check_encoder_index_bounds(your_bounds: Callable) -> bool:
    """Exercise 03-3: ``your_bounds(stride)`` returns ``(low, high)``, the exact range of an
    encoder index weight ``softmax(sigmoid(z))`` over s² sub-positions (open interval ends)."""
    hint = ("sigmoid values lie in (0, 1). A weight is largest when its own sigmoid is 1 and the "
            "other s²-1 are 0: e / (e + s² - 1); smallest in the opposite situation.")

    def cases():
        for stride in (2, 3, 4):
            case = f"stride {stride}"
            got = _call(your_bounds, stride, case=case)
            n = stride**2
            expected = (1 / (1 + (n - 1) * math.e), math.e / (math.e + n - 1))
            if (not isinstance(got, (tuple, list)) or len(got) != 2
                    or not all((isinstance(v, Real) and not isinstance(v, bool))
                               or (isinstance(v, torch.Tensor) and v.numel() == 1)
                               for v in got)):
                raise AssertionError(f"{case}: expected a pair of numbers (low, high), got {got!r}. Hint: {hint}")
            low, high = (float(v) for v in got)
            if not (math.isclose(low, expected[0], rel_tol=1e-6) and math.isclose(high, expected[1], rel_tol=1e-6)):
                raise AssertionError(f"{case}: expected (low, high) ≈ ({show(expected[0])}, {show(expected[1])}) "
                                     f"within a relative 1e-6, got ({show(low)}, {show(high)}). Hint: {hint}")

    return _run_check("check_encoder_index_bounds", cases)

