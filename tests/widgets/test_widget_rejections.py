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


@pytest.mark.parametrize("name, bad, error", [
    ("temperature", math.nan, ValueError),
    ("painting", np.full((2, 2), math.inf), ValueError),
    ("seed", 2**32, ValueError),                 # beyond what the random index's generator takes
    ("row", 12.7, TypeError),                    # a fraction is not silently dropped
    ("col", True, TypeError),
    ("index", "median", ValueError),
])
def test_a_control_set_directly_is_checked_before_it_is_stored(name, bad, error):
    explorer = PoolingExplorer(size=64, index="painted")
    before = explorer.draw()
    kept = getattr(explorer, name)
    with pytest.raises(error, match=name):
        setattr(explorer, name, bad)
    assert np.array_equal(np.asarray(getattr(explorer, name)), np.asarray(kept))
    assert explorer.draw() == before


def test_the_size_of_an_explorer_is_fixed_once_it_is_made():
    explorer = UpsamplingExplorer(size=64)
    before = explorer.draw()
    with pytest.raises(AttributeError, match="size is fixed at 64"):
        explorer.size = 33
    assert explorer.draw() == before


@pytest.mark.parametrize("make, error, message", [
    (lambda: UpsamplingExplorer(size=64, gray="no"), TypeError, "gray must be True or False"),
    (lambda: UpsamplingExplorer(size=64, carafe_modules={3: torch.nn.Identity()}), ValueError,
     "stride of carafe_modules"),
    (lambda: PoolingExplorer(size=64, blocks={2: "hin"}), TypeError, r"blocks\[2\] must be a callable"),
    (lambda: TemperatureExplorer(size=64, temperature=math.nan), ValueError, "temperature"),
])
def test_explorer_arguments_are_refused_when_it_is_made(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize("call", [
    lambda image: explore_pooling(image, 2),
    lambda image: explore_upsampling(image[:, :1], 2),
    lambda image: temperature_curve(image, 2, temperatures=[0.1, 1.0]),
])
def test_an_image_with_nan_or_inf_is_refused_by_name(call):
    image = torch.rand(1, 3, 32, 32)
    image[0, 0, 3, 4] = math.nan
    with pytest.raises(ValueError, match="image must hold finite values"):
        call(image)
    image[0, 0, 3, 4] = math.inf
    with pytest.raises(ValueError, match="image must hold finite values"):
        call(image)


@pytest.mark.parametrize("shape, hint", [((32, 32), r"image\[None, None\]"), ((3, 32, 32), r"image\[None\]")])
def test_an_image_without_the_batch_axes_is_refused_with_the_cure(shape, hint):
    with pytest.raises(ValueError, match=rf"image must be a 4-D 1×C×H×W tensor, got {len(shape)}-D.*{hint}"):
        explore_pooling(torch.rand(shape), 2)


def test_complex_temperatures_are_refused_not_cut_to_their_real_part():
    with pytest.raises(ValueError, match="temperatures must be a non-empty 1-D sequence of positive numbers"):
        temperature_curve(torch.rand(1, 1, 8, 8), 2, temperatures=np.array([0.1 + 1j, 1.0]))


def test_an_app_puts_a_refused_control_back_so_the_next_move_draws():
    from indexnet_edu.widgets.apps import PoolingApp

    app = PoolingApp(size=64)
    app.set(index="trained")  # refused: no trained block was given
    assert "trained index block" in app.status.value
    assert app.controls["index"].value == app.explorer.index == "max"  # the control shows what is drawn
    before = app.images["unpooled"].value
    app.set(stride=4)  # a later move of another control draws again
    assert app.explorer.stride == 4 and app.images["unpooled"].value != before
    assert "trained index block" not in app.status.value
