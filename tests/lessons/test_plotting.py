"""Plotting helpers: tensors become drawable arrays, rows have one titled panel per picture."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from indexnet_edu.data.images import load_image  # noqa: E402
from indexnet_edu.lessons.plotting import show_row, show_temperature_strip, show_windows, to_numpy_image  # noqa: E402


@pytest.mark.parametrize("shape, expected", [
    ((1, 3, 4, 5), (4, 5, 3)), ((1, 1, 4, 5), (4, 5)), ((3, 4, 5), (4, 5, 3)), ((1, 4, 5), (4, 5)), ((4, 5), (4, 5)),
])
def test_to_numpy_image_gives_height_width_and_channels_last(shape, expected):
    assert to_numpy_image(torch.rand(*shape)).shape == expected


def test_to_numpy_image_keeps_values_and_detaches():
    value = torch.rand(1, 3, 2, 2, requires_grad=True)
    assert np.allclose(to_numpy_image(value), value.detach().permute(0, 2, 3, 1)[0].numpy())


@pytest.mark.parametrize("shape", [(2, 3, 4, 4), (5, 4, 4), (1, 2, 3, 4, 4)])
def test_to_numpy_image_refuses_shapes_it_cannot_draw(shape):
    with pytest.raises(ValueError, match="got shape"):
        to_numpy_image(torch.rand(*shape))


def test_to_numpy_image_refuses_other_types():
    with pytest.raises(TypeError, match="list"):
        to_numpy_image([[0.0]])


def test_show_row_draws_one_titled_panel_per_picture_with_requested_colorbars():
    figure = show_row([torch.rand(1, 3, 8, 8), torch.rand(1, 1, 8, 8)], ["rgb", "index"], colorbar=[False, True])
    titled = [axis for axis in figure.axes if axis.get_title()]
    assert [axis.get_title() for axis in titled] == ["rgb", "index"]
    assert len(figure.axes) == 3  # two panels and one colorbar
    plt.close(figure)


def test_show_row_refuses_mismatched_titles():
    with pytest.raises(ValueError, match="one title per picture"):
        show_row([torch.rand(4, 4)], ["a", "b"])


def test_show_windows_draws_one_text_per_pixel():
    figure = show_windows(torch.rand(1, 1, 4, 4), stride=2)
    assert len(figure.axes[0].texts) == 16
    plt.close(figure)


@pytest.fixture(scope="module")
def strip():
    image = load_image("camera", size=64, gray=True).double()
    figure, views = show_temperature_strip(image, stride=4)
    yield image, figure, views
    plt.close(figure)


def test_temperature_strip_draws_max_each_temperature_and_average_as_index_over_reconstruction(strip):
    image, figure, views = strip
    assert list(views) == ["max", "T=0.001", "T=0.05", "T=1", "T=100", "average"]
    panels = [axis for axis in figure.axes if axis.get_title()]
    assert len(panels) == 12  # 2 rows × 6 columns
    assert panels[0].get_title().startswith("max pooling") and panels[5].get_title().startswith("average pooling")
    assert [axis.get_title() for axis in panels[6:]] == [f"error {view.mean_abs_error:.3f}" for view in views.values()]


def test_temperature_strip_ends_are_max_and_average_pooling(strip):
    image, figure, views = strip
    assert torch.equal(views["max"].pooled, torch.nn.functional.max_pool2d(image, 4))
    assert torch.allclose(views["average"].pooled, torch.nn.functional.avg_pool2d(image, 4), atol=1e-12)
    # the softmax ends approach them: cold T pools like max, hot T like average
    assert (views["T=0.001"].pooled - views["max"].pooled).abs().max() < 5e-3
    assert (views["T=100"].pooled - views["average"].pooled).abs().max() < 5e-3
    assert (views["T=100"].unpooled - views["average"].unpooled).abs().mean() < 1e-3
    to_max = (views["T=0.001"].unpooled - views["max"].unpooled).abs().mean()
    assert to_max < 0.1 * (views["T=0.001"].unpooled - views["average"].unpooled).abs().mean()


@pytest.mark.parametrize("temperatures", [[], [0.0], [-1.0], [float("inf")], [float("nan")]])
def test_temperature_strip_refuses_temperatures_that_are_not_positive_numbers(temperatures):
    with pytest.raises(ValueError, match="positive finite"):
        show_temperature_strip(torch.rand(1, 1, 8, 8), stride=2, temperatures=temperatures)


def test_show_windows_writes_the_given_labels_over_the_colours():
    values = torch.tensor([[1.0, 5.0], [6.0, 6.0]]).view(1, 1, 2, 2)
    figure = show_windows(torch.tensor([[0.0, 0.0], [1.0, 0.0]]).view(1, 1, 2, 2), labels=values)
    assert sorted(text.get_text() for text in figure.axes[0].texts) == ["1.00", "5.00", "6.00", "6.00"]
    plt.close(figure)
    with pytest.raises(ValueError, match="labels must have the picture's shape"):
        show_windows(torch.zeros(1, 1, 2, 2), labels=torch.zeros(1, 1, 4, 4))
