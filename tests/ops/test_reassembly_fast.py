"""The fast reassembly operators are exact: values and gradients against two independent
references (the package's unfold baseline and a plain loop over offsets written here) and
``gradcheck`` in float64, for the PyTorch operator and the fused numba kernel alike (the
``implementation`` fixture in conftest.py); mmcv's vectors are in test_reassembly.py and the
Triton kernel's checks in test_reassembly_kernels.py."""
from __future__ import annotations


import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import GEOMETRIES
from indexnet_edu.bench.naive import naive_reassemble
from indexnet_edu.ops.reassembly import carafe, reassemble

pytestmark = pytest.mark.usefixtures("one_thread")


def loop_reassemble(y, kernels, kernel_size, scale, groups, padding):
    """Reference by a loop over the k² offsets: shift, nearest-upsample, weight, add."""
    batch, channels, height, width = y.shape
    r = kernel_size // 2
    mode = "constant" if padding == "zeros" else "replicate"
    padded = torch.nn.functional.pad(y, (r, r, r, r), mode=mode) if r else y
    out = torch.zeros(batch, channels, scale * height, scale * width, dtype=y.dtype)
    per_group = channels // groups
    for dy in range(kernel_size):
        for dx in range(kernel_size):
            shifted = padded[:, :, dy:dy + height, dx:dx + width]
            upsampled = shifted.repeat_interleave(scale, 2).repeat_interleave(scale, 3)
            for g in range(groups):
                weight = kernels[:, g * kernel_size**2 + dy * kernel_size + dx][:, None]
                part = slice(g * per_group, (g + 1) * per_group)
                out[:, part] += weight * upsampled[:, part]
    return out


def random_case(seed, batch, channels, height, width, kernel_size, scale, groups, dtype=torch.float64):
    generator = torch.Generator().manual_seed(seed)
    y = torch.randn(batch, channels, height, width, generator=generator, dtype=dtype)
    kernels = torch.rand(batch, groups * kernel_size**2, scale * height, scale * width,
                         generator=generator, dtype=dtype)
    return y.requires_grad_(), kernels.requires_grad_()


def gradients(fn, y, kernels, grad_out):
    out = fn(y, kernels)
    return (out,) + torch.autograd.grad(out, (y, kernels), grad_out)


cases = st.tuples(
    st.integers(0, 2**16),                     # seed
    st.integers(1, 2),                         # batch
    st.sampled_from([(1, 1), (4, 1), (4, 2), (6, 3), (8, 4), (3, 3)]),  # (channels, groups)
    st.integers(1, 6), st.integers(1, 6),      # low-res height, width
    st.sampled_from(GEOMETRIES),               # (k, scale): see conftest.GEOMETRIES
    st.sampled_from(["zeros", "replicate"]),
)


# The implementation fixture is a plain string: sharing it across examples is safe.
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=cases)
def test_fast_matches_unfold_baseline_in_values_and_gradients(case, implementation):
    seed, batch, (channels, groups), height, width, (k, scale), padding = case
    y, kernels = random_case(seed, batch, channels, height, width, k, scale, groups)
    grad_out = torch.randn(batch, channels, scale * height, scale * width, dtype=torch.float64)
    fast = gradients(lambda a, b: reassemble(a, b, k, scale, groups, padding, implementation=implementation),
                     y, kernels, grad_out)
    naive = gradients(lambda a, b: naive_reassemble(a, b, k, scale, groups, padding), y, kernels, grad_out)
    for got, want in zip(fast, naive):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("padding", ["zeros", "replicate"])
@pytest.mark.parametrize("kernel_size,scale,groups", [(1, 2, 1), (3, 2, 2), (5, 2, 4), (3, 4, 1), (5, 4, 2)])
def test_fast_matches_offset_loop_reference(kernel_size, scale, groups, padding, implementation):
    y, kernels = random_case(7, 2, 8, 5, 4, kernel_size, scale, groups)
    with torch.no_grad():
        got = reassemble(y, kernels, kernel_size, scale, groups, padding, implementation=implementation)
        want = loop_reassemble(y, kernels, kernel_size, scale, groups, padding)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("padding", ["zeros", "replicate"])
@pytest.mark.parametrize("kernel_size,scale,groups", [(3, 2, 2), (5, 2, 1), (1, 3, 2), (3, 4, 1)])
def test_gradcheck_float64(kernel_size, scale, groups, padding, implementation):
    y, kernels = random_case(3, 1, 4, 2, 3, kernel_size, scale, groups)
    assert torch.autograd.gradcheck(lambda a, b: reassemble(a, b, kernel_size, scale, groups, padding,
                                                            implementation=implementation),
                                    (y, kernels), eps=1e-6, atol=1e-8)


def test_float32_matches_baseline_at_benchmark_like_size(implementation):
    y, kernels = random_case(0, 1, 32, 16, 16, 5, 2, 1, dtype=torch.float32)
    torch.testing.assert_close(reassemble(y, kernels, 5, implementation=implementation),
                               naive_reassemble(y, kernels, 5), rtol=1e-5, atol=1e-5)


def test_gradient_for_kernels_only_when_features_are_frozen(implementation):
    y, kernels = random_case(1, 1, 4, 3, 3, 3, 2, 1)
    frozen = y.detach()
    (grad,) = torch.autograd.grad(reassemble(frozen, kernels, 3, implementation=implementation).sum(), kernels)
    (want,) = torch.autograd.grad(naive_reassemble(frozen, kernels, 3).sum(), kernels)
    torch.testing.assert_close(grad, want)


def test_gradient_for_features_only_when_kernels_are_frozen(implementation):
    y, kernels = random_case(2, 1, 4, 3, 3, 3, 2, 1)
    frozen = kernels.detach()
    (grad,) = torch.autograd.grad(reassemble(y, frozen, 3, padding="replicate", implementation=implementation).sum(),
                                  y)
    (want,) = torch.autograd.grad(naive_reassemble(y, frozen, 3, padding="replicate").sum(), y)
    torch.testing.assert_close(grad, want)


def test_non_contiguous_inputs_give_the_same_result(implementation):
    y, kernels = random_case(4, 2, 6, 4, 5, 3, 2, 3)
    y_t = y.detach().transpose(2, 3).contiguous().transpose(2, 3)
    kernels_cl = kernels.detach().contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(reassemble(y_t, kernels_cl, 3, 2, 3, implementation=implementation),
                               naive_reassemble(y, kernels, 3, 2, 3))


def test_mixed_dtypes_are_promoted(implementation):
    y, kernels = random_case(5, 1, 2, 3, 3, 3, 2, 1)
    out = reassemble(y.detach().float(), kernels.detach(), 3, implementation=implementation)
    assert out.dtype == torch.float64


def test_kernel_larger_than_the_map_reads_only_padding_beyond_it(implementation):
    y, kernels = random_case(6, 1, 2, 1, 2, 5, 2, 1)
    torch.testing.assert_close(reassemble(y, kernels, 5, implementation=implementation),
                               loop_reassemble(y, kernels, 5, 2, 1, "zeros"))


def test_device_agnostic_code_runs_on_the_meta_device():
    # The meta device has no kernels at all: only shape logic runs. Passing shows the operator
    # allocates on the input's device and uses no CPU-only calls (the closest check of the CUDA
    # path possible on a machine without a GPU).
    y = torch.empty(2, 8, 3, 4, device="meta")
    kernels = torch.empty(2, 2 * 9, 6, 8, device="meta")
    out = reassemble(y, kernels, 3, 2, 2, "replicate")
    assert out.device.type == "meta" and tuple(out.shape) == (2, 8, 6, 8)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_matches_cpu():
    y, kernels = random_case(9, 2, 8, 5, 6, 5, 2, 4)
    got = reassemble(y.detach().cuda(), kernels.detach().cuda(), 5, 2, 4).cpu()
    torch.testing.assert_close(got, reassemble(y.detach(), kernels.detach(), 5, 2, 4))


def test_carafe_is_reassembly_with_zero_padding(implementation):
    y, kernels = random_case(10, 1, 4, 3, 3, 3, 2, 2)
    torch.testing.assert_close(carafe(y, kernels, 3, groups=2, implementation=implementation),
                               loop_reassemble(y, kernels, 3, 2, 2, "zeros"))


@pytest.mark.parametrize("bad, match", [
    (dict(kernel_size=4), "odd"),
    (dict(groups=3), "divisible by groups"),
    (dict(padding="reflect"), "padding must be one of"),
    (dict(scale=0), "positive int"),
])
def test_argument_checks_are_kept(bad, match):
    y, kernels = random_case(11, 1, 4, 3, 3, 3, 2, 1)
    args = dict(kernel_size=3, scale=2, groups=1, padding="zeros") | bad
    with pytest.raises(ValueError, match=match):
        reassemble(y, kernels, **args)


def test_wrong_kernel_shape_names_the_expected_shape():
    y = torch.randn(1, 4, 3, 3)
    with pytest.raises(ValueError, match="1×9×6×6"):
        reassemble(y, torch.rand(1, 9, 6, 5), 3)


# mmcv's reference vectors are checked once, in tests/ops/test_reassembly.py.


@pytest.mark.parametrize("chunk_values", [1, 2 * (2 * 4 * 9 * 4)])  # 1 row per step; steps of 2, 2, 1
def test_results_do_not_depend_on_how_rows_are_chunked(monkeypatch, chunk_values):
    from indexnet_edu.ops.kernels import torch_blas

    y, kernels = random_case(12, 2, 8, 5, 4, 3, 2, 2)
    grad_out = torch.randn(2, 8, 10, 8, dtype=torch.float64)
    want = gradients(lambda a, b: naive_reassemble(a, b, 3, 2, 2, "replicate"), y, kernels, grad_out)
    monkeypatch.setattr(torch_blas, "_CHUNK_VALUES", chunk_values)
    got = gradients(lambda a, b: reassemble(a, b, 3, 2, 2, "replicate", implementation="torch"), y, kernels, grad_out)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
