"""Small matplotlib helpers the lessons share: tensors to pictures, a row of titled panels.

>>> show_row([image, index_map], ["image", "max index"], colorbar=[False, True])
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch


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
        size: panel width in inches.
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
    figure, axes = plt.subplots(1, len(pictures), figsize=(size * len(pictures), size * 1.05), squeeze=False)
    for axis, picture, title, bar in zip(axes[0], pictures, titles, bars):
        array = to_numpy_image(picture)
        if array.ndim == 3:
            shown = axis.imshow(np.clip(array, 0.0, 1.0))
        else:
            shown = axis.imshow(array, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        if title:
            axis.set_title(title, fontsize=10)
        axis.set_axis_off()
        if bar and array.ndim == 2:
            figure.colorbar(shown, ax=axis, fraction=0.046, pad=0.04)
    figure.tight_layout()
    return figure


def show_windows(picture, stride: int = 2, title: str | None = None, cmap: str = "viridis", size: float = 3.5,
                 annotate: bool = True):
    """A small single-channel map with its stride×stride windows outlined (and values written).

    Meant for maps up to ~16×16, e.g. an index map next to the feature it was computed from.
    """
    import matplotlib.pyplot as plt

    array = to_numpy_image(picture)
    if array.ndim != 2:
        raise ValueError(f"show_windows draws one channel, got an array of shape {array.shape}")
    height, width = array.shape
    figure, axis = plt.subplots(figsize=(size, size))
    shown = axis.imshow(array, cmap=cmap, interpolation="nearest")
    for line in range(0, height + 1, stride):
        axis.axhline(line - 0.5, color="white", linewidth=2)
    for line in range(0, width + 1, stride):
        axis.axvline(line - 0.5, color="white", linewidth=2)
    if annotate:
        for row in range(height):
            for col in range(width):
                axis.text(col, row, f"{array[row, col]:.2f}", ha="center", va="center", fontsize=7, color="black",
                          bbox=dict(boxstyle="round,pad=0.1", facecolor="white", alpha=0.6, linewidth=0))
    if title:
        axis.set_title(title, fontsize=10)
    axis.set_xticks([])
    axis.set_yticks([])
    figure.colorbar(shown, ax=axis, fraction=0.046, pad=0.04)
    figure.tight_layout()
    return figure
