"""Each re-created seed bug really behaves differently from the package's correct code."""
import pytest
import torch

from indexnet_edu import DepthwiseIndexBlock, indexed_pool, indexed_upsample
from indexnet_edu.upsamplers.index_blocks import normalise_index
from indexnet_edu.lessons.pitfalls import (PITFALLS, BranchWithMissingBatchNorm, mode_check_that_never_fails,
                                           pool_ignoring_divisibility, softmax_over_height, swapped_indices)


def window_sums(index, stride=2):
    return torch.nn.functional.avg_pool2d(index, stride) * stride**2


@pytest.fixture
def logits():
    torch.manual_seed(0)
    return torch.randn(2, 3, 4, 5, 6, dtype=torch.float64)  # B×C×s²×h×w, s=2


def test_correct_encoder_index_sums_to_one_per_window(logits):
    enc, _ = normalise_index(logits, 2)
    assert torch.allclose(window_sums(enc), torch.ones(2, 3, 5, 6, dtype=torch.float64))


def test_softmax_over_height_breaks_the_window_sums(logits):
    enc, _ = softmax_over_height(logits, 2)
    assert (window_sums(enc) - 1).abs().max() > 0.1


def test_softmax_over_height_normalises_each_column_instead(logits):
    enc, _ = softmax_over_height(logits, 2)
    sub_position_maps = enc[:, :, 0::2, 0::2]  # sub-position k=0 of every window: B×C×h×w
    assert torch.allclose(sub_position_maps.sum(dim=2), torch.ones(2, 3, 6, dtype=torch.float64))


def test_softmax_over_height_keeps_the_decoder_index(logits):
    assert torch.equal(softmax_over_height(logits, 2)[1], normalise_index(logits, 2)[1])


def test_swapped_indices_inflate_pooling_and_shrink_upsampling(logits):
    torch.manual_seed(1)
    x = torch.rand(2, 3, 10, 12, dtype=torch.float64) + 0.5
    right_enc, right_dec = normalise_index(logits, 2)
    wrong_enc, wrong_dec = swapped_indices(logits, 2)
    right = indexed_upsample(indexed_pool(x, right_enc), right_dec)
    wrong = indexed_upsample(indexed_pool(x, wrong_enc), wrong_dec)
    assert torch.equal(wrong_enc, right_dec) and torch.equal(wrong_dec, right_enc)
    assert indexed_pool(x, wrong_enc).mean() > 1.5 * indexed_pool(x, right_enc).mean()
    assert not torch.allclose(wrong, right)


def test_branch_without_batch_norm_crashes_with_none_not_callable():
    branch = BranchWithMissingBatchNorm(4, batch_norm=False)
    with pytest.raises(TypeError, match="NoneType"):
        branch(torch.rand(1, 4, 8, 8))


def test_fixed_branch_without_batch_norm_runs():
    out = BranchWithMissingBatchNorm(4, batch_norm=False, fixed=True)(torch.rand(1, 4, 8, 8))
    assert out.shape == (1, 4, 4, 4)


def test_mode_check_that_never_fails_accepts_a_typo_silently():
    assert mode_check_that_never_fails("o2m", 8) is None
    assert mode_check_that_never_fails("o2o", 8) == 8 and mode_check_that_never_fails("m2o", 8) == 1


def test_package_rejects_the_same_typo():
    with pytest.raises(ValueError, match="'o2m'"):
        DepthwiseIndexBlock(8, mode="o2m")


def test_pool_ignoring_divisibility_silently_drops_the_last_row_and_column():
    x = torch.zeros(1, 1, 5, 5, dtype=torch.float64)
    x[..., 4, :] = 100.0  # only the last row carries signal
    x[..., :, 4] = 100.0
    index = torch.full_like(x, 0.25)
    pooled = pool_ignoring_divisibility(x, index)
    assert pooled.shape == (1, 1, 2, 2)
    assert pooled.abs().max() == 0  # the signal never arrives


def test_package_pooling_refuses_indivisible_sizes():
    x = torch.rand(1, 1, 5, 5)
    with pytest.raises(ValueError, match="5×5"):
        indexed_pool(x, torch.full_like(x, 0.25))


def test_pool_ignoring_divisibility_agrees_with_indexed_pool_when_sizes_divide():
    torch.manual_seed(2)
    x = torch.rand(1, 2, 6, 8, dtype=torch.float64)
    index = torch.rand(1, 2, 6, 8, dtype=torch.float64)
    assert torch.allclose(pool_ignoring_divisibility(x, index), indexed_pool(x, index))


def test_catalogue_lists_the_five_pitfalls():
    import indexnet_edu.lessons.pitfalls as pitfalls
    assert len(PITFALLS) == 5 and all(hasattr(pitfalls, name) for name in PITFALLS)


def test_pitfall_logits_of_wrong_shape_are_refused():
    with pytest.raises(ValueError, match="s²=4"):
        softmax_over_height(torch.rand(1, 2, 3, 4, 4), 2)
