"""A value an explorer refuses leaves it as it was (it keeps drawing), and image arguments of the
wrong size are refused with a message that names them."""
import math

import numpy as np
import pytest
import torch

from indexnet_edu.widgets.explorers import PoolingExplorer, TemperatureExplorer, UpsamplingExplorer
from indexnet_edu.widgets.pooling import explore_pooling
from indexnet_edu.widgets.temperature import temperature_curve
from indexnet_edu.widgets.upsampling import explore_upsampling


@pytest.mark.parametrize("make, bad", [
    (lambda: PoolingExplorer(size=64, index="painted"), {"painting": np.full((2, 2), math.nan)}),
    (lambda: PoolingExplorer(size=64, index="painted"), {"painting": -np.eye(2)}),
    (lambda: PoolingExplorer(size=64, index="painted"), {"painting": np.ones((3, 3))}),
    (lambda: PoolingExplorer(size=64), {"zoom": 32, "temperature": math.nan}),   # the good one is undone too
    (lambda: PoolingExplorer(size=64), {"seed": -1}),
    (lambda: UpsamplingExplorer(size=64), {"row": 12, "col": 64}),
    (lambda: TemperatureExplorer(size=64), {"temperature": -1.0}),
])
def test_a_refused_value_leaves_the_explorer_drawing_its_last_state(make, bad):
    explorer = make()
    before = explorer.draw()
    state = {name: getattr(explorer, name) for name in explorer.controls}
    with pytest.raises((ValueError, TypeError)):
        explorer.draw(**bad)
    after = {name: getattr(explorer, name) for name in explorer.controls}
    assert all(np.array_equal(np.asarray(after[name]), np.asarray(state[name])) for name in state)
    assert explorer.draw() == before  # still draws, the same pictures


@pytest.mark.parametrize("call", [
    lambda image: explore_pooling(image, 2),
    lambda image: explore_upsampling(image[:, :1], 2),
    lambda image: temperature_curve(image, 2, temperatures=[0.1, 1.0]),
])
def test_an_image_the_stride_does_not_tile_is_refused_by_name(call):
    with pytest.raises(ValueError, match=r"image height and width must be divisible by stride=2, got H×W = 33×34"):
        call(torch.rand(1, 3, 33, 34))
