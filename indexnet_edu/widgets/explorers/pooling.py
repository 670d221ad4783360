"""(a) The pooling explorer: image, stride, index → index map, pooled, unpooled, error."""
from __future__ import annotations

import numpy as np

from ..._checks import check_choice, check_positive_real, check_seed
from ...data.images import IMAGES
from .. import render
from ..pooling import POOLING_INDICES, STRIDES, PoolingView, explore_pooling
from .base import ERROR_VMAX, ZOOMS, _Explorer, _per_stride, cached_image

POOLING_PANELS = ("index", "pooled", "unpooled", "error")


class PoolingExplorer(_Explorer):
    """(a) Image, stride, index → index map, pooled, unpooled, error, in a zoom window.

    ``blocks`` maps a stride to a trained index block (or is one block, used at its own
    stride) for ``index="trained"``; ``painting`` is the s×s tile (or H×W array) of
    ``index="painted"``. ``zoom`` is the window side in pixels, centred at (row, col).
    """

    controls = ("image", "stride", "index", "temperature", "seed", "painting", "zoom", "row", "col")

    def __init__(self, size: int = 256, blocks=None, image: str = "astronaut", stride: int = 2,
                 index: str = "max", temperature: float = 0.05, seed: int = 0, painting=None,
                 zoom: int = 64, row: int | None = None, col: int | None = None):
        super().__init__(size)
        if blocks is not None and not isinstance(blocks, dict):
            blocks = {getattr(blocks, "stride", 2): blocks}
        self.blocks = _per_stride(blocks, "blocks")
        self.image, self.stride, self.index = image, stride, index
        self.temperature, self.seed, self.zoom = temperature, seed, zoom
        self.painting = np.eye(2) if painting is None else painting
        self.row = size // 2 if row is None else row
        self.col = size // 2 if col is None else col
        self.view: PoolingView | None = None
        self._cache: tuple = (None, None)

    def _checked(self, name, value):
        if name == "image":
            return check_choice(value, "image", IMAGES)
        if name == "stride":
            return check_choice(value, "stride", STRIDES)
        if name == "index":
            return check_choice(value, "index", POOLING_INDICES)
        if name == "temperature":
            return check_positive_real(value, "temperature")
        if name == "zoom":
            return check_choice(value, "zoom", ZOOMS)
        if name in ("row", "col"):
            return self._checked_position(name, value)
        if name == "seed":
            return check_seed(value, "seed")
        if name == "painting":
            return self._checked_painting(value)
        return value

    def _checked_painting(self, value) -> np.ndarray:
        try:
            tile = np.array(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"painting must be an array of weights, got {type(value).__name__}") from None
        shapes = [(2, 2), (4, 4), (self.size, self.size)]
        if tile.shape not in shapes:
            raise ValueError(f"painting must have one of the shapes {shapes}, got {tile.shape}")
        if not np.isfinite(tile).all() or (tile < 0).any():
            raise ValueError("painting must hold finite non-negative weights")
        return tile

    def compute(self) -> PoolingView:
        """The current :class:`PoolingView` (the maths only, no pictures)."""
        image = cached_image(self.image, self.size)
        painting = np.asarray(self.painting, dtype=np.float64)
        if painting.shape == (2, 2) and self.stride == 4 or painting.shape == (4, 4) and self.stride == 2:
            painting = _resize_tile(painting, self.stride)
        return explore_pooling(image, self.stride, self.index, self.temperature, painting,
                               self.blocks.get(self.stride), self.seed)

    def region(self) -> tuple[int, int, int, int]:
        return render.zoom_region(self.size, self.row, self.col, self.zoom)

    def _full_pictures(self) -> dict[str, np.ndarray]:
        """Full-size uint8 pictures of the current view; recomputed only when the maths changes."""
        painting = np.asarray(self.painting, dtype=np.float64)
        key = (self.image, self.stride, self.index, self.temperature, self.seed, painting.shape, painting.tobytes())
        if self._cache[0] != key:
            view = self.view = self.compute()
            self._cache = (key, {
                "index": render.colourise(view.decoder_gate, 0.0, 1.0, "viridis"),
                "pooled": render.to_rgb(view.pooled),
                "unpooled": render.to_rgb(view.unpooled),
                "error": render.colourise(view.error, 0.0, ERROR_VMAX, "magma"),
            })
        return self._cache[1]

    def _pictures(self) -> dict[str, bytes]:
        pictures = self._full_pictures()
        region, s = self.region(), self.stride
        return {name: render.png_bytes(render.enlarge(render.crop(p, region, s if name == "pooled" else 1)))
                for name, p in pictures.items()}


def _resize_tile(tile: np.ndarray, stride: int) -> np.ndarray:
    """A painted 2×2 tile repeated to 4×4, or a 4×4 tile summed down to 2×2."""
    if stride == 4:
        return np.repeat(np.repeat(tile, 2, axis=0), 2, axis=1)
    return tile.reshape(2, 2, 2, 2).sum(axis=(1, 3))
