"""Reassembly and CARAFE against an independent naive loop, gradcheck and mmcv's own vectors."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import indexnet_edu as ie
from conftest import GEOMETRIES, MMCV_REFERENCE


def naive_reassemble(y, kernels, k, scale, groups, padding):
    """Literal loop over output pixels and kernel taps (CARAFE's reassembly, Wang et al., ICCV 2019), written for clarity, not speed."""
    batch, channels, height, width = y.shape
    r = k // 2
    out = torch.zeros(batch, channels, height * scale, width * scale, dtype=y.dtype)
    per_group = channels // groups
    for p_row in range(height * scale):
        for p_col in range(width * scale):
            for dy in range(k):
                for dx in range(k):
                    row, col = p_row // scale + dy - r, p_col // scale + dx - r
                    if padding == "zeros" and not (0 <= row < height and 0 <= col < width):
                        continue
                    row, col = min(max(row, 0), height - 1), min(max(col, 0), width - 1)
                    for g in range(groups):
                        weight = kernels[:, g * k * k + dy * k + dx, p_row, p_col]
                        channel_slice = slice(g * per_group, (g + 1) * per_group)
                        out[:, channel_slice, p_row, p_col] += weight[:, None] * y[:, channel_slice, row, col]
    return out


@given(st.integers(1, 2), st.sampled_from([1, 2]), st.integers(1, 2), st.integers(1, 4), st.integers(1, 4),
       st.sampled_from(GEOMETRIES), st.sampled_from(["zeros", "replicate"]), st.integers(0, 10_000))
def test_reassemble_equals_the_naive_loop(batch, groups, per_group, h, w, geometry, padding, seed):
    k, scale = geometry
    gen = torch.Generator().manual_seed(seed)
    y = torch.randn(batch, groups * per_group, h, w, generator=gen, dtype=torch.float64)
    kernels = torch.randn(batch, groups * k * k, h * scale, w * scale, generator=gen, dtype=torch.float64)
    out = ie.reassemble(y, kernels, k, scale=scale, groups=groups, padding=padding)
    assert (out - naive_reassemble(y, kernels, k, scale, groups, padding)).abs().max() <= 1e-12


@pytest.mark.parametrize("padding", ["zeros", "replicate"])
def test_reassemble_gradients_pass_gradcheck(padding):
    gen = torch.Generator().manual_seed(1)
    y = torch.randn(1, 4, 3, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    kernels = torch.randn(1, 2 * 9, 6, 8, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: ie.reassemble(a, b, 3, groups=2, padding=padding), (y, kernels))


def test_carafe_gradients_equal_the_naive_loop_gradients():
    gen = torch.Generator().manual_seed(2)
    y = torch.randn(2, 4, 3, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    kernels = torch.rand(2, 2 * 25, 6, 6, generator=gen, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(2, 4, 6, 6, generator=gen, dtype=torch.float64)
    fast = torch.autograd.grad((ie.carafe(y, kernels, 5, groups=2) * weights).sum(), (y, kernels))
    slow = torch.autograd.grad((naive_reassemble(y, kernels, 5, 2, 2, "zeros") * weights).sum(), (y, kernels))
    for a, b in zip(fast, slow):
        assert (a - b).abs().max() <= 1e-12


def _load(name, shape):
    path = MMCV_REFERENCE / name
    return torch.from_numpy(np.fromfile(path, dtype="<f4").reshape(shape))


@pytest.mark.skipif(not MMCV_REFERENCE.is_dir(),
                    reason=f"mmcv reference vectors not found at {MMCV_REFERENCE} (they ship beside the project "
                           "in ../shared, not in a user's clone)")
def test_carafe_matches_mmcv_reference_vectors_values_and_gradients(implementation):
    feat = _load("carafe_feat.bin", (2, 64, 3, 3)).requires_grad_()
    mask = _load("carafe_mask.bin", (2, 100, 6, 6)).requires_grad_()
    out = ie.carafe(feat, mask, kernel_size=5, groups=4, scale=2, implementation=implementation)
    out.sum().backward()
    assert (out - _load("carafe_output.bin", (2, 64, 6, 6))).abs().max() <= 1e-5
    assert (feat.grad - _load("carafe_feat_grad.bin", (2, 64, 3, 3))).abs().max() <= 1e-5
    assert (mask.grad - _load("carafe_mask_grad.bin", (2, 100, 6, 6))).abs().max() <= 1e-5


def test_carafe_zero_padding_does_not_renormalise_border_kernels():
    y = torch.ones(1, 1, 2, 2, dtype=torch.float64)
    kernels = torch.full((1, 9, 4, 4), 1 / 9, dtype=torch.float64)
    out = ie.carafe(y, kernels, 3)
    # the top-left output pixel's 3×3 neighbourhood holds 4 valid pixels of the 2×2 map
    assert out[0, 0, 0, 0].item() == pytest.approx(4 / 9, abs=1e-15)


def test_carafe_module_has_the_papers_parameter_count_at_256_channels():
    module = ie.CARAFE(256)
    assert sum(p.numel() for p in module.parameters()) == 74_148
    assert module.compressor.weight.numel() + module.compressor.bias.numel() == 16_448
    assert module.encoder.weight.numel() + module.encoder.bias.numel() == 57_700


def test_carafe_module_starts_as_a_near_uniform_average_and_upsamples():
    torch.manual_seed(0)
    module = ie.CARAFE(16, groups=2)
    y = torch.randn(2, 16, 5, 6)
    kernels = module.kernels(y)
    assert kernels.shape == (2, 2 * 25, 10, 12)
    assert torch.allclose(kernels.view(2, 2, 25, 10, 12).sum(2), torch.ones(2, 2, 10, 12), atol=1e-5)
    assert (kernels - 1 / 25).abs().max() < 0.1 / 25  # within 10% of the uniform 5×5 average
    assert module(y).shape == (2, 16, 10, 12)


def test_carafe_module_kernels_follow_the_pixel_shuffle_layout():
    module = ie.CARAFE(4, k_up=3, c_mid=4)
    y = torch.randn(1, 4, 3, 3)
    logits = module.encoder(module.compressor(y))  # channels (kernel entry, sub-pixel), sub-pixel minor
    manual = torch.softmax(logits.view(1, 9, 4, 3, 3), dim=1)  # kernel entry k, sub-pixel i·2+j
    for i in range(2):
        for j in range(2):
            assert torch.allclose(module.kernels(y)[:, :, i::2, j::2], manual[:, :, i * 2 + j], atol=1e-6)


def test_dysample_with_zero_offsets_is_bilinear_upsampling():
    module = ie.DySample(8, groups=4)
    torch.nn.init.zeros_(module.offset.weight)
    y = torch.randn(2, 8, 5, 7, dtype=torch.float64)
    module = module.double()
    expected = F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False)
    assert (module(y) - expected).abs().max() <= 1e-12


def test_dysample_offsets_move_the_samples():
    torch.manual_seed(0)
    module = ie.DySample(4, groups=1)
    torch.nn.init.constant_(module.offset.bias, 1.0)
    y = torch.randn(1, 4, 6, 6)
    assert not torch.allclose(module(y), F.interpolate(y, scale_factor=2, mode="bilinear"), atol=1e-3)


def test_dysample_keeps_its_sampling_coordinates_in_float32_for_low_precision_inputs():
    torch.manual_seed(0)
    module = ie.DySample(4, groups=1)
    torch.nn.init.zeros_(module.offset.weight)
    torch.nn.init.constant_(module.offset.bias, 0.02)  # a small learned shift, 0.02·0.25 = 0.005 px
    y = torch.randn(1, 4, 64, 64)
    points = module.to(torch.bfloat16).sampling_points(y.to(torch.bfloat16))
    assert points.dtype == torch.float32
    # bf16 coordinates near 64 are spaced ½ px apart and would lose the 0.005 px shift
    base = (torch.arange(128, dtype=torch.float32) + 0.5) / 2 - 0.5
    assert torch.allclose(points[0, 0, 0, :, 0] - base, torch.full((128,), 0.005), atol=1e-4)
    assert module(y.to(torch.bfloat16)).dtype == torch.bfloat16
