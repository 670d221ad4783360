"""Static stand-ins for the playground's widgets: an explorer drawn at a few settings, as one figure.

A widget needs a live kernel. In the rendered book, on GitHub or in any static viewer, a
reader sees these figures instead: each row (or panel) is what the widget shows after a
control move, so the figure says what moving the control does. The pictures are the
explorer's own (:meth:`draw`, the same PNGs the widget displays), and the explorer is left
at the controls it had.

>>> pooling_snapshots(PoolingExplorer())                 # max, softmax, average (and trained)
>>> upsampling_snapshots(UpsamplingExplorer(), {"stride": 4})   # every upsampler's output
>>> kernel_snapshots(UpsamplingExplorer())               # the kernel at the marked pixel
>>> temperature_snapshots(TemperatureExplorer())         # the dial at five temperatures

Each is sized for the book's page column (one idea, at most 12 panels, text ≥ 9 pt) and made
with matplotlib's object API: nothing global changes, and the caller shows the returned Figure.
"""
from __future__ import annotations

import io
from contextlib import contextmanager

import numpy as np
from PIL import Image

from ..figure_sizes import FIGURE_WIDTH_IN, MIN_FONT_PT
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


#: The pooling explorer's panels a snapshot row shows: the pooled map (a smaller copy of the
#: picture) is left out, so four settings fit in one figure that reads at the page column.
SNAPSHOT_POOLING_PANELS = ("index", "unpooled", "error")


def _figure(width: float, height: float):
    """A constrained-layout Figure (object API: no pyplot state; a notebook shows the returned
    Figure as a cell's last expression or with ``display``)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(min(width, FIGURE_WIDTH_IN), height), layout="constrained")


def pooling_snapshots(explorer: PoolingExplorer, settings=None, panels=SNAPSHOT_POOLING_PANELS, size: float = 1.75):
    """The pooling explorer at each setting (a dict of controls, e.g. ``{"index": "max"}``):
    one row per setting with the widget's ``panels`` (default: index map, unpooled, error; any of
    :data:`POOLING_PANELS`), the setting and its mean error at the left.

    Returns the matplotlib Figure (object API). Raises TypeError for a non-explorer, ValueError for
    an unknown control or value (as :meth:`PoolingExplorer.draw` does) or an unknown panel.
    """
    _check_explorer(explorer, PoolingExplorer)
    settings = default_pooling_settings(explorer) if settings is None else list(settings)
    if not settings:
        raise ValueError("expected at least one setting, got none")
    panels = tuple(panels)
    if not panels or not set(panels) <= set(POOLING_PANELS):
        raise ValueError(f"panels must be some of {POOLING_PANELS}, got {panels}")
    figure = _figure(size * len(panels) + 1.6, size * len(settings) + 0.5)
    axes = figure.subplots(len(settings), len(panels), squeeze=False)
    with _restoring(explorer):
        for row, setting in zip(axes, settings):
            pictures = explorer.draw(**setting)
            for axis, panel in zip(row, panels):
                axis.imshow(png_to_array(pictures[panel]), interpolation="nearest")
                axis.set_xticks([])
                axis.set_yticks([])
            row[0].set_ylabel(f"{_describe(setting)}\nerror {explorer.view.mean_abs_error:.4f}", fontsize=MIN_FONT_PT)
    for axis, panel in zip(axes[0], panels):
        axis.set_title(POOLING_TITLES[panel], fontsize=MIN_FONT_PT)
    figure.suptitle(f"pooling explorer: {explorer.image}, stride {explorer.stride}, zoom {explorer.zoom} px",
                    fontsize=10)
    return figure


def upsampling_snapshots(explorer: UpsamplingExplorer, setting=None, size: float = 2.0, names=None):
    """The upsampling explorer at one setting (default: its stride 2 at its pixel): the input and
    each upsampler's output around the marked pixel, titled with its mean error, three a row.
    ``names``: the columns shown (default every one of the explorer's, extra upsamplers included).
    The kernels behind the marked pixel are :func:`kernel_snapshots`.

    Returns the matplotlib Figure (object API). Raises as :func:`pooling_snapshots` does, and
    ValueError for a name the explorer does not show.
    """
    _check_explorer(explorer, UpsamplingExplorer)
    setting = {"stride": 2} if setting is None else dict(setting)
    names = explorer.names if names is None else tuple(names)
    unknown = [name for name in names if name not in explorer.names]
    if unknown or not names:
        raise ValueError(f"names must be some of {explorer.names}, got {list(names)}")
    columns = 3
    rows = -(-(1 + len(names)) // columns)
    figure = _figure(size * columns, (size + 0.45) * rows + 0.3)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    with _restoring(explorer):
        pictures = explorer.draw(**setting)
        view = explorer.view
        axes[0].imshow(png_to_array(pictures["input"]), interpolation="nearest")
        axes[0].set_title(f"input (high-res)\npixel ({explorer.row}, {explorer.col})",
                          fontsize=MIN_FONT_PT)
        for axis, name in zip(axes[1:], names):
            axis.imshow(png_to_array(pictures[f"{name}/output"]), interpolation="nearest")
            axis.set_title(f"{name}\nerror {float(view.errors[name].mean()):.4f}", fontsize=MIN_FONT_PT)
        figure.suptitle(f"upsampling explorer: {explorer.image}, stride {explorer.stride}, zoom {explorer.zoom} px",
                        fontsize=10)
    for axis in axes:
        axis.set_axis_off()
    return figure


def kernel_snapshots(explorer: UpsamplingExplorer, setting=None, size: float = 1.75):
    """The reassembly kernel behind the explorer's marked pixel for each upsampler, at one setting
    (default: stride 2), weights printed, centred on the low-resolution pixel ⌊p/s⌋; four a row.

    Returns the matplotlib Figure (object API). Raises as :func:`pooling_snapshots` does.
    """
    _check_explorer(explorer, UpsamplingExplorer)
    setting = {"stride": 2} if setting is None else dict(setting)
    columns = 4
    rows = -(-len(UPSAMPLERS) // columns)
    figure = _figure(size * columns, (size + 0.3) * rows + 0.4)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    with _restoring(explorer):
        explorer.draw(**setting)
        kernels = explorer.kernels()
        for axis, name in zip(axes, UPSAMPLERS):
            _draw_kernel(axis, kernels[name].kernel.mean(axis=0))
            axis.set_title(name, fontsize=MIN_FONT_PT)
        figure.suptitle(f"the kernel at pixel ({explorer.row}, {explorer.col}), stride {explorer.stride}, "
                        "centred on ⌊p/s⌋", fontsize=10)
    for axis in axes[len(UPSAMPLERS):]:
        axis.set_axis_off()
    return figure


def _draw_kernel(axis, kernel: np.ndarray, side: int = 5, fontsize: float = MIN_FONT_PT) -> None:
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
                          size: float = 1.4):
    """The temperature dial at several temperatures: the error curve with a numbered dot per
    temperature (where the widget's dot goes), and beneath it the unpooled reconstruction at
    each temperature (a crop×crop window at the image centre), titled with its error.

    Returns the matplotlib Figure (object API). Raises TypeError for a non-explorer, ValueError
    for an empty or non-positive temperature list.
    """
    _check_explorer(explorer, TemperatureExplorer)
    temperatures = [float(t) for t in temperatures]
    if not temperatures or min(temperatures) <= 0:
        raise ValueError(f"expected one or more positive temperatures, got {temperatures}")
    curve = explorer.curve()
    image = cached_image(explorer.image, explorer.size)
    centre, half = explorer.size // 2, crop // 2
    window = (..., slice(centre - half, centre + half), slice(centre - half, centre + half))
    figure = _figure(FIGURE_WIDTH_IN, 2.6 + size + 0.5)
    top, bottom = figure.subfigures(2, 1, height_ratios=(2.6, size + 0.5))
    plot = top.subplots()
    plot.loglog(curve.temperatures, curve.errors, color="tab:blue", label="softmax pooling + gate")
    plot.axhline(curve.max_error, color="tab:red", ls="--", label="max pool + max-unpool (T→0)")
    plot.axhline(curve.average_error, color="tab:green", ls="--", label="average pool + nearest (T→∞)")
    axes = bottom.subplots(1, len(temperatures), squeeze=False)[0]
    for number, (temperature, axis) in enumerate(zip(temperatures, axes), start=1):
        view = explore_pooling(image, explorer.stride, "softmax", temperature)
        plot.plot([temperature], [view.mean_abs_error], "o", color="black", ms=5)
        plot.annotate(str(number), (temperature, view.mean_abs_error), textcoords="offset points",
                      xytext=(4, 4), fontsize=MIN_FONT_PT)
        picture = view.unpooled[window][0].clamp(0, 1)
        axis.imshow(picture.permute(1, 2, 0).numpy() if picture.shape[0] == 3 else picture[0].numpy(),
                    cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        axis.set_title(f"{number}: T = {temperature:.3g}\nerror {view.mean_abs_error:.4f}", fontsize=MIN_FONT_PT)
        axis.set_axis_off()
    plot.set_xlabel("softmax temperature T")
    plot.set_ylabel("mean |unpooled − image|")
    plot.legend(fontsize=MIN_FONT_PT, loc="center left", bbox_to_anchor=(1.01, 0.5))
    plot.set_title(f"temperature dial: {explorer.image}, stride {explorer.stride}", fontsize=10)
    return figure
