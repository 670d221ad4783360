"""Degenerate shapes, one rule everywhere: an empty batch gives an empty
result; no channels or an empty H×W is a ValueError naming the shape; empty metric inputs too."""
import numpy as np
import pytest
import torch

import indexnet_edu as ie
from indexnet_edu.experiments import metrics

EMPTY_MAP = r"at least one channel and a non-empty H×W .*got shape"


@pytest.mark.parametrize("name", ie.available_upsamplers())
def test_every_registry_upsampler_maps_an_empty_batch_to_an_empty_batch(name):
    pair = ie.create_upsampler(name, 4)
    pooled, state = pair.down(torch.randn(0, 4, 8, 8))
    assert pooled.shape == (0, 4, 4, 4)
    assert pair.up(pooled, state).shape == (0, 4, 8, 8)


def test_the_carafe_module_upsamples_an_empty_batch_to_an_empty_batch():
    assert ie.CARAFE(4).forward(torch.randn(0, 4, 8, 8)).shape == (0, 4, 16, 16)


def test_carafe_function_on_an_empty_batch_is_empty():
    assert ie.carafe(torch.randn(0, 4, 3, 3), torch.rand(0, 25, 6, 6), 5).shape == (0, 4, 6, 6)


def test_reassemble_on_an_empty_batch_is_empty_and_differentiable():
    y = torch.randn(0, 4, 3, 3, requires_grad=True)
    kernels = torch.rand(0, 9, 6, 6, requires_grad=True)
    ie.reassemble(y, kernels, 3).sum().backward()
    assert y.grad.shape == y.shape and kernels.grad.shape == kernels.shape


@pytest.mark.parametrize("recipe", [ie.max_index, ie.softmax_index, ie.average_index])
def test_index_recipes_on_an_empty_batch_are_empty(recipe):
    assert recipe(torch.randn(0, 3, 4, 4)).shape[0] == 0


def test_indexed_pool_and_upsample_on_an_empty_batch_are_empty():
    x = torch.randn(0, 3, 4, 4)
    assert ie.indexed_pool(x, ie.max_index(x)).shape == (0, 3, 2, 2)
    assert ie.indexed_upsample(x, torch.ones(0, 1, 8, 8)).shape == (0, 3, 8, 8)


@pytest.mark.parametrize("shape", [(1, 3, 0, 0), (1, 0, 4, 4), (1, 3, 0, 4)])
def test_max_index_refuses_maps_without_channels_or_pixels(shape):
    with pytest.raises(ValueError, match=EMPTY_MAP):
        ie.max_index(torch.randn(shape))


@pytest.mark.parametrize("call", [
    lambda: ie.indexed_pool(torch.randn(1, 0, 4, 4), torch.ones(1, 1, 4, 4)),
    lambda: ie.indexed_upsample(torch.randn(1, 3, 0, 2), torch.ones(1, 1, 0, 4)),
    lambda: ie.softmax_index(torch.randn(1, 3, 0, 0)),
    lambda: ie.nearest_index(torch.randn(2, 0, 2, 2)),
    lambda: ie.carafe(torch.randn(1, 4, 0, 3), torch.rand(1, 25, 0, 6), 5),
    lambda: ie.create_upsampler("carafe", 4).up(torch.randn(1, 4, 0, 0)),
    lambda: ie.create_upsampler("hin", 4).down(torch.randn(1, 4, 0, 0)),
    lambda: ie.DySample(4).forward(torch.randn(1, 4, 2, 0)),
])
def test_maps_without_channels_or_pixels_are_refused_everywhere(call):
    with pytest.raises(ValueError, match=EMPTY_MAP):
        call()


@pytest.mark.parametrize("metric", [metrics.sad, metrics.mse, metrics.gradient_error, metrics.connectivity_error])
def test_matting_metrics_refuse_an_empty_map(metric):
    empty = np.zeros((0, 0))
    with pytest.raises(ValueError, match=r"pred is empty \(shape \(0, 0\)\)"):
        metric(empty, empty, np.zeros((0, 0), np.uint8))


def test_psnr_refuses_empty_arrays():
    with pytest.raises(ValueError, match="PSNR needs at least one element"):
        metrics.psnr(np.zeros((0, 0)), np.zeros((0, 0)))


@pytest.mark.parametrize("metric", [metrics.miou, metrics.boundary_iou])
def test_segmentation_metrics_refuse_empty_label_maps(metric):
    empty = np.zeros((0, 0), np.int64)
    with pytest.raises(ValueError, match="are empty"):
        metric(empty, empty, 3)
