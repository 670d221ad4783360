"""The classic operators are index functions (Lu et al., Indices Matter, ICCV 2019), to float64 round-off (<= 1e-12)."""
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import indexnet_edu as ie

TOL = 1e-12


def _feature(batch, channels, height, width, seed, ties=False):
    gen = torch.Generator().manual_seed(seed)
    if ties:  # few distinct values, so windows often hold several equal maxima
        return torch.randint(0, 3, (batch, channels, height, width), generator=gen).double()
    return torch.randn(batch, channels, height, width, generator=gen, dtype=torch.float64)


shapes = st.tuples(st.integers(1, 2), st.integers(1, 4), st.integers(1, 5), st.integers(1, 5),
                   st.sampled_from([2, 3, 4]), st.integers(0, 10_000))


@given(shapes, st.booleans())
def test_max_pooling_is_indexed_pooling_with_the_argmax_index(shape, ties):
    batch, channels, hb, wb, stride, seed = shape
    x = _feature(batch, channels, hb * stride, wb * stride, seed, ties)
    pooled = ie.indexed_pool(x, ie.max_index(x, stride), stride)
    assert (pooled - F.max_pool2d(x, stride)).abs().max() <= TOL


def test_max_index_breaks_ties_at_the_first_maximum_in_row_major_order():
    x = torch.tensor([[[[1.0, 1.0], [1.0, 1.0]]]], dtype=torch.float64)
    assert ie.max_index(x).flatten().tolist() == [1.0, 0.0, 0.0, 0.0]


@given(shapes)
def test_average_pooling_is_indexed_pooling_with_a_constant_index(shape):
    batch, channels, hb, wb, stride, seed = shape
    x = _feature(batch, channels, hb * stride, wb * stride, seed)
    pooled = ie.indexed_pool(x, ie.average_index(x, stride), stride)
    assert (pooled - F.avg_pool2d(x, stride)).abs().max() <= TOL


@given(shapes, st.booleans())
def test_max_unpooling_is_indexed_upsampling_with_the_argmax_index(shape, ties):
    batch, channels, hb, wb, stride, seed = shape
    x = _feature(batch, channels, hb * stride, wb * stride, seed, ties)
    pooled, positions = F.max_pool2d(x, stride, return_indices=True)
    expected = F.max_unpool2d(pooled, positions, stride, output_size=x.shape[-2:])
    restored = ie.indexed_upsample(pooled, ie.max_index(x, stride), stride)
    assert (restored - expected).abs().max() <= TOL


@given(shapes)
def test_nearest_upsampling_is_indexed_upsampling_with_an_index_of_ones(shape):
    batch, channels, hb, wb, stride, seed = shape
    y = _feature(batch, channels, hb, wb, seed)
    upsampled = ie.indexed_upsample(y, ie.nearest_index(y, stride), stride)
    assert (upsampled - F.interpolate(y, scale_factor=stride, mode="nearest")).abs().max() <= TOL


@given(st.integers(1, 2), st.integers(1, 3), st.integers(1, 6), st.integers(1, 6), st.sampled_from([2, 4]),
       st.integers(0, 10_000))
def test_bilinear_upsampling_is_reassembly_with_fixed_kernels_borders_included(batch, channels, h, w, scale, seed):
    y = _feature(batch, channels, h, w, seed)
    kernels = ie.bilinear_kernels(h, w, scale).expand(batch, -1, -1, -1)
    out = ie.reassemble(y, kernels, kernel_size=3, scale=scale, padding="replicate")
    expected = F.interpolate(y, scale_factor=scale, mode="bilinear", align_corners=False)
    assert (out - expected).abs().max() <= TOL


def test_bilinear_kernels_hold_the_weights_9_3_3_1_over_16():
    kernels = ie.bilinear_kernels(1, 1, 2)[0]  # 9×2×2: top-left output pixel reads up-left
    top_left = kernels[:, 0, 0].view(3, 3)
    expected = torch.tensor([[1, 3, 0], [3, 9, 0], [0, 0, 0]], dtype=torch.float64) / 16
    assert torch.equal(top_left, expected)
    assert torch.allclose(kernels.sum(0), torch.ones(2, 2, dtype=torch.float64))


def test_bilinear_reassembly_is_close_but_not_bitwise_in_float32():
    y = torch.randn(1, 4, 9, 9)
    out = ie.reassemble(y, ie.bilinear_kernels(9, 9, dtype=torch.float32), 3, padding="replicate")
    assert torch.allclose(out, F.interpolate(y, scale_factor=2, mode="bilinear"), atol=1e-6)


@given(st.integers(1, 2), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.sampled_from([2, 3]),
       st.integers(0, 10_000))
def test_pixel_shuffle_is_a_one_hot_channel_index(batch, channels, h, w, r, seed):
    x = _feature(batch, channels * r * r, h, w, seed)
    out = F.pixel_shuffle(x, r)
    for i in range(r):
        for j in range(r):
            # out[c, h·r+i, w·r+j] = in[c·r²+i·r+j, h, w]
            assert torch.equal(out[:, :, i::r, j::r], x[:, i * r + j::r * r])


@given(shapes)
def test_softmax_index_tends_to_max_pooling_as_temperature_goes_to_zero(shape):
    batch, channels, hb, wb, stride, seed = shape
    x = _feature(batch, channels, hb * stride, wb * stride, seed)
    pooled = ie.indexed_pool(x, ie.softmax_index(x, stride, temperature=1e-6), stride)
    # random normals: the window maxima are distinct by far more than T
    assert (pooled - F.max_pool2d(x, stride)).abs().max() <= TOL


@given(shapes)
def test_softmax_index_tends_to_average_pooling_as_temperature_goes_to_infinity(shape):
    batch, channels, hb, wb, stride, seed = shape
    x = _feature(batch, channels, hb * stride, wb * stride, seed)
    errors = [(ie.indexed_pool(x, ie.softmax_index(x, stride, temperature=t), stride)
               - F.avg_pool2d(x, stride)).abs().max().item() for t in (1e2, 1e4, 1e6)]
    assert errors[-1] <= 1e-5
    assert errors[0] >= errors[1] >= errors[2]


def test_softmax_index_sums_to_one_in_every_window():
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    pooled_ones = ie.indexed_pool(torch.ones_like(x), ie.softmax_index(x, 4, 0.3), 4)
    assert torch.allclose(pooled_ones, torch.ones(2, 3, 2, 2, dtype=torch.float64), atol=TOL)


@given(st.integers(1, 2), st.integers(1, 4), st.integers(1, 5), st.integers(1, 5), st.sampled_from([2, 4]),
       st.booleans(), st.integers(0, 10_000))
def test_indexed_upsampling_is_reassembly_with_kernel_size_one(batch, channels, h, w, stride, depthwise, seed):
    y = _feature(batch, channels, h, w, seed)
    index = torch.rand(batch, channels if depthwise else 1, h * stride, w * stride, dtype=torch.float64,
                       generator=torch.Generator().manual_seed(seed))
    groups = channels if depthwise else 1
    out = ie.reassemble(y, index, kernel_size=1, scale=stride, groups=groups)
    assert (out - ie.indexed_upsample(y, index, stride)).abs().max() <= TOL


def test_indexed_pool_matches_the_official_s_squared_average_pool_form():
    x = torch.randn(2, 5, 8, 8, dtype=torch.float64)
    index = torch.rand(2, 1, 8, 8, dtype=torch.float64)
    official = 4 * F.avg_pool2d(index * x, 2)
    assert (ie.indexed_pool(x, index) - official).abs().max() <= TOL
