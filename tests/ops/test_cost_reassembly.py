"""Analytic reassembly costs agree with what the code does."""
import pytest
import torch

from indexnet_edu.bench.naive import naive_reassemble
from indexnet_edu.bench.cost import count_flops, naive_reassembly_values, reassembly_flops
from indexnet_edu.ops.reassembly import reassemble


def test_reassembly_flops_match_the_flop_counter_on_the_fast_operator():
    y, kernels = torch.randn(2, 6, 3, 5), torch.rand(2, 2 * 9, 6, 10)
    counted = count_flops(lambda: reassemble(y, kernels, 3, 2, 2))
    assert counted == 2 * reassembly_flops(6, 3, 5, 3, 2)  # batch of 2


def test_naive_values_are_the_size_of_its_upsampled_patch_tensor(monkeypatch):
    y, kernels = torch.randn(1, 4, 3, 3), torch.rand(1, 25, 6, 6)
    seen = []
    original = torch.nn.functional.interpolate

    def spy(*args, **kwargs):
        out = original(*args, **kwargs)
        seen.append(out.numel())
        return out

    monkeypatch.setattr(torch.nn.functional, "interpolate", spy)
    naive_reassemble(y, kernels, 5)
    assert seen == [naive_reassembly_values(4, 3, 3, 5, 2)]


def test_reassembly_flops_refuse_an_even_kernel():
    with pytest.raises(ValueError, match="odd"):
        reassembly_flops(4, 3, 3, 4)
