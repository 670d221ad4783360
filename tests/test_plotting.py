"""Plotting helpers: tensors become drawable arrays, rows have one titled panel per picture."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from indexnet_edu.lessons.plotting import show_row, show_windows, to_numpy_image  # noqa: E402


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
