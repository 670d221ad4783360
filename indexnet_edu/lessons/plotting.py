"""Small matplotlib helpers the lessons share: tensors to pictures, a row of titled panels.

>>> show_row([image, index_map], ["image", "max index"], colorbar=[False, True])

Every figure is sized for the rendered book's page column (:mod:`indexnet_edu.figure_sizes`): at
most ``FIGURE_WIDTH_IN`` wide, so the book shows it at its own size, and no text under
``MIN_FONT_PT`` (tests/lessons/test_figure_sizes.py checks every figure a lesson shows).
"""
from __future__ import annotations

import textwrap
from typing import Sequence

import numpy as np
import torch

from ..figure_sizes import FIGURE_WIDTH_IN, MIN_FONT_PT


def wrap_title(title: str, width_in: float, fontsize: float = 10.0) -> str:
    """``title`` broken into lines that fit ``width_in`` inches at ``fontsize`` pt (about 0.6 em a
    character, a little wide so neighbours never touch), each line of the original kept as its own line."""
    characters = max(8, int(width_in * 72 / (0.6 * fontsize)))
    return "\n".join(textwrap.fill(line, characters) for line in title.split("\n"))


def to_numpy_image(value) -> np.ndarray:
    """A picture as a NumPy array matplotlib can draw.

    Accepts a tensor or array shaped 1×C×H×W, C×H×W or H×W (C = 1 or 3). Returns H×W for one
    channel and H×W×3 for three; tensors are detached and moved to the CPU first.
    """
    if isinstance(value, torch.Tensor):
        value = value.detach().to("cpu", torch.float64).numpy()
    if not isinstance(value, np.ndarray):
        raise TypeError(f"expected a torch.Tensor or numpy array, got {type(value).__name__}")
    array = value
    if array.ndim == 4:
        if array.shape[0] != 1:
            raise ValueError(f"a 4-D picture must have batch size 1 (1×C×H×W), got shape {array.shape}")
        array = array[0]
    if array.ndim == 3:
        if array.shape[0] == 1:
            array = array[0]
        elif array.shape[0] == 3:
            array = np.transpose(array, (1, 2, 0))
        else:
            raise ValueError(f"a 3-D picture must be 1×H×W or 3×H×W, got shape {array.shape}")
    if array.ndim != 2 and not (array.ndim == 3 and array.shape[2] == 3):
        raise ValueError(f"expected 1×C×H×W, C×H×W or H×W with C in (1, 3), got shape {value.shape}")
    return array


def show_row(pictures: Sequence, titles: Sequence[str] | None = None, colorbar=False, cmap: str = "gray",
             size: float = 3.0, vmin=None, vmax=None):
    """Draw pictures side by side, each with its title (and, where asked, a colorbar).

    Args:
        pictures: tensors or arrays accepted by :func:`to_numpy_image`.
        titles: one per picture (or None).
        colorbar: a bool for all panels or one bool per panel (drawn for single-channel panels only).
        cmap: colour map for single-channel panels ("gray" for images, e.g. "viridis" for indices).
        size: panel width in inches; the row never grows wider than the page column
            (:data:`FIGURE_WIDTH_IN`): more panels are narrower, and long titles wrap.
        vmin, vmax: shared colour limits for single-channel panels (None: each panel its own).

    Returns:
        The matplotlib Figure (so a notebook can keep or save it).
    """
    import matplotlib.pyplot as plt

    pictures = list(pictures)
    if not pictures:
        raise ValueError("show_row needs at least one picture, got none")
    titles = [None] * len(pictures) if titles is None else list(titles)
    if len(titles) != len(pictures):
        raise ValueError(f"expected one title per picture ({len(pictures)}), got {len(titles)}")
    bars = [colorbar] * len(pictures) if isinstance(colorbar, bool) else list(colorbar)
    if len(bars) != len(pictures):
        raise ValueError(f"colorbar must be a bool or one bool per picture ({len(pictures)}), got {len(bars)}")
    size = min(size, FIGURE_WIDTH_IN / len(pictures))
    lines = max((wrap_title(t, 0.9 * size).count("\n") + 1 for t in titles if t), default=0)
    figure, axes = plt.subplots(1, len(pictures), figsize=(size * len(pictures), size * 1.05 + 0.17 * lines),
                                squeeze=False)
    for axis, picture, title, bar in zip(axes[0], pictures, titles, bars):
        array = to_numpy_image(picture)
        if array.ndim == 3:
            shown = axis.imshow(np.clip(array, 0.0, 1.0))
        else:
            shown = axis.imshow(array, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        if title:
            axis.set_title(wrap_title(title, 0.9 * size), fontsize=10)
        axis.set_axis_off()
        if bar and array.ndim == 2:
            figure.colorbar(shown, ax=axis, fraction=0.046, pad=0.04)
    figure.tight_layout()
    return figure


def show_windows(picture, stride: int = 2, title: str | None = None, cmap: str = "viridis", size: float = 3.5,
                 annotate: bool = True, labels=None):
    """A small single-channel map with its stride×stride windows outlined (and values written).

    Meant for maps up to ~16×16, e.g. an index map next to the feature it was computed from.
    ``labels`` (same H×W as ``picture``) writes other numbers than the colours, e.g. the feature
    values over its index map, so a tie the index breaks is visible; default: the picture's own.
    """
    import matplotlib.pyplot as plt

    array = to_numpy_image(picture)
    if array.ndim != 2:
        raise ValueError(f"show_windows draws one channel, got an array of shape {array.shape}")
    height, width = array.shape
    written = array if labels is None else to_numpy_image(labels)
    if written.shape != array.shape:
        raise ValueError(f"labels must have the picture's shape {array.shape}, got {written.shape}")
    figure, axis = plt.subplots(figsize=(size, size))
    shown = axis.imshow(array, cmap=cmap, interpolation="nearest")
    for line in range(0, height + 1, stride):
        axis.axhline(line - 0.5, color="white", linewidth=2)
    for line in range(0, width + 1, stride):
        axis.axvline(line - 0.5, color="white", linewidth=2)
    if annotate:
        for row in range(height):
            for col in range(width):
                axis.text(col, row, f"{written[row, col]:.2f}", ha="center", va="center", fontsize=MIN_FONT_PT,
                          color="black",
                          bbox=dict(boxstyle="round,pad=0.1", facecolor="white", alpha=0.6, linewidth=0))
    if title:
        axis.set_title(title, fontsize=10)
    axis.set_xticks([])
    axis.set_yticks([])
    figure.colorbar(shown, ax=axis, fraction=0.046, pad=0.04)
    figure.tight_layout()
    return figure


STRIP_TEMPERATURES = (1e-3, 0.05, 1.0, 100.0)


def show_temperature_strip(image, stride: int = 4, temperatures: Sequence[float] = STRIP_TEMPERATURES,
                           size: float = 1.1):
    """The max ↔ average continuum on one picture: softmax pooling at several temperatures T.

    Columns: max pooling + max-unpooling, softmax pooling at each T (pooled with the index
    ``softmax(x/T)`` per window, unpooled with its window-max gate), average pooling + nearest
    upsampling. Top row: the index map (weights in [0, 1], one colour scale); bottom row: the
    reconstruction, titled with its mean |reconstruction − image|.

    Args:
        image: 1×C×H×W tensor in [0, 1], H and W divisible by ``stride``.
        stride: window size, 2 or 4.
        temperatures: positive softmax temperatures, drawn left (max-like) to right.
        size: panel width in inches (the strip never grows wider than :data:`FIGURE_WIDTH_IN`).

    Returns:
        ``(figure, views)``: the matplotlib Figure and a dict ``label → PoolingView`` with labels
        ``"max"``, ``"T=<t>"`` for each temperature (``f"T={t:g}"``) and ``"average"``.

    Raises:
        ValueError: a temperature that is not a positive finite number, or no temperatures.
    """
    import matplotlib.pyplot as plt

    from ..widgets.pooling import explore_pooling

    temperatures = [float(t) for t in temperatures]
    if not temperatures or not all(np.isfinite(t) and t > 0 for t in temperatures):
        raise ValueError(f"temperatures must be positive finite numbers, got {temperatures!r}")
    views = {"max": explore_pooling(image, stride, "max")}
    views.update({f"T={t:g}": explore_pooling(image, stride, "softmax", temperature=t) for t in temperatures})
    views["average"] = explore_pooling(image, stride, "average")
    titles = (["max pooling\n(T → 0)"] + [f"softmax\nT = {t:g}" for t in temperatures]
              + ["average pooling\n(T → ∞)"])
    size = min(size, (FIGURE_WIDTH_IN - 1.0) / len(views))
    figure, axes = plt.subplots(2, len(views), figsize=(size * len(views) + 1.0, size * 2 + 1.0), squeeze=False,
                                constrained_layout=True)
    for column, (title, view) in enumerate(zip(titles, views.values())):
        index = axes[0, column].imshow(to_numpy_image(view.encoder_index[:, :1]), cmap="viridis", vmin=0.0,
                                       vmax=1.0, interpolation="nearest")
        axes[0, column].set_title(title, fontsize=MIN_FONT_PT)
        axes[1, column].imshow(np.clip(to_numpy_image(view.unpooled), 0.0, 1.0), cmap="gray", vmin=0.0, vmax=1.0,
                               interpolation="nearest")
        axes[1, column].set_title(f"error {view.mean_abs_error:.3f}", fontsize=MIN_FONT_PT)
    for axis in axes.flat:
        axis.set_axis_off()
    axes[0, 0].text(-0.08, 0.5, "index", transform=axes[0, 0].transAxes, rotation=90, ha="right", va="center")
    axes[1, 0].text(-0.08, 0.5, "pool → unpool", transform=axes[1, 0].transAxes, rotation=90, ha="right",
                    va="center")
    figure.colorbar(index, ax=list(axes[0]), fraction=0.015, pad=0.01, label="index weight")
    return figure, views


def _curves_figure(height: float = 3.0):
    """A one-plot Figure as wide as the page column, laid out so a legend outside fits (object API)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(FIGURE_WIDTH_IN, height), layout="constrained")
    return figure, figure.subplots()


def show_softmax_pool_gaps(temperatures: Sequence[float], to_max: Sequence[float], to_average: Sequence[float],
                           stride: int = 2):
    """How far softmax pooling is from max and from average pooling, against its temperature T
    (log–log), with the bound (s²−1)·T/e on the first. The legend sits beside the plot, off the
    curves. Object API: returns the Figure (a notebook shows it as a cell's last expression)."""
    figure, axis = _curves_figure()
    bound = [(stride**2 - 1) * t / np.e for t in temperatures]
    axis.loglog(temperatures, to_max, "o-", color="tab:red", label="|softmax pool − max pool|")
    axis.loglog(temperatures, to_average, "s-", color="tab:green", label="|softmax pool − average pool|")
    axis.loglog(temperatures, bound, "k--", linewidth=1, label="bound (s²−1)·T/e")
    axis.set(xlabel="temperature T", ylabel="max abs difference")
    figure.legend(loc="outside right center")
    return figure


def show_loss_curves(curves: dict, baseline: float | None = None, baseline_label: str = "baseline",
                     ylabel: str = "reconstruction MSE"):
    """Training losses ``{name: [loss per step]}`` on a log axis, a fixed method's loss as a dashed
    line, the legend beside the plot. Object API: returns the Figure."""
    figure, axis = _curves_figure()
    for name, losses in curves.items():
        axis.semilogy(np.arange(len(losses)), losses, label=name)
    if baseline is not None:
        axis.axhline(baseline, color="gray", linestyle="--", label=baseline_label)
    axis.set(xlabel="step", ylabel=ylabel)
    figure.legend(loc="outside right center")
    return figure
