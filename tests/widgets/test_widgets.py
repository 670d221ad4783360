"""The playground's callbacks, swept over every control's whole range (no timing here)."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from indexnet_edu.data.images import IMAGES, load_image
from indexnet_edu.upsamplers.index_blocks import HolisticIndexBlock
from indexnet_edu.widgets import (POOLING_INDICES, UPSAMPLERS, PoolingExplorer, TemperatureExplorer,
                                  UpsamplingExplorer, explore_pooling, explore_upsampling, kernel_at,
                                  measure_update_latency, pooling_indices, reassembled_output, temperature_curve)
from indexnet_edu.widgets.explorers import ZOOMS
from indexnet_edu.widgets.pooling import painted_index, random_index
from indexnet_edu.widgets.render import DISPLAY_SIDE
from indexnet_edu.widgets.temperature import TEMPERATURE_RANGE

SIZE = 32  # sweeps run on small images; one test checks the real 256×256 size


@pytest.fixture(scope="module")
def image():
    return load_image("astronaut", SIZE)


def block_for(stride, channels=3):
    torch.manual_seed(0)
    return HolisticIndexBlock(channels, stride).eval()


def decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


def kwargs_for(index, stride):
    return {"painting": np.eye(stride), "block": block_for(stride)} if index in ("painted", "trained") else {}


# --- (a) pooling ------------------------------------------------------------------------------


@pytest.mark.parametrize("stride", [2, 4])
@pytest.mark.parametrize("index", POOLING_INDICES)
def test_every_index_and_stride_gives_finite_maps_of_the_right_shapes(image, index, stride):
    view = explore_pooling(image, stride, index, **kwargs_for(index, stride))
    assert view.pooled.shape == (1, 3, SIZE // stride, SIZE // stride)
    assert view.unpooled.shape == view.error.shape == image.shape
    for tensor in (view.encoder_index, view.decoder_gate, view.pooled, view.unpooled, view.error):
        assert torch.isfinite(tensor).all()


@pytest.mark.parametrize("index", ["max", "average", "softmax", "random", "painted"])
def test_hand_made_encoder_indices_sum_to_one_per_window(image, index):
    enc, _ = pooling_indices(image, index, 4, painting=np.eye(4))
    sums = F.avg_pool2d(enc, 4) * 16
    assert torch.allclose(sums, torch.ones_like(sums), atol=1e-6)


def test_softmax_at_tiny_temperature_pools_like_max_pooling(image):
    view = explore_pooling(image, 2, "softmax", temperature=1e-6)
    assert torch.allclose(view.pooled, F.max_pool2d(image, 2), atol=1e-5)


def test_softmax_at_huge_temperature_pools_like_average_pooling(image):
    view = explore_pooling(image, 4, "softmax", temperature=1e6)
    assert torch.allclose(view.pooled, F.avg_pool2d(image, 4), atol=1e-6)


def test_softmax_gate_at_huge_temperature_unpools_like_nearest(image):
    view = explore_pooling(image, 2, "softmax", temperature=1e6)
    assert torch.allclose(view.unpooled, F.interpolate(F.avg_pool2d(image, 2), scale_factor=2), atol=1e-5)


@pytest.mark.parametrize("stride", [2, 4])
def test_max_index_reconstruction_is_max_unpooling(image, stride):
    pooled, positions = F.max_pool2d(image, stride, return_indices=True)
    view = explore_pooling(image, stride, "max")
    assert torch.equal(view.unpooled, F.max_unpool2d(pooled, positions, stride))


def test_average_index_reconstruction_is_nearest_upsampling(image):
    view = explore_pooling(image, 4, "average")
    assert torch.allclose(view.unpooled, F.interpolate(F.avg_pool2d(image, 4), scale_factor=4), atol=1e-6)


def test_whole_temperature_range_and_beyond_stays_finite(image):
    low, high = TEMPERATURE_RANGE
    for temperature in [1e-12, *np.logspace(np.log10(low), np.log10(high), 13), 1e12]:
        view = explore_pooling(image, 4, "softmax", temperature=float(temperature))
        assert torch.isfinite(view.unpooled).all() and torch.isfinite(view.decoder_gate).all()


@pytest.mark.parametrize("temperature", [0.0, -1.0, float("nan")])
def test_non_positive_temperature_is_refused(image, temperature):
    with pytest.raises(ValueError, match="temperature"):
        explore_pooling(image, 2, "softmax", temperature=temperature)


def test_random_index_is_one_hot_per_window_and_set_by_the_seed(image):
    first, again, other = (random_index(image, 2, seed) for seed in (3, 3, 4))
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert torch.equal(F.avg_pool2d(first, 2) * 4, torch.ones(1, 1, SIZE // 2, SIZE // 2))
    assert set(first.unique().tolist()) == {0.0, 1.0}


def test_painted_tile_is_normalised_per_window(image):
    index = painted_index([[3.0, 1.0], [0.0, 0.0]], image, 2)
    assert torch.allclose(index[0, 0, :2, :2], torch.tensor([[0.75, 0.25], [0.0, 0.0]]))


def test_painting_all_zero_falls_back_to_average(image):
    index = painted_index(np.zeros((2, 2)), image, 2)
    assert torch.allclose(index, torch.full_like(index, 0.25))


def test_full_size_painting_is_accepted(image):
    painting = np.random.default_rng(0).random((SIZE, SIZE))
    view = explore_pooling(image, 2, "painted", painting=painting)
    assert torch.isfinite(view.unpooled).all()


@pytest.mark.parametrize("painting", [np.eye(3), -np.eye(2), np.full((2, 2), np.inf)])
def test_bad_paintings_are_refused(image, painting):
    with pytest.raises(ValueError, match="painting"):
        explore_pooling(image, 2, "painted", painting=painting)


def test_trained_index_without_a_block_says_what_to_pass(image):
    with pytest.raises(ValueError, match="trained index block"):
        explore_pooling(image, 2, "trained")


def test_trained_block_of_another_stride_is_refused(image):
    with pytest.raises(ValueError, match="stride 4"):
        explore_pooling(image, 2, "trained", block=block_for(4))


def test_trained_block_indices_are_used_as_given(image):
    block = block_for(2)
    enc, dec = block(image)
    view = explore_pooling(image, 2, "trained", block=block)
    assert torch.equal(view.encoder_index, enc.detach()) and torch.equal(view.decoder_gate, dec.detach())


def test_single_channel_block_is_applied_to_each_channel(image):
    block = block_for(2, channels=1)
    view = explore_pooling(image, 2, "trained", block=block)
    _, green_gate = block(image[:, 1:2])
    assert torch.equal(view.decoder_gate[:, 1:2], green_gate.detach())


@pytest.mark.parametrize("stride", [3, 8])
def test_unsupported_stride_is_refused(image, stride):
    with pytest.raises(ValueError, match="stride"):
        explore_pooling(image, stride, "max")


# --- pooling explorer (pictures) ---------------------------------------------------------------


def test_pooling_explorer_draws_every_control_value():
    explorer = PoolingExplorer(SIZE, blocks={2: block_for(2), 4: block_for(4)})
    moves = [("image", IMAGES), ("stride", (2, 4)), ("index", POOLING_INDICES), ("zoom", ZOOMS),
             ("temperature", (1e-4, 1e-2, 1.0, 1e2)), ("seed", range(10)), ("row", (0, SIZE - 1)),
             ("col", (0, SIZE - 1)), ("painting", (np.zeros((2, 2)), np.ones((4, 4))))]
    for stride in (2, 4):
        explorer.draw(stride=stride)
        for control, values in moves:
            for value in values:
                pictures = explorer.draw(**{control: value})
                assert set(pictures) == {"index", "pooled", "unpooled", "error"}
                for png in pictures.values():
                    picture = decode(png)
                    assert picture.ndim == 3 and picture.shape[2] == 3 and max(picture.shape[:2]) <= DISPLAY_SIDE


@pytest.mark.parametrize("corner", [(0, 0), (SIZE - 1, SIZE - 1)])
def test_one_pixel_zoom_shows_that_pixel_enlarged(corner):
    explorer = PoolingExplorer(SIZE, index="average", stride=4)
    pictures = explorer.draw(zoom=1, row=corner[0], col=corner[1])
    unpooled = decode(pictures["unpooled"])
    assert unpooled.shape == (DISPLAY_SIDE, DISPLAY_SIDE, 3)
    expected = explorer.view.unpooled[0, :, corner[0], corner[1]].numpy() * 255
    assert np.allclose(unpooled[0, 0], expected, atol=1)
    assert (unpooled == unpooled[0, 0]).all()


def test_pooling_explorer_at_full_size_draws_256_pixel_panels():
    pictures = PoolingExplorer(256, zoom=256).draw()
    assert all(decode(png).shape == (256, 256, 3) for png in pictures.values())


@pytest.mark.parametrize("change", [{"stride": 3}, {"zoom": 3}, {"row": -1}, {"col": SIZE}, {"image": "lena"},
                                    {"index": "min"}, {"colour": 1}])
def test_pooling_explorer_refuses_out_of_range_controls(change):
    with pytest.raises(ValueError):
        PoolingExplorer(SIZE).draw(**change)


# --- (b) upsampling ---------------------------------------------------------------------------


@pytest.fixture(scope="module", params=[2, 4])
def upsampling_view(request):
    return explore_upsampling(load_image("camera", SIZE, gray=True), request.param)


@pytest.mark.parametrize("name", UPSAMPLERS)
def test_each_upsampler_equals_its_own_reassembly(upsampling_view, name):
    output = upsampling_view.outputs[name]
    assert output.shape == upsampling_view.image.shape and torch.isfinite(output).all()
    assert torch.allclose(reassembled_output(upsampling_view, name), output, atol=1e-5)


@pytest.mark.parametrize("name", UPSAMPLERS)
def test_kernel_at_a_pixel_reproduces_that_output_pixel(upsampling_view, name):
    for row, col in [(0, 0), (SIZE - 1, SIZE - 1), (0, SIZE - 1), (SIZE // 2 + 1, 3)]:
        at = kernel_at(upsampling_view, name, row, col)
        channels = at.neighbourhood.shape[0]
        kernel = np.broadcast_to(at.kernel, (channels, *at.kernel.shape[1:]))
        assert np.allclose((kernel * at.neighbourhood).sum(axis=(1, 2)), at.value, atol=1e-5)


def test_carafe_output_is_the_carafe_modules_own_forward():
    from indexnet_edu.widgets.upsampling import default_carafe

    image = load_image("camera", SIZE, gray=True)
    module = default_carafe(1, 2, seed=3)
    view = explore_upsampling(image, 2, carafe_module=module)
    with torch.no_grad():
        assert torch.allclose(view.outputs["carafe"], module(F.max_pool2d(image, 2)), atol=1e-6)


def test_kernels_are_the_textbook_ones():
    view = explore_upsampling(load_image("camera", SIZE, gray=True), 2)
    assert np.array_equal(kernel_at(view, "nearest", 5, 5).kernel, np.ones((1, 1, 1)))
    assert np.allclose(kernel_at(view, "bilinear", 5, 5).kernel[0], [[0, 0, 0], [0, 9 / 16, 3 / 16], [0, 3 / 16, 1 / 16]])
    assert np.isclose(kernel_at(view, "carafe", 5, 5).kernel.sum(), 1.0, atol=1e-5)
    gates = [kernel_at(view, "max_unpool", r, c).kernel.item() for r in (4, 5) for c in (4, 5)]
    assert sorted(gates) == [0.0, 0.0, 0.0, 1.0]


def test_trained_index_block_supplies_the_indexnet_gate():
    image, block = load_image("camera", SIZE, gray=True), block_for(2, channels=1)
    view = explore_upsampling(image, 2, index_block=block)
    assert torch.equal(view.reassemblies["indexnet"].kernels, block(image)[1].detach())


def test_carafe_of_another_scale_is_refused():
    from indexnet_edu.widgets.upsampling import default_carafe

    with pytest.raises(ValueError, match="stride"):
        explore_upsampling(load_image("camera", SIZE, gray=True), 2, carafe_module=default_carafe(1, 4))


@pytest.mark.parametrize("pixel", [(-1, 0), (0, SIZE), (True, 0)])
def test_kernel_at_refuses_pixels_outside_the_output(upsampling_view, pixel):
    with pytest.raises(ValueError, match="inside"):
        kernel_at(upsampling_view, "carafe", *pixel)


def test_upsampling_explorer_draws_every_control_value():
    explorer = UpsamplingExplorer(SIZE)
    moves = [("image", IMAGES), ("stride", (2, 4)), ("zoom", ZOOMS), ("row", (0, SIZE - 1)), ("col", (0, SIZE - 1))]
    for control, values in moves:
        for value in values:
            pictures = explorer.draw(**{control: value})
            assert len(pictures) == 1 + 3 * len(UPSAMPLERS)
            assert all(decode(pictures[f"{name}/error"]).shape[2] == 3 for name in UPSAMPLERS)
            assert all("<table" in pictures[f"{name}/kernel"] for name in UPSAMPLERS)


def test_moving_the_picked_pixel_changes_the_kernel_shown():
    explorer = UpsamplingExplorer(SIZE, stride=2)
    first = explorer.draw(row=4, col=4)["bilinear/kernel"]
    assert explorer.draw(row=5, col=5)["bilinear/kernel"] != first


# --- (c) temperature continuum ----------------------------------------------------------------


def test_continuum_curve_matches_the_pooling_explorer(image):
    temperatures = [1e-3, 0.05, 2.0]
    curve = temperature_curve(image, 2, temperatures)
    expected = [explore_pooling(image, 2, "softmax", t).mean_abs_error for t in temperatures]
    assert np.allclose(curve.errors, expected, atol=1e-6)


@pytest.mark.parametrize("stride", [2, 4])
def test_continuum_ends_on_the_max_and_average_asymptotes(image, stride):
    curve = temperature_curve(image, stride, [1e-8, 1e8])
    assert np.isclose(curve.errors[0], curve.max_error, atol=1e-5)
    assert np.isclose(curve.errors[1], curve.average_error, atol=1e-5)


@pytest.mark.parametrize("temperatures", [[], [0.0, 1.0], [[1.0]]])
def test_continuum_refuses_bad_temperature_lists(image, temperatures):
    with pytest.raises(ValueError, match="temperatures"):
        temperature_curve(image, 2, temperatures)


def test_temperature_explorer_marker_follows_the_slider_over_its_range():
    explorer = TemperatureExplorer(SIZE, points=5)
    low, high = TEMPERATURE_RANGE
    pictures = [explorer.draw(temperature=t)["plot"] for t in (low, 1.0, high)]
    assert len(set(pictures)) == 3
    assert all(decode(png).shape[2] == 3 for png in pictures)
    for stride in (2, 4):
        for name in IMAGES:
            assert decode(explorer.draw(image=name, stride=stride)["plot"]).ndim == 3


def test_temperature_explorer_shows_the_picture_melting_from_max_to_average():
    """The unpooled picture beside the curve is the softmax unpooling at the dial's T — at the
    highest T average pooling + nearest's picture — and changes as the dial moves."""
    from indexnet_edu.widgets import render
    from indexnet_edu.widgets.explorers import MELT_SIDE, MELT_ZOOM, cached_image

    explorer = TemperatureExplorer(64, points=5, image="camera")
    low, high = TEMPERATURE_RANGE
    image = cached_image("camera", 64)
    region = render.zoom_region(64, 32, 32, MELT_ZOOM)
    def picture(view):
        return render.enlarge(render.crop(render.to_rgb(view.unpooled), region), MELT_SIDE).astype(int)

    for temperature in (low, 0.05, high):
        shown = decode(explorer.draw(temperature=temperature)["unpooled"]).astype(int)
        assert np.array_equal(shown, picture(explore_pooling(image, 2, "softmax", temperature=temperature)))
    # At T = 100 every weight exp((x − max)/T) of a [0, 1] image lies in [0.99, 1]: average's picture to 1 %.
    assert np.abs(shown - picture(explore_pooling(image, 2, "average"))).max() <= 3
    middle = explorer.draw(temperature=0.05)
    assert len({middle["unpooled"], explorer.draw(temperature=low)["unpooled"],
                explorer.draw(temperature=high)["unpooled"]}) == 3
    assert decode(middle["error"]).shape[:2] == (MELT_SIDE, MELT_SIDE)


# --- ipywidgets wiring ------------------------------------------------------------------------


def test_the_temperature_dial_redraws_the_picture_not_only_the_dot():
    from indexnet_edu.widgets.apps import TemperatureApp

    app = TemperatureApp(size=SIZE, points=5)
    before = {name: image.value for name, image in app.images.items()}
    app.controls["temperature"].value = 10.0
    assert all(app.images[name].value != before[name] for name in ("unpooled", "error"))


def test_moving_the_temperature_slider_redraws_the_pooling_panels():
    from indexnet_edu.widgets.apps import PoolingApp

    app = PoolingApp(size=SIZE, index="softmax", zoom=SIZE)
    before = app.images["pooled"].value
    app.controls["temperature"].value = 10.0
    assert app.images["pooled"].value != before


def test_app_shows_a_message_instead_of_raising():
    from indexnet_edu.widgets.apps import PoolingApp

    app = PoolingApp(size=SIZE)
    app.set(index="trained")
    assert "trained index block" in app.status.value


def test_stride_four_gives_a_four_by_four_paint_grid():
    from indexnet_edu.widgets.apps import PoolingApp

    app = PoolingApp(size=SIZE)
    app.set(stride=4)
    assert len(app.paint_buttons) == 16 and app.painting().shape == (4, 4)
    before = app.set(index="painted")["unpooled"]
    app.paint_buttons[5].value = not app.paint_buttons[5].value
    assert app.images["unpooled"].value != before


def test_upsampling_app_pixel_slider_moves_the_kernel_table():
    from indexnet_edu.widgets.apps import UpsamplingApp

    app = UpsamplingApp(size=SIZE)
    before = app.tables["carafe"].value, app.images["input"].value
    app.controls["col"].value = 0
    assert (app.tables["carafe"].value, app.images["input"].value) != before


def test_temperature_app_slider_redraws_the_plot():
    from indexnet_edu.widgets.apps import TemperatureApp

    app = TemperatureApp(size=SIZE, points=5)
    before = app.plot.value
    app.controls["temperature"].value = 50.0
    assert app.plot.value != before


def test_latency_measure_reports_every_control_in_milliseconds():
    results = measure_update_latency(size=32, repeats=1)
    assert {"pooling.temperature", "upsampling.row", "temperature.temperature"} <= set(results)
    assert all(np.isfinite(ms) and ms > 0 for ms in results.values())


def test_one_pixel_wide_region_is_cut_and_enlarged_to_a_column():
    from indexnet_edu.widgets import render

    picture = np.arange(SIZE * SIZE * 3, dtype=np.uint8).reshape(SIZE, SIZE, 3)
    column = render.crop(picture, (0, 5, SIZE, 1))
    assert column.shape == (SIZE, 1, 3) and np.array_equal(column[:, 0], picture[:, 5])
    low_res = render.crop(picture[::4, ::4], (0, 5, SIZE, 1), scale=4)  # widened to whole 4×4 windows
    assert low_res.shape == (SIZE // 4, 1, 3)
    assert render.enlarge(column).shape == (DISPLAY_SIDE, DISPLAY_SIDE // SIZE, 3)


def test_kernel_tables_fix_every_cell_width_so_weights_never_overprint():
    """Lab's table CSS squeezed 30 px cells until "0.04" ran into its neighbour: every cell now
    carries its own fixed width, wider than four 10 px monospace digits (24 px)."""
    import re

    from indexnet_edu.widgets.render import kernel_table

    html = kernel_table(np.full((5, 5), 0.04))
    cells = re.findall(r"<td style=\"([^\"]*)\">([^<]*)</td>", html)
    assert len(cells) == 25 and all("width:28px" in style and "max-width:28px" in style for style, _ in cells)
    assert "table-layout:fixed" in html and "font:10px monospace" in html
    assert all(text == "0.04" for _, text in cells)


def test_explorer_column_titles_have_one_fixed_height_and_the_full_text_as_tooltip():
    from indexnet_edu.widgets.apps import column_title

    short, long = column_title("nearest"), column_title("IndexNet IU (stand-in gate: softmax T=0.05)", "error 0.1")
    for title in (short, long):
        assert "height:4.8em" in title and "overflow:hidden" in title
    assert 'title="IndexNet IU (stand-in gate: softmax T=0.05) — error 0.1"' in long
