"""Every figure a lesson shows reads at the rendered book's page column.

The convention (what the book and JupyterLab do): the inline backend saves a figure as a PNG at
the figure's own dpi with ``bbox_inches="tight"``, and the book's page column is 730 px wide, so
the PNG is shown at min(its width, 730 px). A text of ``s`` pt therefore reads as
``s × min(1, 730 / png_width_px)`` pt. Every text the figure draws — titles, axis labels, tick
labels, legends, annotations, numbers printed on pictures — must read at ≥ 9 pt, and a figure
holds at most 12 panels (colour bars are keys, not panels). One idea per figure.

The builders below make each figure the way a lesson calls it (smaller images where the size of
a picture does not change the layout); each is named for the lesson that shows it (lesson 00's
strip and rows, lesson 10's strip plot are the same functions). A last test keeps the list whole:
every function a lesson calls from the drawing modules is either measured here or named as one
that returns data.
"""
from __future__ import annotations

import importlib
import inspect
import io
import json
import re
import struct
from pathlib import Path
from unittest import mock

import matplotlib

matplotlib.use("Agg", force=False)  # noqa: E402  (tests draw off-screen)
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.text import Text  # noqa: E402

COLUMN_PX = 730
MIN_READ_PT = 9.0
MAX_PANELS = 12


def png_width_px(figure) -> int:
    """The width of the PNG the inline backend makes of ``figure`` (its dpi, tight bounding box)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=figure.dpi, bbox_inches="tight")
    return struct.unpack(">I", buffer.getvalue()[16:20])[0]  # the IHDR chunk's width


def drawn_texts(figure) -> list[tuple[str, float]]:
    """(text, font size in pt) of every non-empty text drawn when the figure is rendered."""
    drawn, original = {}, Text.draw

    def recording(self, renderer):
        if self.get_visible() and self.get_text().strip():
            drawn[id(self)] = (self.get_text(), float(self.get_fontsize()))
        return original(self, renderer)

    with mock.patch.object(Text, "draw", recording):
        figure.savefig(io.BytesIO(), format="png", dpi=figure.dpi, bbox_inches="tight")
    return list(drawn.values())


def panels(figure) -> list:
    return [axis for axis in figure.axes if not hasattr(axis, "_colorbar")]


def rendered_sizes(figure) -> tuple[float, list[tuple[str, float]]]:
    """(the scale the book shows the figure at, [(text, size it reads at in pt)])."""
    scale = min(1.0, COLUMN_PX / png_width_px(figure))
    return scale, [(text, size * scale) for text, size in drawn_texts(figure)]


# ---------------------------------------------------------------------------------------------
# The figures, made as the lessons make them.


def _image(size=32, gray=False):
    from indexnet_edu.data.images import load_image

    return load_image("camera", size, gray=gray)


def show_row_01():
    from indexnet_edu.lessons.plotting import show_row

    image = _image(64, gray=True)
    return show_row([image] * 4, ["image", "avg-pool ×4 → nearest", "max-pool ×4 → max-unpool",
                                  "the max index (where)"])


def show_row_03_colorbars():
    from indexnet_edu.lessons.plotting import show_row

    image = _image(64)
    return show_row([image, image[:, :1], image[:, :1]],
                    ["image (64×64)", "learned decoder index", "max index (hand-made)"],
                    colorbar=[False, True, True], cmap="viridis")


def show_row_04_opening():
    from indexnet_edu.lessons.plotting import show_row

    image = _image(48, gray=True)
    titles = ["input", "nearest: 0.032", "bilinear: 0.030", "max_unpool: 0.172",
              "softmax gate (stand-in): 0.041", "CARAFE (untrained): 0.040"]
    return show_row([image] * len(titles), titles)


def show_row_04_details():
    from indexnet_edu.lessons.plotting import show_row

    one = torch.zeros(1, 1, 4, 4)
    return show_row([one] * 5, ["detail at (0,0)", "detail at (1,1)", "both max-pool to", "max-unpool of 1st",
                                "max-unpool of 2nd"], size=2.0)


def show_row_04_checkerboard():
    from indexnet_edu.lessons.plotting import show_row

    return show_row([torch.rand(1, 1, 17, 17), torch.rand(1, 1, 18, 18)], ["kernel 3, stride 2", "kernel 4, stride 2"],
                    colorbar=True, cmap="viridis", size=3.5)


def show_windows_01():
    from indexnet_edu.lessons.plotting import show_windows

    values = torch.rand(1, 1, 4, 4)
    return show_windows(values, stride=2, labels=values, title="the values of x; colour: the max index")


def temperature_strip_00():
    from indexnet_edu.lessons.plotting import show_temperature_strip

    return show_temperature_strip(_image(32, gray=True), stride=4)[0]


def softmax_pool_gaps_01():
    from indexnet_edu.lessons.plotting import show_softmax_pool_gaps

    temperatures = torch.logspace(-3, 3, 13).tolist()
    return show_softmax_pool_gaps(temperatures, [t / 3 for t in temperatures], [1 / (1 + t) for t in temperatures])


def loss_curves_03():
    from indexnet_edu.lessons.plotting import show_loss_curves

    steps = torch.arange(1, 101, dtype=torch.float64)
    curves = {"hin (linear)": (0.02 / steps.sqrt()).tolist(), "m2o (nonlinear)": (0.01 / steps.sqrt()).tolist()}
    return show_loss_curves(curves, baseline=0.003, baseline_label="average + nearest")


def temperature_snapshots_02():
    from indexnet_edu.widgets import TemperatureExplorer
    from indexnet_edu.widgets.snapshots import temperature_snapshots

    return temperature_snapshots(TemperatureExplorer(32, points=7))


def pooling_snapshots_02():
    from indexnet_edu.upsamplers.index_blocks import HolisticIndexBlock
    from indexnet_edu.widgets import PoolingExplorer
    from indexnet_edu.widgets.snapshots import pooling_snapshots

    torch.manual_seed(0)
    return pooling_snapshots(PoolingExplorer(32, blocks={2: HolisticIndexBlock(3, 2).eval()}, zoom=16))


def _upsampling_explorer():
    from indexnet_edu.widgets import UpsamplingExplorer

    return UpsamplingExplorer(32, row=9, col=14, zoom=16)


def upsampling_outputs_02():
    from indexnet_edu.widgets.snapshots import upsampling_snapshots

    return upsampling_snapshots(_upsampling_explorer(), {"stride": 2})


def learners_upsampler_10():
    from indexnet_edu.lessons.exercises import solution
    from indexnet_edu.widgets import UpsamplingExplorer
    from indexnet_edu.widgets.snapshots import upsampling_snapshots

    explorer = UpsamplingExplorer(32, zoom=16, extra_upsamplers={"gated_bilinear": solution("gated_bilinear")})
    return upsampling_snapshots(explorer, {"stride": 2}, names=["nearest", "bilinear", "gated_bilinear"])


def upsampling_kernels_02():
    from indexnet_edu.widgets.snapshots import kernel_snapshots

    return kernel_snapshots(_upsampling_explorer(), {"stride": 2})


def _table(tasks):
    from indexnet_edu.lessons.shipped import shipped_results

    return shipped_results(tasks)


def roundtrip_05():
    from indexnet_edu.data import make_dataset
    from indexnet_edu.lessons.training_views import roundtrip_figure

    return roundtrip_figure(make_dataset("reconstruction", split="test", n=4, size=32)[3]["image"])[0]


def strip_plot_05():
    from indexnet_edu.experiments.results import strip_plot

    return strip_plot(_table(["reconstruction"]), "reconstruction").figure


def prediction_grid_05():
    from indexnet_edu.data import make_dataset
    from indexnet_edu.lessons import training_views as views
    from indexnet_edu.lessons.shipped import model_or_train

    test = make_dataset("reconstruction", split="test", n=4, size=32)
    models = {name: model_or_train("reconstruction", name, progress=False) for name in ("bilinear", "hin")}
    return views.prediction_grid(models, views.stack_samples(test, range(3)))


def matting_sample_06():
    from indexnet_edu.data import make_dataset
    from indexnet_edu.lessons.plotting import show_row

    sample = make_dataset("matting", split="test", n=1, size=32)[0]
    return show_row([sample["image"], sample["trimap"], sample["alpha"]], ["image", "trimap", "alpha"])


def strip_panels_06():
    from indexnet_edu.lessons.training_views import strip_panels

    return strip_panels(_table(["matting_noskip", "matting"]), [("matting_noskip", "sad"), ("matting", "sad")])


def _matting_models(names=("bilinear", "hin", "din_o2o")):
    from indexnet_edu.lessons.shipped import model_or_train

    return {name: model_or_train("matting_noskip", name, progress=False) for name in names}


def boundary_closeups_06():
    from indexnet_edu.data import make_dataset
    from indexnet_edu.lessons.training_views import boundary_closeups

    return boundary_closeups(_matting_models(), make_dataset("matting", split="test", n=6, size=32)[5], crop=16)


def index_maps_06():
    from indexnet_edu.data import make_dataset
    from indexnet_edu.lessons.training_views import index_map_figure

    model, config = _matting_models(("hin",))["hin"]
    return index_map_figure(model, config, make_dataset("matting", split="test", n=6, size=32)[5])[0]


def carafe_vs_index_07():
    from indexnet_edu.lessons.plotting import show_row

    low = torch.rand(1, 1, 8, 8)
    return show_row([low, low, low, low], ["low-res", "CARAFE ×2", "index gate", "IndexNet ×2"], cmap="viridis",
                    vmin=0, vmax=1)


def segmentation_grid_07():
    from indexnet_edu.data import make_dataset
    from indexnet_edu.lessons import training_views as views
    from indexnet_edu.lessons.shipped import model_or_train

    test = make_dataset("texture_regions", split="test", n=4, size=32)
    models = {"bilinear (seed 0)": model_or_train("texture_regions", "bilinear", progress=False)}
    return views.prediction_grid(models, views.stack_samples(test, range(4)), count=4)


def strip_panels_07():
    from indexnet_edu.lessons.training_views import strip_panels

    return strip_panels(_table(["texture_regions"]), [("texture_regions", "miou"), ("texture_regions", "test_loss")])


def contrast_figure_07():
    from indexnet_edu.lessons.training_views import contrast_figure

    return contrast_figure(_table(["matting_noskip", "texture_regions"]), ["matting_noskip", "texture_regions"])


def _bench():
    from indexnet_edu.bench.plots import committed_results
    from indexnet_edu.bench.suite import load_results

    return load_results(committed_results("cpu.json"))


def memory_model_08():
    from indexnet_edu.bench.plots import plot_memory_model

    return plot_memory_model()


def scaling_08():
    from indexnet_edu.bench.plots import plot_scaling

    return plot_scaling(_bench()["scaling"], "forward_ms")


def scaling_memory_08():
    from indexnet_edu.bench.plots import plot_scaling

    return plot_scaling(_bench()["scaling"], "peak_extra_mib", names=("reassembly op (fast)", "reassembly op (naive)"))


def machine_limit_08():
    from indexnet_edu.bench.plots import plot_machine_limit

    return plot_machine_limit(_bench()["machine_limit"])


def kernels_figure_09():
    from indexnet_edu.lessons import fusion_views as fv
    from indexnet_edu.widgets.upsampling import explore_upsampling

    image = _image(48, gray=True)
    return fv.kernels_figure(explore_upsampling(image, 2), *fv.edge_pixel(image))


def contrast_figure_09():
    from indexnet_edu.lessons import fusion_views as fv
    from indexnet_edu.lessons.shipped import successor_results
    from indexnet_edu.lessons.training_views import contrast_figure

    tasks = ["matting_noskip", "reconstruction", "texture_regions"]
    arms = ["carafe", "hin", *fv.ARMS]
    return contrast_figure(successor_results(tasks, ["bilinear", *arms]), tasks, arms=arms)


FIGURES = [show_row_01, show_row_03_colorbars, show_row_04_opening, show_row_04_details, show_row_04_checkerboard,
           show_windows_01, temperature_strip_00, softmax_pool_gaps_01, loss_curves_03, temperature_snapshots_02,
           pooling_snapshots_02, upsampling_outputs_02, upsampling_kernels_02, roundtrip_05, strip_plot_05,
           prediction_grid_05, matting_sample_06, strip_panels_06, boundary_closeups_06, index_maps_06,
           carafe_vs_index_07, segmentation_grid_07, strip_panels_07, contrast_figure_07, memory_model_08, scaling_08,
           scaling_memory_08, machine_limit_08, kernels_figure_09, contrast_figure_09, learners_upsampler_10]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("make", FIGURES, ids=[make.__name__ for make in FIGURES])
def test_every_text_reads_at_nine_points_or_more_at_the_page_column(make):
    figure = make()
    scale, sizes = rendered_sizes(figure)
    too_small = sorted({(round(size, 1), text) for text, size in sizes if size < MIN_READ_PT - 1e-6})
    assert sizes, "the figure draws no text at all"
    assert not too_small, (f"shown at {scale:.2f}× (PNG {png_width_px(figure)} px, column {COLUMN_PX} px), "
                           f"{len(too_small)} texts read under {MIN_READ_PT:g} pt: {too_small[:8]}")


@pytest.mark.parametrize("make", FIGURES, ids=[make.__name__ for make in FIGURES])
def test_no_figure_holds_more_than_twelve_panels(make):
    figure = make()
    assert len(panels(figure)) <= MAX_PANELS, f"{len(panels(figure))} panels in one figure"


#: Where the lessons' figures come from.
DRAWING_MODULES = ("indexnet_edu.lessons.plotting", "indexnet_edu.lessons.training_views",
                   "indexnet_edu.lessons.fusion_views", "indexnet_edu.widgets.snapshots", "indexnet_edu.bench.plots",
                   "indexnet_edu.experiments.sweep")
#: Functions of those modules the lessons call that return data, not a figure.
NOT_FIGURES = {"committed_results", "edge_pixel", "first_seeds_contrast", "fit_successors", "index_map_structure",
               "kernel_concentration", "lesson_results_dir", "lineage_markdown", "load_results", "machine_gaps",
               "rerun_markdown", "special_case_errors", "stack_samples", "successor_contrasts"}


def called_in_lessons() -> set[str]:
    called = set()
    for lesson in (Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"):
        for cell in json.loads(lesson.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                called |= set(re.findall(r"\b([A-Za-z_]\w*)\(", "".join(cell["source"])))
    return called


def test_every_figure_function_a_lesson_calls_is_measured_here():
    measured = set().union(*(re.findall(r"\b([A-Za-z_]\w*)\(", inspect.getsource(make)) for make in FIGURES))
    called = called_in_lessons()
    figures = set()
    for name in DRAWING_MODULES:
        module = importlib.import_module(name)
        figures |= {function for function, value in vars(module).items()
                    if inspect.isfunction(value) and value.__module__ == name and function in called}
    figures -= NOT_FIGURES
    assert {"show_row", "upsampling_snapshots", "plot_scaling", "prediction_grid"} <= figures  # the scan finds them
    assert not figures - measured, f"figures the lessons show that no test measures: {sorted(figures - measured)}"


def test_the_check_measures_what_the_book_shows():
    """A figure twice the column's width is shown shrunk: its 10-pt title reads smaller."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(14.6, 2), dpi=100)
    figure.subplots().set_title("title", fontsize=10)
    scale, sizes = rendered_sizes(figure)
    assert png_width_px(figure) > 1000                     # the tight box trims only the margins
    assert scale == COLUMN_PX / png_width_px(figure) and ("title", pytest.approx(10 * scale)) in sizes
    narrow = Figure(figsize=(5, 2), dpi=100)
    narrow.subplots().set_title("title", fontsize=10)
    assert rendered_sizes(narrow)[0] == 1.0                # narrower than the column: shown as it is
    wide = Figure(figsize=(5, 2), dpi=100)
    wide.subplots(4, 4)
    assert len(panels(wide)) == 16
