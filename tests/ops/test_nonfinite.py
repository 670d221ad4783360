"""Index forms on ±inf and NaN behave as the PyTorch operator each one claims to equal."""
import math

import hypothesis.strategies as st
import torch
import torch.nn.functional as F
from hypothesis import given
from torch.testing import assert_close

import indexnet_edu as ie

INF, NAN = math.inf, math.nan
SPECIAL = st.sampled_from([INF, -INF, NAN])
# Moderate finite values: the sums of average pooling must not overflow in either order.
FINITE = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def maps(draw, stride_choices=(1, 2, 3)):
    """(x, stride): a 1–2 × 1–2 × (s·h) × (s·w) float64 map with some ±inf/NaN entries."""
    stride = draw(st.sampled_from(stride_choices))
    batch, channels = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    height, width = stride * draw(st.integers(1, 3)), stride * draw(st.integers(1, 3))
    count = batch * channels * height * width
    values = draw(st.lists(st.one_of(FINITE, FINITE, SPECIAL), min_size=count, max_size=count))
    return torch.tensor(values, dtype=torch.float64).view(batch, channels, height, width), stride


def pooled_values_and_argmax(data, x, s):
    """Values with some ±inf/NaN at x's pooled shape, and the argmax positions of x's windows."""
    shape = (x.shape[0], x.shape[1], x.shape[2] // s, x.shape[3] // s)
    values = data.draw(st.lists(st.one_of(FINITE, SPECIAL), min_size=math.prod(shape), max_size=math.prod(shape)))
    return torch.tensor(values, dtype=torch.float64).view(shape), F.max_pool2d(x, s, return_indices=True)[1]


def same(actual, expected):
    assert_close(actual, expected, equal_nan=True, rtol=1e-12, atol=0)


@given(maps())
def test_max_index_pooling_equals_max_pool2d_on_non_finite_values(case):
    x, s = case
    same(ie.indexed_pool(x, ie.max_index(x, s), s), F.max_pool2d(x, s))


@given(maps(), st.data())
def test_max_index_unpooling_equals_max_unpool2d_on_non_finite_values(case, data):
    x, s = case
    y, positions = pooled_values_and_argmax(data, x, s)
    same(ie.indexed_upsample(y, ie.max_index(x, s), s), F.max_unpool2d(y, positions, s, output_size=x.shape[-2:]))


@given(maps())
def test_average_index_pooling_equals_avg_pool2d_on_non_finite_values(case):
    x, s = case
    assert_close(ie.indexed_pool(x, ie.average_index(x, s), s), F.avg_pool2d(x, s), equal_nan=True)


@given(maps())
def test_nearest_index_upsampling_equals_nearest_interpolate_on_non_finite_values(case):
    y, s = case
    same(ie.indexed_upsample(y, ie.nearest_index(y, s), s), F.interpolate(y, scale_factor=s, mode="nearest"))


@given(maps(stride_choices=(2,)))
def test_registry_max_unpool_pair_equals_max_pool2d_and_max_unpool2d_on_non_finite_values(case):
    x, _ = case
    pair = ie.create_upsampler("max_unpool", x.shape[1]).double()
    pooled, state = pair.down(x)
    expected_pooled, positions = F.max_pool2d(x, 2, return_indices=True)
    same(pooled, expected_pooled)
    same(pair.up(pooled, state), F.max_unpool2d(expected_pooled, positions, 2, output_size=x.shape[-2:]))


@given(maps(stride_choices=(1,)), st.sampled_from([2, 3]))
def test_reassembly_with_nearest_kernels_equals_nearest_interpolate_on_non_finite_values(case, s):
    y, _ = case
    kernels = torch.ones(y.shape[0], 1, s * y.shape[2], s * y.shape[3], dtype=torch.float64)
    same(ie.reassemble(y, kernels, 1, scale=s), F.interpolate(y, scale_factor=s, mode="nearest"))


@given(maps(stride_choices=(2, 3)), st.data())
def test_reassembly_with_one_hot_kernels_equals_max_unpool2d_on_non_finite_values(case, data):
    x, s = case
    y, positions = pooled_values_and_argmax(data, x, s)
    # k = 1, one group per channel: the depthwise one-hot index is the reassembly kernel.
    same(ie.reassemble(y, ie.max_index(x, s), 1, scale=s, groups=x.shape[1]),
         F.max_unpool2d(y, positions, s, output_size=x.shape[-2:]))


@given(maps(stride_choices=(1,)))
def test_reassembly_with_bilinear_kernels_equals_bilinear_interpolate_away_from_the_first_row_and_column(case):
    # PyTorch's CPU bilinear kernel reads the next row/column with weight 0 at the top and left
    # borders (0·inf = NaN there); the reassembly skips zero-weight neighbours. Everywhere else
    # the two agree on ±inf and NaN too (documented in reassemble's docstring).
    y, _ = case
    ours = ie.reassemble(y, ie.bilinear_kernels(*y.shape[-2:]).expand(y.shape[0], -1, -1, -1), 3,
                         padding="replicate")
    theirs = F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False)
    assert_close(ours[..., 1:, 1:], theirs[..., 1:, 1:], equal_nan=True)


def test_issue_example_unpooling_inf_gives_zeros_away_from_the_argmax():
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    out = ie.indexed_upsample(torch.tensor([[[[INF]]]]), ie.max_index(x))
    assert out.flatten().tolist() == [0.0, 0.0, 0.0, INF]


def test_issue_example_pooling_a_window_with_minus_inf_gives_its_maximum():
    x2 = torch.tensor([[[[-INF, 2.0], [3.0, 4.0]]]])
    assert ie.indexed_pool(x2, ie.max_index(x2)).item() == 4.0 == F.max_pool2d(x2, 2).item()


def test_a_nan_in_a_window_makes_the_pooled_value_nan_as_max_pool2d_does():
    x = torch.tensor([[[[1.0, NAN], [5.0, 2.0]]]])
    assert math.isnan(ie.indexed_pool(x, ie.max_index(x)).item())
    assert math.isnan(F.max_pool2d(x, 2).item())


def test_softmax_index_at_a_tiny_float16_temperature_is_the_max_index():
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]], dtype=torch.float16)
    weights = ie.softmax_index(x, 2, temperature=1e-5)
    assert weights.dtype == torch.float16
    assert torch.equal(weights, ie.max_index(x))


def test_softmax_index_puts_all_weight_on_a_plus_inf_entry():
    x = torch.tensor([[[[1.0, INF], [3.0, 4.0]]]])
    assert ie.softmax_index(x, 2, temperature=1.0).flatten().tolist() == [0.0, 1.0, 0.0, 0.0]


def test_softmax_index_of_an_all_minus_inf_window_is_uniform():
    x = torch.full((1, 1, 2, 2), -INF)
    assert ie.softmax_index(x, 2).flatten().tolist() == [0.25] * 4


def test_softmax_index_at_infinite_temperature_is_the_average_index():
    x = torch.tensor([[[[1.0, INF], [-INF, 4.0]]]])
    assert ie.softmax_index(x, 2, temperature=INF).flatten().tolist() == [0.25] * 4


def test_a_finite_softmax_pool_still_matches_the_plain_softmax():
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    windows = x.view(2, 3, 2, 2, 2, 2).permute(0, 1, 2, 4, 3, 5).reshape(2, 3, 2, 2, 4)
    expected = torch.softmax(windows / 0.3, dim=-1).view(2, 3, 2, 2, 2, 2).permute(0, 1, 2, 4, 3, 5).reshape(2, 3, 4, 4)
    assert_close(ie.softmax_index(x, 2, 0.3), expected)


def test_gradients_through_a_masked_unpooling_are_finite_at_the_unread_pixels():
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    y = torch.tensor([[[[INF]]]], requires_grad=True)
    index = ie.max_index(x).requires_grad_()
    ie.indexed_upsample(y, index).sum().backward()
    assert index.grad.flatten()[:3].tolist() == [0.0, 0.0, 0.0]
