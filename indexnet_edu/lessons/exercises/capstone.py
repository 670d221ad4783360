"""Checks for the exercises of lesson 10 (bring your own upsampler).

Same contract as :mod:`indexnet_edu.lessons.exercises.core`, except that the exercise is a
class: ``check_gated_bilinear(YourClass)`` builds it, compares its forward with the formula on a
few sizes, then runs the suite's upsampler contract
(:func:`~indexnet_edu.upsamplers.custom.check_upsampler`) on it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ...upsamplers.custom import UpsamplerContractError, check_upsampler
from .core import NotAttempted, _call, _compare_tensors, _random, _run_check


def gated_bilinear_reference(module, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """out = g·x + (1 − g)·bilinear↑(y) with g = σ(module.gate(x)), B×1×(s·h)×(s·w): the formula the
    exercise asks for, computed from ``module``'s own gate."""
    up = F.interpolate(y, scale_factor=module.stride, mode="bilinear", align_corners=False)
    gate = torch.sigmoid(module.gate(x))
    return gate * x + (1 - gate) * up


def check_gated_bilinear(your_class) -> bool:
    """``your_class(channels, stride)``: a module whose ``forward(y, x)`` returns
    g·x + (1 − g)·bilinear↑(y), with g = σ(self.gate(x)) one gate per high-resolution pixel."""

    def cases():
        for batch, channels, stride, height, width, seed in [(1, 4, 2, 3, 5, 0), (2, 3, 3, 2, 2, 1),
                                                             (1, 1, 2, 4, 4, 2)]:
            case = f"channels {channels}, stride {stride}, y {batch}×{channels}×{height}×{width}"
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                module = _call(your_class, channels, stride, case=case)
            if not hasattr(module, "gate") or not isinstance(module.gate, torch.nn.Conv2d):
                raise AssertionError(f"{case}: keep the stub's `self.gate = nn.Conv2d(channels, 1, kernel_size=1)`")
            module = module.double()
            with torch.no_grad():  # a gate far from 1/2 everywhere, so that mixing x and y the wrong way shows
                module.gate.weight.copy_(_random(module.gate.weight.shape, seed + 20))
            y = _random((batch, channels, height, width), seed)
            x = _random((batch, channels, stride * height, stride * width), seed + 10)
            with torch.no_grad():
                got = _call(module, y.clone(), x.clone(), case=case)
                expected = gated_bilinear_reference(module, y, x)
            _compare_tensors(got, expected, case,
                             "F.interpolate(y, scale_factor=self.stride, mode='bilinear', align_corners=False), "
                             "g = torch.sigmoid(self.gate(x)) (B×1×H×W: it broadcasts over the channels), "
                             "then g * x + (1 - g) * upsampled.")
        try:
            check_upsampler(your_class)
        except UpsamplerContractError as error:
            raise AssertionError(f"the formula is right, but the suite's contract says: {error}") from error

    return _run_check("check_gated_bilinear", cases)


__all__ = ["NotAttempted", "check_gated_bilinear", "gated_bilinear_reference"]
