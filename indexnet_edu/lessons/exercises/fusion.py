"""Checks for the exercises of lesson 09 (fusing encoder and decoder: A2U, FADE, SAPA).

Same contract as :mod:`indexnet_edu.lessons.exercises.core`: ``check_…(your_function)`` returns True when
every case agrees, raises ``AssertionError`` with the case, expected, got and a hint when not,
and returns False (with a reminder) while your function still raises ``NotImplementedError``.
"""
from __future__ import annotations

import math
from numbers import Real
from typing import Callable

import torch

from .core import _call, _compare_tensors, _random, _run_check, show
from ...upsamplers.sapa import SAPA


def check_sapa_inner_kernels(your_kernels: Callable) -> bool:
    """``your_kernels(encoder, decoder, k)``: SAPA-I's kernels, B×k²×(s·h)×(s·w) — the softmax over
    the k×k decoder neighbours of ⌊p/s⌋ of the inner product of the layer-normalised (no affine)
    encoder point and each neighbour; a neighbour outside the map has similarity 0."""

    def cases():
        for batch, channels, size, scale, k, seed in [(1, 4, 3, 2, 3, 0), (2, 6, 4, 2, 5, 1), (1, 3, 3, 3, 3, 2)]:
            encoder = _random((batch, channels, scale * size, scale * size), seed)
            decoder = _random((batch, channels, size, size), seed + 10)
            case = f"encoder {tuple(encoder.shape)}, decoder {tuple(decoder.shape)}, k {k}"
            got = _call(your_kernels, encoder.clone(), decoder.clone(), k, case=case)
            with torch.no_grad():
                expected = SAPA(channels, scale, k, similarity="inner").double().kernels(encoder, decoder)
            _compare_tensors(got, expected, case,
                             "F.layer_norm over the channels (permute them last), the neighbours with "
                             "F.unfold(decoder, k, padding=k // 2), each output pixel p paired with the "
                             "neighbourhood of ⌊p/s⌋ (repeat_interleave by s), then softmax over the k² axis.")

    return _run_check("check_sapa_inner_kernels", cases)


def check_a2u_kernel_cap(your_cap: Callable) -> bool:
    """``your_cap(k)``: the largest weight a k×k A2U upsampling kernel can give one entry —
    A2U applies a sigmoid to each logit and then a softmax over the k² entries."""

    def cases():
        for k in (3, 5, 7):
            got = _call(your_cap, k, case=f"k {k}")
            if not isinstance(got, Real) or isinstance(got, bool):
                raise AssertionError(f"k {k}: expected a float, got {type(got).__name__}")
            expected = math.e / (math.e + k * k - 1)
            if not math.isclose(float(got), expected, rel_tol=1e-9):
                raise AssertionError(
                    f"k {k}: expected {show(expected)}, got {show(got)}. Hint: a sigmoid lies in (0, 1); the "
                    "softmax is largest for one entry when its input is as large as possible and all the "
                    "others as small as possible.")

    return _run_check("check_a2u_kernel_cap", cases)
