"""The lesson-08 checkers accept right answers and reject wrong ones with a hint."""
import pytest
import torch
import torch.nn.functional as F

from indexnet_edu.lessons.exercises import check_naive_values, check_offset_loop, check_reassembly_flops
from indexnet_edu.lessons.exercises.solutions import offset_loop


def test_naive_values_checker_accepts_the_formula():
    assert check_naive_values(lambda c, h, w, k, s: c * k * k * s * s * h * w)


def test_naive_values_checker_rejects_low_resolution_count_with_a_hint():
    with pytest.raises(AssertionError, match="s²·h·w output pixels"):
        check_naive_values(lambda c, h, w, k, s: c * k * k * h * w)


def test_flops_checker_accepts_the_formula():
    assert check_reassembly_flops(lambda c, h, w, k, s: 2 * c * k * k * s * s * h * w)


def test_flops_checker_rejects_multiply_adds_counted_once():
    with pytest.raises(AssertionError, match="counts as 2"):
        check_reassembly_flops(lambda c, h, w, k, s: c * k * k * s * s * h * w)


def test_offset_loop_checker_accepts_a_correct_loop():
    assert check_offset_loop(offset_loop)


def test_offset_loop_checker_rejects_a_transposed_kernel_order():
    def transposed(y, kernels, k, s):
        swapped = kernels.view(kernels.shape[0], k, k, *kernels.shape[2:]).transpose(1, 2).reshape(kernels.shape)
        return offset_loop(y, swapped, k, s)

    with pytest.raises(AssertionError, match="dy·k \\+ dx"):
        check_offset_loop(transposed)


def test_checkers_want_the_function_not_its_result():
    with pytest.raises(TypeError, match="function itself"):
        check_reassembly_flops(42)


def test_a_stub_is_reported_as_not_attempted_instead_of_crashing(capsys):
    def stub(c, h, w, k, s):
        raise NotImplementedError

    assert check_reassembly_flops(stub) is False
    assert "not attempted yet" in capsys.readouterr().out
