"""Bad input gets a clear ValueError/TypeError naming what was expected and what came."""
import pytest
import torch

import indexnet_edu as ie


def x4(b=1, c=3, h=8, w=8):
    return torch.randn(b, c, h, w)


def test_indexed_pool_rejects_a_3d_feature_naming_the_rank_and_shape():
    with pytest.raises(ValueError, match=r"x must be a 4-D tensor \(B×C×H×W\), got 3-D with shape \(3, 8, 8\)"):
        ie.indexed_pool(torch.randn(3, 8, 8), torch.ones(1, 1, 8, 8))


def test_indexed_upsample_rejects_a_wrong_rank_index():
    with pytest.raises(ValueError, match=r"index must be a 4-D tensor .* got 2-D"):
        ie.indexed_upsample(x4(h=4, w=4), torch.ones(8, 8))


def test_reassemble_rejects_wrong_rank_kernels():
    with pytest.raises(ValueError, match=r"kernels must be a 4-D tensor .* got 3-D"):
        ie.reassemble(x4(), torch.ones(9, 16, 16), 3)


def test_a_non_tensor_is_a_type_error():
    with pytest.raises(TypeError, match=r"x must be a torch.Tensor, got list"):
        ie.indexed_pool([[1.0]], torch.ones(1, 1, 2, 2))


def test_an_integer_tensor_is_a_type_error():
    with pytest.raises(TypeError, match=r"floating-point dtype, got torch.int64"):
        ie.max_index(torch.ones(1, 1, 4, 4, dtype=torch.long))


def test_height_or_width_not_divisible_by_the_stride_names_both():
    with pytest.raises(ValueError, match=r"divisible by stride=2, got H×W = 7×8"):
        ie.indexed_pool(x4(h=7), torch.ones(1, 1, 7, 8))


def test_recipes_reject_sizes_that_the_stride_does_not_divide():
    with pytest.raises(ValueError, match=r"divisible by stride=4, got H×W = 8×6"):
        ie.softmax_index(x4(w=6), stride=4)


def test_an_index_fitting_neither_one_nor_c_channels_is_rejected_with_both_options():
    with pytest.raises(ValueError, match=r"1×1×8×8 \(holistic\) or 1×3×8×8 \(depthwise\), got 1×2×8×8"):
        ie.indexed_pool(x4(), torch.ones(1, 2, 8, 8))


def test_an_upsampling_index_at_the_wrong_resolution_is_rejected():
    with pytest.raises(ValueError, match=r"1×1×8×8 \(holistic\) or 1×3×8×8 \(depthwise\), got 1×1×4×4"):
        ie.indexed_upsample(x4(h=4, w=4), torch.ones(1, 1, 4, 4))


def test_kernel_channels_other_than_groups_times_k_squared_are_rejected():
    with pytest.raises(ValueError, match=r"1×18×16×16 \(groups=2, k=3, s=2\), got 1×9×16×16"):
        ie.reassemble(x4(c=4), torch.ones(1, 9, 16, 16), 3, groups=2)


def test_channels_not_divisible_by_groups_are_rejected():
    with pytest.raises(ValueError, match=r"divisible by groups=2, got C=3"):
        ie.reassemble(x4(c=3), torch.ones(1, 18, 16, 16), 3, groups=2)


def test_carafe_module_rejects_channels_not_divisible_by_groups():
    with pytest.raises(ValueError, match=r"divisible by groups=4, got channels=6"):
        ie.CARAFE(6, groups=4)


def test_an_even_kernel_size_is_rejected():
    with pytest.raises(ValueError, match=r"kernel_size must be odd so the kernel has a centre, got 4"):
        ie.carafe(x4(), torch.ones(1, 16, 16, 16), 4)


def test_carafe_module_rejects_an_even_k_up():
    with pytest.raises(ValueError, match=r"k_up must be odd .* got 4"):
        ie.CARAFE(8, k_up=4)


def test_an_unknown_padding_is_quoted():
    with pytest.raises(ValueError, match=r"padding must be one of 'zeros', 'replicate', got 'reflect'"):
        ie.reassemble(x4(), torch.ones(1, 9, 16, 16), 3, padding="reflect")


def test_an_unknown_mode_is_quoted():
    with pytest.raises(ValueError, match=r"mode must be one of 'o2o', 'm2o', got 'MODE ERROR'"):
        ie.DepthwiseIndexBlock(4, mode="MODE ERROR")


@pytest.mark.parametrize("stride", [0, -2])
def test_a_non_positive_stride_is_rejected(stride):
    with pytest.raises(ValueError, match=rf"stride must be a positive int, got {stride}"):
        ie.indexed_pool(x4(), torch.ones(1, 1, 8, 8), stride=stride)


def test_a_fractional_stride_is_a_type_error():
    with pytest.raises(TypeError, match=r"stride must be a positive int, got float 2.0"):
        ie.max_index(x4(), stride=2.0)


@pytest.mark.parametrize("temperature", [0, -1.0])
def test_a_non_positive_temperature_is_rejected(temperature):
    with pytest.raises(ValueError, match=rf"temperature must be > 0, got {temperature}"):
        ie.softmax_index(x4(), temperature=temperature)


def test_an_unsupported_block_stride_is_rejected():
    with pytest.raises(ValueError, match=r"stride must be one of \(2, 4\), got 3"):
        ie.HolisticIndexBlock(4, stride=3)


@pytest.mark.parametrize("block", [ie.HolisticIndexBlock(4), ie.DepthwiseIndexBlock(4, mode="m2o")])
def test_a_block_fed_the_wrong_channel_count_says_both_counts(block):
    with pytest.raises(ValueError, match=r"built for 4 input channels, got 3"):
        block(x4(c=3))


def test_a_block_fed_an_indivisible_map_is_rejected():
    with pytest.raises(ValueError, match=r"divisible by stride=2, got H×W = 7×7"):
        ie.HolisticIndexBlock(3)(x4(h=7, w=7))


def test_carafe_module_fed_the_wrong_channel_count_says_both_counts():
    with pytest.raises(ValueError, match=r"CARAFE was built for 8 input channels, got 3"):
        ie.CARAFE(8)(x4(c=3))


def test_an_unknown_upsampler_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown upsampler 'bicubic'; expected one of nearest, bilinear"):
        ie.create_upsampler("bicubic", 8)


def test_a_resampler_fed_the_wrong_channel_count_is_rejected():
    pair = ie.create_upsampler("carafe", 8)
    with pytest.raises(ValueError, match=r"built for 8 input channels, got 3"):
        pair.up(x4(c=3))


def test_an_index_upsampler_without_its_index_says_what_it_needs():
    pair = ie.create_upsampler("hin", 3)
    with pytest.raises(ValueError, match=r"needs the decoder index returned by down\(x\); got state=None"):
        pair.up(x4(h=4, w=4))


def test_bilinear_kernels_reject_a_non_positive_size():
    with pytest.raises(ValueError, match=r"h must be a positive int, got 0"):
        ie.bilinear_kernels(0, 4)


def test_reassembly_inputs_on_different_devices_are_rejected():
    with pytest.raises(ValueError, match=r"same device, got cpu and meta"):
        ie.reassemble(x4(), torch.ones(1, 9, 16, 16, device="meta"), 3)


def test_a_map_with_an_empty_height_is_rejected_before_reassembly():
    with pytest.raises(ValueError, match=r"y must have at least one channel and a non-empty H×W .* got shape \(1, 3, 0, 8\)"):
        ie.reassemble(torch.ones(1, 3, 0, 8), torch.ones(1, 9, 0, 16), 3)
