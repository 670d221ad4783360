"""Cheap drawing for the widgets: tensors → uint8 pictures → PNG bytes for ``ipywidgets.Image``.

No matplotlib figure is rebuilt on a slider move: colour maps are 256-entry lookup tables,
zooming is integer nearest-neighbour repetition, and PNGs are written with fast compression.
"""
from __future__ import annotations

import io
from functools import lru_cache

import numpy as np
import torch
from PIL import Image

DISPLAY_SIDE = 256


@lru_cache(maxsize=None)
def _lookup_table(cmap: str) -> np.ndarray:
    from matplotlib import colormaps

    return (colormaps[cmap](np.linspace(0.0, 1.0, 256))[:, :3] * 255).round().astype(np.uint8)


def to_rgb(picture: torch.Tensor) -> np.ndarray:
    """1×C×H×W tensor in [0, 1] (C = 1 or 3) → H×W×3 uint8; other C use the channel mean."""
    array = picture[0].detach().to(torch.float32).clamp(0, 1).numpy()
    if array.shape[0] != 3:
        array = np.repeat(array.mean(0, keepdims=True), 3, axis=0)
    return (np.moveaxis(array, 0, -1) * 255 + 0.5).astype(np.uint8)


def colourise(values, vmin: float = 0.0, vmax: float = 1.0, cmap: str = "magma") -> np.ndarray:
    """A 2-D array (or 1×C×H×W tensor, averaged over C) → H×W×3 uint8 through a colour map."""
    if isinstance(values, torch.Tensor):
        values = values.detach().to(torch.float32)
        values = values[0].mean(0).numpy() if values.dim() == 4 else values.numpy()
    values = np.asarray(values, dtype=np.float32)
    scaled = (values - vmin) / max(vmax - vmin, 1e-12)
    codes = np.clip(np.nan_to_num(scaled) * 255 + 0.5, 0, 255).astype(np.uint8)
    return _lookup_table(cmap)[codes]


def crop(picture: np.ndarray, region: tuple[int, int, int, int], scale: int = 1) -> np.ndarray:
    """Cut the full-resolution ``region`` (top, left, height, width) out of a picture whose
    resolution is 1/scale of it; the cut is widened outwards to whole low-resolution pixels."""
    top, left, height, width = region
    r0, c0 = top // scale, left // scale
    r1, c1 = -(-(top + height) // scale), -(-(left + width) // scale)
    return picture[r0:max(r1, r0 + 1), c0:max(c1, c0 + 1)]


def enlarge(picture: np.ndarray, side: int = DISPLAY_SIDE) -> np.ndarray:
    """Repeat pixels by the largest integer factor that keeps the longer side <= ``side``."""
    factor = max(1, side // max(picture.shape[:2]))
    if factor == 1:
        return picture
    return np.repeat(np.repeat(picture, factor, axis=0), factor, axis=1)


def mark(picture: np.ndarray, top: int, left: int, side: int = 1, colour=(0, 255, 255)) -> np.ndarray:
    """A copy with a square outline drawn around the side×side cell at (top, left)."""
    out = picture.copy()
    height, width = out.shape[:2]
    r0, c0 = max(top - 1, 0), max(left - 1, 0)
    r1, c1 = min(top + side, height - 1), min(left + side, width - 1)
    out[r0, c0:c1 + 1] = out[r1, c0:c1 + 1] = colour
    out[r0:r1 + 1, c0] = out[r0:r1 + 1, c1] = colour
    return out


def kernel_table(kernel: np.ndarray, side: int = 5, cmap: str = "viridis") -> str:
    """HTML table of a k×k kernel centred in a side×side grid: each weight printed on a
    cell coloured from 0 to 1 (weights outside [0, 1] are clipped in colour, not in text)."""
    k = kernel.shape[0]
    offset = (side - k) // 2
    colours = _lookup_table(cmap)
    # Sizes inline on every cell (a notebook's own table CSS cannot squeeze them): "0.04" in 10 px
    # monospace is 24 px wide, so 28 px cells never overprint their neighbours.
    box = "width:28px;min-width:28px;max-width:28px;height:22px;padding:0;border:1px solid #fff;overflow:hidden"
    rows = []
    for r in range(side):
        cells = []
        for c in range(side):
            inside = offset <= r < offset + k and offset <= c < offset + k
            if inside:
                weight = float(kernel[r - offset, c - offset])
                red, green, blue = colours[int(np.clip(weight, 0, 1) * 255 + 0.5)]
                ink = "black" if weight > 0.6 else "white"
                cells.append(f'<td style="{box};background:rgb({red},{green},{blue});color:{ink}">{weight:.2f}</td>')
            else:
                cells.append(f'<td style="{box};background:#ddd"></td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    style = f"border-collapse:collapse;table-layout:fixed;width:{side * 30}px;font:10px monospace;text-align:center"
    return f'<table style="{style}">' + "".join(rows) + "</table>"


def png_bytes(picture: np.ndarray) -> bytes:
    """H×W×3 uint8 → PNG bytes (fast compression: a slider move must stay cheap)."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(picture)).save(buffer, format="png", compress_level=1)
    return buffer.getvalue()


def zoom_region(size: int, centre_row: int, centre_col: int, zoom: int) -> tuple[int, int, int, int]:
    """A zoom×zoom (top, left, height, width) window inside a size×size image, centred as
    near (centre_row, centre_col) as the borders allow."""
    zoom = max(1, min(int(zoom), size))
    top = min(max(int(centre_row) - zoom // 2, 0), size - zoom)
    left = min(max(int(centre_col) - zoom // 2, 0), size - zoom)
    return top, left, zoom, zoom
