"""Static stand-ins for the playground's widgets: an explorer drawn at a few settings, as one figure.

A widget needs a live kernel. In the rendered book, on GitHub or in any static viewer, a
reader sees these figures instead: each row (or panel) is what the widget shows after a
control move, so the figure says what moving the control does. The pictures are the
explorer's own (:meth:`draw`, the same PNGs the widget displays), and the explorer is left
at the controls it had.

>>> pooling_snapshots(PoolingExplorer())                 # max, softmax, average (and trained)
>>> upsampling_snapshots(UpsamplingExplorer())           # two strides, the kernel at one pixel
>>> temperature_snapshots(TemperatureExplorer())         # the dial at five temperatures
"""
from __future__ import annotations

import io
from contextlib import contextmanager

import numpy as np
from PIL import Image

from .explorers import POOLING_PANELS, PoolingExplorer, TemperatureExplorer, UpsamplingExplorer, cached_image
from .pooling import explore_pooling
from .upsampling import UPSAMPLERS

POOLING_TITLES = {"index": "index map (gate, 0…1)", "pooled": "pooled", "unpooled": "unpooled",
                  "error": "|error| (0…0.5)"}
DEFAULT_TEMPERATURES = (1e-4, 1e-2, 0.1, 1.0, 100.0)


def png_to_array(png: bytes) -> np.ndarray:
    """PNG bytes (as the explorers return them) → H×W×3 uint8."""
    if not isinstance(png, (bytes, bytearray)):
        raise TypeError(f"expected PNG bytes, got {type(png).__name__}")
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


@contextmanager
def _restoring(explorer):
    """Let a snapshot move the explorer's controls, then put them back (and redraw there)."""
    saved = {name: getattr(explorer, name) for name in explorer.controls}
    try:
        yield
    finally:
        explorer.draw(**saved)


def _check_explorer(explorer, kind) -> None:
    if not isinstance(explorer, kind):
        raise TypeError(f"expected {kind.__name__} (e.g. app.explorer), got {type(explorer).__name__}")


def _describe(setting: dict) -> str:
    parts = [str(setting.get("index", ""))] if "index" in setting else []
    parts += [f"{name} {value:.3g}" if isinstance(value, float) else f"{name} {value}"
              for name, value in setting.items() if name != "index"]
    return ", ".join(parts)


def default_pooling_settings(explorer: PoolingExplorer) -> list[dict]:
    """Max, softmax at T = 0.05 and average pooling; the trained index too when the explorer
    has a block for its stride."""
    settings = [{"index": "max"}, {"index": "softmax", "temperature": 0.05}, {"index": "average"}]
    if explorer.stride in explorer.blocks:
        settings.append({"index": "trained"})
    return settings


def pooling_snapshots(explorer: PoolingExplorer, settings=None, size: float = 2.2):
    """The pooling explorer at each setting (a dict of controls, e.g. ``{"index": "max"}``):
    one row per setting with the widget's four panels (index map, pooled, unpooled, error).

    Returns the matplotlib Figure. Raises TypeError for a non-explorer, ValueError for an
    unknown control or value (as :meth:`PoolingExplorer.draw` does).
    """
    import matplotlib.pyplot as plt

    _check_explorer(explorer, PoolingExplorer)
    settings = default_pooling_settings(explorer) if settings is None else list(settings)
    if not settings:
        raise ValueError("expected at least one setting, got none")
    figure, axes = plt.subplots(len(settings), len(POOLING_PANELS), squeeze=False,
                                figsize=(size * len(POOLING_PANELS), size * len(settings) + 0.3))
    with _restoring(explorer):
        for row, setting in zip(axes, settings):
            pictures = explorer.draw(**setting)
            for axis, panel in zip(row, POOLING_PANELS):
                axis.imshow(png_to_array(pictures[panel]), interpolation="nearest")
                axis.set_xticks([])
                axis.set_yticks([])
            row[0].set_ylabel(f"{_describe(setting)}\nerror {explorer.view.mean_abs_error:.4f}", fontsize=9)
    for axis, panel in zip(axes[0], POOLING_PANELS):
        axis.set_title(POOLING_TITLES[panel], fontsize=9)
    figure.suptitle(f"pooling explorer: {explorer.image}, stride {explorer.stride}, zoom {explorer.zoom} px",
                    fontsize=10)
    figure.tight_layout()
    return figure


def upsampling_snapshots(explorer: UpsamplingExplorer, settings=None, size: float = 1.7):
    """The upsampling explorer at each setting (default: stride 2 and stride 4 at the
    explorer's pixel): per setting a row of outputs (input, then each upsampler with its
    mean error) and a row with the reassembly kernel behind the marked pixel, weights printed.

    Returns the matplotlib Figure. Raises as :func:`pooling_snapshots` does.
    """
    import matplotlib.pyplot as plt

    _check_explorer(explorer, UpsamplingExplorer)
    settings = [{"stride": 2}, {"stride": 4}] if settings is None else list(settings)
    if not settings:
        raise ValueError("expected at least one setting, got none")
    columns = 1 + len(UPSAMPLERS)
    figure, axes = plt.subplots(2 * len(settings), columns, squeeze=False,
                                figsize=(size * columns, 2 * size * len(settings) + 0.4))
    with _restoring(explorer):
        for number, setting in enumerate(settings):
            pictures = explorer.draw(**setting)
            view, kernels = explorer.view, explorer.kernels()
            outputs, kernel_row = axes[2 * number], axes[2 * number + 1]
            outputs[0].imshow(png_to_array(pictures["input"]), interpolation="nearest")
            outputs[0].set_title(f"input, stride {explorer.stride}\npixel ({explorer.row}, {explorer.col})",
                                 fontsize=8)
            kernel_row[0].text(0.5, 0.5, "kernel at the\nmarked pixel,\ncentred on ⌊p/s⌋", ha="center",
                               va="center", fontsize=8, transform=kernel_row[0].transAxes)
            for column, name in enumerate(UPSAMPLERS, start=1):
                outputs[column].imshow(png_to_array(pictures[f"{name}/output"]), interpolation="nearest")
                outputs[column].set_title(f"{name}\nerror {float(view.errors[name].mean()):.4f}", fontsize=8)
                _draw_kernel(kernel_row[column], kernels[name].kernel.mean(axis=0))
            for axis in (*outputs, kernel_row[0]):
                axis.set_axis_off()
    figure.suptitle(f"upsampling explorer: {explorer.image}, zoom {explorer.zoom} px", fontsize=10)
    figure.tight_layout()
    return figure


def _draw_kernel(axis, kernel: np.ndarray, side: int = 5, fontsize: float = 5.5) -> None:
    """A k×k kernel centred in a side×side grid, coloured 0…1, each weight printed."""
    grid = np.full((side, side), np.nan)
    offset = (side - kernel.shape[0]) // 2
    grid[offset:offset + kernel.shape[0], offset:offset + kernel.shape[1]] = kernel
    axis.imshow(grid, cmap="viridis", vmin=0, vmax=1)
    for (r, c), weight in np.ndenumerate(grid):
        if not np.isnan(weight):
            axis.text(c, r, f"{weight:.2f}", ha="center", va="center", fontsize=fontsize,
                      color="black" if weight > 0.6 else "white")
    axis.set_xticks([])
    axis.set_yticks([])


def temperature_snapshots(explorer: TemperatureExplorer, temperatures=DEFAULT_TEMPERATURES, crop: int = 48,
                          size: float = 1.9):
    """The temperature dial at several temperatures: the error curve with a numbered dot per
    temperature (where the widget's dot goes), and beneath it the unpooled reconstruction at
    each temperature (a crop×crop window at the image centre), titled with its error.

    Returns the matplotlib Figure. Raises TypeError for a non-explorer, ValueError for an empty
    or non-positive temperature list.
    """
    import matplotlib.pyplot as plt

    _check_explorer(explorer, TemperatureExplorer)
    temperatures = [float(t) for t in temperatures]
    if not temperatures or min(temperatures) <= 0:
        raise ValueError(f"expected one or more positive temperatures, got {temperatures}")
    curve = explorer.curve()
    image = cached_image(explorer.image, explorer.size)
    centre, half = explorer.size // 2, crop // 2
    window = (..., slice(centre - half, centre + half), slice(centre - half, centre + half))
    figure = plt.figure(figsize=(size * len(temperatures), 2.4 + size))
    grid = figure.add_gridspec(2, len(temperatures), height_ratios=(2.4, size))
    plot = figure.add_subplot(grid[0, :])
    plot.loglog(curve.temperatures, curve.errors, color="tab:blue", label="softmax pooling + gate")
    plot.axhline(curve.max_error, color="tab:red", ls="--", label="max pool + max-unpool (T→0)")
    plot.axhline(curve.average_error, color="tab:green", ls="--", label="average pool + nearest (T→∞)")
    for number, temperature in enumerate(temperatures, start=1):
        view = explore_pooling(image, explorer.stride, "softmax", temperature)
        plot.plot([temperature], [view.mean_abs_error], "o", color="black", ms=5)
        plot.annotate(str(number), (temperature, view.mean_abs_error), textcoords="offset points",
                      xytext=(4, 4), fontsize=8)
        axis = figure.add_subplot(grid[1, number - 1])
        picture = view.unpooled[window][0].clamp(0, 1)
        axis.imshow(picture.permute(1, 2, 0).numpy() if picture.shape[0] == 3 else picture[0].numpy(),
                    cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        axis.set_title(f"{number}: T = {temperature:.3g}\nerror {view.mean_abs_error:.4f}", fontsize=8)
        axis.set_axis_off()
    plot.set_xlabel("softmax temperature T")
    plot.set_ylabel("mean |unpooled − image|")
    plot.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    plot.set_title(f"temperature dial: {explorer.image}, stride {explorer.stride}", fontsize=10)
    figure.tight_layout()
    return figure
