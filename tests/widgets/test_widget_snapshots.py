"""The widgets' static stand-ins: each shows the explorer's own pictures at the settings asked for."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg", force=False)  # noqa: E402  (tests draw off-screen)
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from indexnet_edu.upsamplers.index_blocks import HolisticIndexBlock
from indexnet_edu.widgets import UPSAMPLERS, PoolingExplorer, TemperatureExplorer, UpsamplingExplorer, explore_pooling
from indexnet_edu.widgets.explorers import cached_image
from indexnet_edu.widgets.snapshots import (SNAPSHOT_POOLING_PANELS, kernel_snapshots, pooling_snapshots, png_to_array,
                                            temperature_snapshots, upsampling_snapshots)

SIZE = 32


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def shown_images(figure):
    return [axis.images[0].get_array() for axis in figure.axes if axis.images]


def controls(explorer):
    return {name: getattr(explorer, name) for name in explorer.controls if name != "painting"}


def test_pooling_snapshot_rows_are_the_explorers_own_pictures():
    settings = [{"index": "max"}, {"index": "softmax", "temperature": 0.3}, {"index": "average", "zoom": 16}]
    figure = pooling_snapshots(PoolingExplorer(SIZE), settings)
    reference = PoolingExplorer(SIZE)
    expected = [png_to_array(reference.draw(**s)[panel]) for s in settings for panel in SNAPSHOT_POOLING_PANELS]
    shown = shown_images(figure)
    assert len(shown) == len(settings) * len(SNAPSHOT_POOLING_PANELS)
    for picture, wanted in zip(shown, expected):
        np.testing.assert_array_equal(np.asarray(picture), wanted)
    assert "softmax, temperature 0.3" in figure.axes[len(SNAPSHOT_POOLING_PANELS)].get_ylabel()


def test_pooling_snapshot_shows_the_panels_asked_for():
    figure = pooling_snapshots(PoolingExplorer(SIZE), [{"index": "max"}], panels=("pooled", "error"))
    assert [axis.get_title() for axis in figure.axes] == ["pooled", "|error| (0…0.5)"]


def test_snapshots_leave_the_explorer_where_it_was():
    explorer = PoolingExplorer(SIZE, index="softmax", temperature=0.5, zoom=8, row=3, col=5)
    before_controls, before_pictures = controls(explorer), explorer.draw()
    before_error = explorer.view.mean_abs_error
    pooling_snapshots(explorer, [{"index": "max", "stride": 4, "zoom": 32}])
    assert controls(explorer) == before_controls
    assert explorer.view.mean_abs_error == before_error
    assert explorer.draw() == before_pictures


def test_trained_row_appears_only_with_a_block_for_the_stride():
    torch.manual_seed(0)
    plain = pooling_snapshots(PoolingExplorer(SIZE))
    trained = pooling_snapshots(PoolingExplorer(SIZE, blocks={2: HolisticIndexBlock(3, 2).eval()}))
    assert len(shown_images(plain)) == 3 * 3 and len(shown_images(trained)) == 4 * 3
    assert "trained" in trained.axes[9].get_ylabel()


def test_upsampling_snapshot_shows_the_input_and_every_upsamplers_output():
    explorer = UpsamplingExplorer(SIZE, row=9, col=14, zoom=16)
    figure = upsampling_snapshots(explorer, {"stride": 4, "row": 20})
    reference = UpsamplingExplorer(SIZE, row=9, col=14, zoom=16)
    pictures = reference.draw(stride=4, row=20)
    expected = [pictures["input"]] + [pictures[f"{name}/output"] for name in UPSAMPLERS]
    shown = shown_images(figure)
    assert len(shown) == 1 + len(UPSAMPLERS)
    for picture, wanted in zip(shown, expected):
        np.testing.assert_array_equal(np.asarray(picture), png_to_array(wanted))
    assert figure.axes[1 + UPSAMPLERS.index("bilinear")].get_title().startswith("bilinear\nerror")
    assert (explorer.stride, explorer.row) == (2, 9)                   # the explorer is left where it was


def test_kernel_snapshot_prints_each_upsamplers_kernel_weights():
    explorer = UpsamplingExplorer(SIZE, row=9, col=14, zoom=16)
    figure = kernel_snapshots(explorer, {"stride": 2})
    assert len(shown_images(figure)) == len(UPSAMPLERS)
    reference = UpsamplingExplorer(SIZE, row=9, col=14, zoom=16)
    reference.draw(stride=2)
    bilinear = reference.kernels()["bilinear"].kernel.mean(axis=0)
    kernel_axis = figure.axes[UPSAMPLERS.index("bilinear")]
    printed = sorted(float(text.get_text()) for text in kernel_axis.texts)
    assert printed == pytest.approx(sorted(np.round(bilinear.ravel(), 2)), abs=1e-9)


def test_temperature_snapshot_puts_a_dot_where_the_dial_would():
    explorer = TemperatureExplorer(SIZE, points=7)
    temperatures = (1e-3, 0.5, 50.0)
    figure = temperature_snapshots(explorer, temperatures, crop=16)
    curve_axis = figure.axes[0]
    dots = [line for line in curve_axis.lines if line.get_marker() == "o"]
    image = cached_image(explorer.image, SIZE)
    for dot, temperature in zip(dots, temperatures):
        x, y = dot.get_xdata()[0], dot.get_ydata()[0]
        assert x == temperature
        assert y == pytest.approx(explore_pooling(image, 2, "softmax", temperature).mean_abs_error)
    assert len(dots) == len(temperatures) and len(shown_images(figure)) == len(temperatures)
    assert shown_images(figure)[0].shape[:2] == (16, 16)


@pytest.mark.parametrize("call, error, message", [
    (lambda: pooling_snapshots(object()), TypeError, "expected PoolingExplorer"),
    (lambda: upsampling_snapshots(PoolingExplorer(SIZE)), TypeError, "expected UpsamplingExplorer"),
    (lambda: kernel_snapshots(PoolingExplorer(SIZE)), TypeError, "expected UpsamplingExplorer"),
    (lambda: pooling_snapshots(PoolingExplorer(SIZE), panels=("colour",)), ValueError, "panels must be"),
    (lambda: pooling_snapshots(PoolingExplorer(SIZE), []), ValueError, "at least one setting"),
    (lambda: pooling_snapshots(PoolingExplorer(SIZE), [{"colour": 1}]), ValueError, "unknown control"),
    (lambda: temperature_snapshots(TemperatureExplorer(SIZE), [1.0, 0.0]), ValueError, "positive temperatures"),
    (lambda: png_to_array("not bytes"), TypeError, "expected PNG bytes"),
])
def test_bad_input_is_refused_clearly(call, error, message):
    with pytest.raises(error, match=message):
        call()
