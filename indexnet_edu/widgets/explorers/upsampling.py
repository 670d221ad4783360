"""(b) The upsampling explorer: one low-resolution input through every upsampler, with the
kernel behind any output pixel."""
from __future__ import annotations

import numpy as np
import torch

from ..._checks import check_choice, check_flag
from ...data.images import IMAGES
from .. import render
from ..pooling import STRIDES
from ..upsampling import UPSAMPLERS, UpsamplingView, explore_upsampling, kernel_at
from .base import ERROR_VMAX, ZOOMS, _Explorer, _per_stride, cached_image


def _extra_factories(value) -> dict:
    """``{name: factory}`` of a learner's upsamplers, checked when the explorer is made."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"extra_upsamplers must be a dict {{name: factory(channels, stride)}}, got {type(value).__name__}")
    for name, factory in value.items():
        if not isinstance(name, str) or name in UPSAMPLERS:
            raise ValueError(f"extra_upsamplers needs names of their own (not one of {UPSAMPLERS}), got {name!r}")
        if not callable(factory):
            raise TypeError(f"extra_upsamplers[{name!r}] must be callable as factory(channels, stride), "
                            f"got {type(factory).__name__}")
    return dict(value)


class UpsamplingExplorer(_Explorer):
    """(b) The same low-res input through :data:`UPSAMPLERS`, with error maps and the
    reassembly kernel behind the picked output pixel (row, col)."""

    controls = ("image", "stride", "zoom", "row", "col")

    def __init__(self, size: int = 256, index_blocks=None, carafe_modules=None, image: str = "camera",
                 stride: int = 2, zoom: int = 32, row: int | None = None, col: int | None = None,
                 gray: bool = True, successor_modules=None, extra_upsamplers=None):
        super().__init__(size)
        # extra_upsamplers: {name: factory(channels, stride)} — a learner's modules, built here per stride
        self.extra_upsamplers = _extra_factories(extra_upsamplers)
        self._extra_stages: dict = {}
        # successor_modules: {stride: {"a2u": ..., "fade_nogate": ..., "sapa_inner": ...}} (default: untrained ones)
        self.successor_modules = _per_stride(successor_modules, "successor_modules", callable_values=False)
        if index_blocks is not None and not isinstance(index_blocks, dict):
            index_blocks = {getattr(index_blocks, "stride", 2): index_blocks}
        if carafe_modules is not None and not isinstance(carafe_modules, dict):
            carafe_modules = {getattr(carafe_modules, "scale", 2): carafe_modules}
        self.index_blocks = _per_stride(index_blocks, "index_blocks")
        self.carafe_modules = _per_stride(carafe_modules, "carafe_modules")
        self.gray = check_flag(gray, "gray")
        self.image, self.stride, self.zoom = image, stride, zoom
        self.row = size // 2 if row is None else row
        self.col = size // 2 if col is None else col
        self._views: dict = {}
        self._full: dict = {}

    def _checked(self, name, value):
        if name == "image":
            return check_choice(value, "image", IMAGES)
        if name == "stride":
            return check_choice(value, "stride", STRIDES)
        if name == "zoom":
            return check_choice(value, "zoom", ZOOMS)
        return self._checked_position(name, value)

    def compute(self) -> UpsamplingView:
        """The :class:`UpsamplingView` of the current image and stride (cached)."""
        key = (self.image, self.stride)
        if key not in self._views:
            image = cached_image(self.image, self.size, gray=self.gray)
            self._views[key] = explore_upsampling(image, self.stride, self.index_blocks.get(self.stride),
                                                  self.carafe_modules.get(self.stride),
                                                  self.successor_modules.get(self.stride),
                                                  self._extras(image.shape[1], self.stride))
        return self._views[key]

    @property
    def names(self) -> tuple[str, ...]:
        """The columns: :data:`UPSAMPLERS`, then the extra upsamplers."""
        return UPSAMPLERS + tuple(self.extra_upsamplers)

    def _extras(self, channels: int, stride: int) -> dict:
        """The extra upsamplers as stages for ``channels`` and ``stride`` (built once, seed 0, eval mode)."""
        from ...upsamplers.custom import as_resampler

        if (channels, stride) not in self._extra_stages:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                self._extra_stages[channels, stride] = {
                    name: as_resampler(factory)(channels, stride).eval()
                    for name, factory in self.extra_upsamplers.items()}
        return self._extra_stages[channels, stride]

    @property
    def view(self) -> UpsamplingView:
        return self.compute()

    def kernels(self) -> dict:
        """``{name: KernelAtPixel}`` at the picked pixel."""
        view = self.compute()
        return {name: kernel_at(view, name, self.row, self.col) for name in UPSAMPLERS}

    def _full_pictures(self) -> dict[str, np.ndarray]:
        key = (self.image, self.stride)
        if key not in self._full:
            view = self.compute()
            full = {"input": render.to_rgb(view.image)}
            for name in self.names:
                full[f"{name}/output"] = render.to_rgb(view.outputs[name])
                full[f"{name}/error"] = render.colourise(view.errors[name], 0.0, ERROR_VMAX, "magma")
            self._full[key] = full
        return self._full[key]

    def _pictures(self) -> dict[str, bytes]:
        full = self._full_pictures()
        region = render.zoom_region(self.size, self.row, self.col, self.zoom)
        local_row, local_col = self.row - region[0], self.col - region[1]

        def zoomed(picture):
            cut = render.crop(picture, region)
            factor = max(1, render.DISPLAY_SIDE // max(cut.shape[:2]))
            marked = render.enlarge(cut)
            if self.zoom > 1:
                marked = render.mark(marked, local_row * factor, local_col * factor, factor)
            return render.png_bytes(marked)

        pictures = {name: zoomed(picture) for name, picture in full.items()}
        pictures.update({f"{name}/kernel": table for name, table in self.kernel_tables().items()})
        return pictures

    def kernel_tables(self) -> dict[str, str]:
        """``{name: HTML table}`` of each upsampler's kernel at the picked pixel (channel mean); an
        extra upsampler, which need not be a reassembly, gets a note instead."""
        tables = {name: render.kernel_table(at.kernel.mean(axis=0)) for name, at in self.kernels().items()}
        return tables | {name: "<i>no reassembly kernel to show: its output and error are above</i>"
                         for name in self.extra_upsamplers}
