"""Five classic ways to get an index network wrong (lesson 03's pitfalls, :mod:`indexnet_edu.lessons.pitfalls`): none can happen in the package."""
import pytest
import torch
from einops import rearrange

import indexnet_edu as ie


def test_bug1_depthwise_softmax_runs_over_subpositions_not_the_height_axis():
    torch.manual_seed(0)
    block = ie.DepthwiseIndexBlock(3, mode="o2o")
    enc, _ = block(torch.randn(2, 3, 8, 8))
    per_window = rearrange(enc, "b c (h s1) (w s2) -> b c h w (s1 s2)", s1=2, s2=2).sum(-1)
    assert torch.allclose(per_window, torch.ones_like(per_window), atol=1e-6)
    # a softmax over the height axis would make columns, not windows, sum to 1
    column_sums = enc.sum(dim=2)
    assert not torch.allclose(column_sums, torch.ones_like(column_sums), atol=1e-2)


@pytest.mark.parametrize("mode", ["o2o", "m2o"])
def test_bug2_depthwise_block_returns_encoder_softmax_first_and_decoder_sigmoid_second(mode):
    torch.manual_seed(0)
    block = ie.DepthwiseIndexBlock(3, mode=mode)
    x = torch.randn(1, 3, 4, 4)
    enc, dec = block(x)
    logits = block.logits(x)
    assert torch.allclose(dec[:, :, ::2, ::2], torch.sigmoid(logits[:, :, 0]))
    window_sums = rearrange(enc, "b c (h s1) (w s2) -> b c h w (s1 s2)", s1=2, s2=2).sum(-1)
    assert torch.allclose(window_sums, torch.ones_like(window_sums), atol=1e-6)
    # enc drives pooling: IP with it is a convex combination, bounded by the window extremes
    pooled = ie.indexed_pool(x, enc)
    assert bool((pooled <= torch.nn.functional.max_pool2d(x, 2) + 1e-6).all())


@pytest.mark.parametrize("block", [ie.HolisticIndexBlock(4, nonlinear=True),
                                   ie.DepthwiseIndexBlock(4, mode="o2o", nonlinear=True),
                                   ie.DepthwiseIndexBlock(4, mode="m2o", nonlinear=True, context=True)])
def test_bug3_nonlinear_blocks_have_a_real_batchnorm_and_run_in_train_and_eval(block):
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in block.modules())
    x = torch.randn(2, 4, 8, 8)
    block.train()
    enc, dec = block(x)
    (enc.sum() + dec.sum()).backward()
    block.eval()
    assert block(x)[0].shape == (2, 1 if isinstance(block, ie.HolisticIndexBlock) else 4, 8, 8)


def test_bug4_a_wrong_mode_fails_loudly():
    with pytest.raises(ValueError, match="'one2one'"):
        ie.DepthwiseIndexBlock(4, mode="one2one")


def test_bug5_pooling_checks_that_the_stride_divides_height_and_width():
    x = torch.randn(1, 1, 5, 4)
    with pytest.raises(ValueError, match="divisible by stride=2"):
        ie.indexed_pool(x, torch.ones(1, 1, 5, 4))
    with pytest.raises(ValueError, match="divisible by stride=2"):
        ie.HolisticIndexBlock(1)(x)
