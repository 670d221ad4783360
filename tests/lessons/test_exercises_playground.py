"""The lesson 02/04 exercise checks accept right answers, reject wrong ones, tolerate stubs."""
import math

import pytest
import torch
import torch.nn.functional as F
from einops import rearrange

from indexnet_edu.lessons.exercises import (check_deconv_overlap, check_pixel_shuffle_by_index,
                                            check_temperature_for_weight, check_window_max_gate)


def stub(*args):
    raise NotImplementedError


def right_gate(index, stride):
    peak = F.interpolate(F.max_pool2d(index, stride), scale_factor=stride, mode="nearest")
    return torch.where(peak > 0, index / peak.clamp_min(1e-300), torch.zeros_like(index))


def right_pixel_shuffle(x, r):
    return rearrange(x, "b (c i j) h w -> b c (h i) (w j)", i=r, j=r)


def right_overlap(k, s, n):
    counts = torch.zeros((n - 1) * s + k)
    for i in range(n):
        counts[i * s:i * s + k] += 1
    return counts


@pytest.mark.parametrize("check, right, wrong", [
    (check_window_max_gate, right_gate, lambda index, stride: index * stride**2),
    (check_temperature_for_weight, lambda gap, w: gap / math.log(w / (1 - w)), lambda gap, w: gap * w),
    (check_pixel_shuffle_by_index, right_pixel_shuffle,
     lambda x, r: rearrange(x, "b (i j c) h w -> b c (h i) (w j)", i=r, j=r)),
    (check_deconv_overlap, right_overlap, lambda k, s, n: torch.full(((n - 1) * s + k,), float(k) / s)),
])
class TestChecks:
    def test_right_answer_passes(self, check, right, wrong):
        assert check(right) is True

    def test_wrong_answer_fails_with_a_hint(self, check, right, wrong):
        with pytest.raises(AssertionError, match="Hint"):
            check(wrong)

    def test_stub_is_not_attempted(self, check, right, wrong):
        assert check(stub) is False

