"""Index blocks: the normalisation of the authors' IndexNet code, ranges, shapes and parameter counts."""
import math

import pytest
import torch
from einops import rearrange
from hypothesis import given
from hypothesis import strategies as st

import indexnet_edu as ie
from indexnet_edu import DepthwiseIndexBlock, HolisticIndexBlock, SharedDepthwiseIndexBlock

BLOCKS = [("hin", None), ("din", "o2o"), ("din", "m2o")]


def make_block(kind, mode, channels, stride=2, nonlinear=False, context=False):
    if kind == "hin":
        return HolisticIndexBlock(channels, stride, nonlinear, context)
    return DepthwiseIndexBlock(channels, stride, mode, nonlinear, context)


def n_params(module):
    return sum(p.numel() for p in module.parameters())


block_configs = st.tuples(st.sampled_from(BLOCKS), st.sampled_from([2, 4]), st.booleans(), st.booleans(),
                          st.integers(1, 6), st.integers(1, 3), st.integers(0, 1000))


@given(block_configs)
def test_encoder_index_sums_to_one_in_every_window(config):
    (kind, mode), stride, nonlinear, context, channels, windows, seed = config
    torch.manual_seed(seed)
    block = make_block(kind, mode, channels, stride, nonlinear, context).eval()
    x = torch.randn(2, channels, stride * windows, stride * (windows + 1))
    enc, _ = block(x)
    sums = rearrange(enc, "b c (h s1) (w s2) -> b c h w (s1 s2)", s1=stride, s2=stride).sum(-1)
    assert torch.allclose(sums, torch.ones_like(sums), atol=1e-6)


@given(block_configs)
def test_decoder_index_lies_strictly_between_zero_and_one(config):
    (kind, mode), stride, nonlinear, context, channels, windows, seed = config
    torch.manual_seed(seed)
    block = make_block(kind, mode, channels, stride, nonlinear, context).eval()
    _, dec = block(torch.randn(1, channels, stride * windows, stride * windows) * 0.5)
    assert bool(((dec > 0) & (dec < 1)).all())


@pytest.mark.parametrize("kind,mode", BLOCKS)
@pytest.mark.parametrize("stride", [2, 4])
def test_index_maps_have_the_input_resolution(kind, mode, stride):
    block = make_block(kind, mode, 6, stride)
    enc, dec = block(torch.randn(3, 6, 8, 16))
    channels = 1 if kind == "hin" else 6
    assert enc.shape == dec.shape == (3, channels, 8, 16)


@pytest.mark.parametrize("kind,mode", BLOCKS)
def test_encoder_is_softmax_of_decoder_over_subpositions_placed_by_pixel_shuffle(kind, mode):
    torch.manual_seed(0)
    block = make_block(kind, mode, 3, 2)
    x = torch.randn(1, 3, 4, 6)
    logits = block.logits(x)  # B×C'×4×h×w
    enc, dec = block(x)
    for k in range(4):  # sub-position k goes to (k // 2, k % 2)
        assert torch.allclose(dec[:, :, k // 2::2, k % 2::2], torch.sigmoid(logits[:, :, k]))
        assert torch.allclose(enc[:, :, k // 2::2, k % 2::2], torch.softmax(torch.sigmoid(logits), 2)[:, :, k])


def test_encoder_index_stays_inside_the_softmax_of_sigmoid_bound():
    low, high = 1 / (1 + 3 * math.e), math.e / (math.e + 3)
    assert (round(low, 4), round(high, 4)) == (0.1092, 0.4754)
    block = HolisticIndexBlock(2)
    with torch.no_grad():
        block.predictor.weight.normal_(std=100.0)  # saturate the sigmoid
    enc, dec = block(torch.randn(4, 2, 16, 16))
    # saturated logits reach the bound itself in floating point; it is tight, never exceeded
    assert enc.min() >= low - 1e-6 and enc.max() <= high + 1e-6
    assert enc.max() > high - 1e-3 and enc.min() < low + 1e-3
    assert dec.min() < 1e-3 and dec.max() > 1 - 1e-3  # the decoder gate itself saturates


@pytest.mark.parametrize("channels", [1, 8, 32])
def test_linear_parameter_counts_follow_the_formulas(channels):
    c = channels
    assert n_params(HolisticIndexBlock(c)) == 16 * c
    assert n_params(DepthwiseIndexBlock(c, mode="o2o")) == 16 * c
    assert n_params(DepthwiseIndexBlock(c, mode="m2o")) == 16 * c * c


@pytest.mark.parametrize("channels", [1, 8, 32])
def test_context_multiplies_the_spatial_kernel_by_four(channels):
    c = channels
    assert n_params(HolisticIndexBlock(c, context=True)) == 4 * 16 * c
    assert n_params(DepthwiseIndexBlock(c, mode="o2o", context=True)) == 4 * 16 * c
    assert n_params(DepthwiseIndexBlock(c, mode="m2o", context=True)) == 4 * 16 * c * c


@pytest.mark.parametrize("channels", [1, 8, 32])
@pytest.mark.parametrize("context", [False, True])
def test_nonlinear_holistic_count_adds_the_hidden_layer(channels, context):
    c, k2 = channels, (16 if context else 4)
    assert n_params(HolisticIndexBlock(c, nonlinear=True, context=context)) == 2 * c * c * k2 + 4 * c + 8 * c


@pytest.mark.parametrize("channels", [2, 8])
def test_nonlinear_depthwise_counts(channels):
    c = channels
    # each of 4 branches: conv (k²·C·C/groups) + BN(C) + 1×1 conv (C·C/groups)
    assert n_params(DepthwiseIndexBlock(c, mode="o2o", nonlinear=True)) == 4 * (4 * c + 2 * c + c)
    assert n_params(DepthwiseIndexBlock(c, mode="m2o", nonlinear=True)) == 4 * (4 * c * c + 2 * c + c * c)


def test_stride_four_blocks_have_sixteen_subpositions():
    assert n_params(HolisticIndexBlock(3, stride=4)) == 3 * 16 * 16
    assert len(DepthwiseIndexBlock(3, stride=4).branches) == 16


def test_o2o_index_of_a_channel_depends_on_that_channel_alone():
    torch.manual_seed(0)
    block = DepthwiseIndexBlock(4, mode="o2o")
    x = torch.randn(1, 4, 8, 8)
    changed = x.clone()
    changed[:, 2] += 1.0
    enc_a, _ = block(x)
    enc_b, _ = block(changed)
    assert torch.equal(enc_a[:, [0, 1, 3]], enc_b[:, [0, 1, 3]])
    assert not torch.equal(enc_a[:, 2], enc_b[:, 2])


def test_m2o_index_of_a_channel_depends_on_every_channel():
    torch.manual_seed(0)
    block = DepthwiseIndexBlock(4, mode="m2o")
    x = torch.randn(1, 4, 8, 8)
    changed = x.clone()
    changed[:, 2] += 1.0
    assert not torch.equal(block(x)[0][:, 0], block(changed)[0][:, 0])


def test_shared_o2o_block_applies_one_function_to_every_channel_of_any_width():
    torch.manual_seed(0)
    shared = SharedDepthwiseIndexBlock()
    assert n_params(shared) == 16
    x = torch.randn(2, 3, 8, 8)
    enc, dec = shared(x)
    enc_0, dec_0 = shared(x[:, :1])
    assert torch.allclose(enc[:, :1], enc_0) and torch.allclose(dec[:, :1], dec_0)
    assert shared(torch.randn(1, 17, 4, 4))[0].shape == (1, 17, 4, 4)


def test_modelwise_o2o_shares_one_index_function_across_stages():
    stages = ie.create_upsamplers("din_o2o_modelwise", [4, 8, 16])
    assert stages[0].block is stages[1].block is stages[2].block
    assert n_params(stages) == 16


def test_stagewise_shared_o2o_has_one_index_function_per_stage():
    stages = ie.create_upsamplers("din_o2o_stagewise_shared", [4, 8, 16])
    assert len({id(stage.block) for stage in stages}) == 3
    assert n_params(stages) == 3 * 16


def test_stagewise_unshared_o2o_has_one_index_function_per_stage_and_channel():
    stages = ie.create_upsamplers("din_o2o", [4, 8, 16])
    assert n_params(stages) == 16 * (4 + 8 + 16)
