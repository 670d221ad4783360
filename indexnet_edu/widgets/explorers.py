"""The three explorers as plain objects: controls in, pictures (PNG bytes) out.

An explorer keeps its controls as attributes and caches what a control move does not
change (loaded images, upsampled outputs, the temperature curve), so one move costs only
what it must. ``draw(**changes)`` applies control changes and returns ``{panel: png}``;
the notebook's ipywidgets (see :mod:`.apps`) only call it. Tests and the latency benchmark
call it directly. Pictures are PNG bytes; the upsampling explorer's kernels are small HTML
tables (str) so their weights can be read.
"""
from __future__ import annotations

from functools import lru_cache
from numbers import Integral

import numpy as np
import torch

from .._checks import check_choice, check_flag, check_positive_int, check_positive_real, check_seed
from ..data.images import IMAGES, load_image
from . import render
from .pooling import POOLING_INDICES, STRIDES, PoolingView, explore_pooling
from .temperature import TEMPERATURE_RANGE, TemperatureCurve, temperature_curve, temperature_grid
from .upsampling import UPSAMPLERS, UpsamplingView, explore_upsampling, kernel_at

ZOOMS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
POOLING_PANELS = ("index", "pooled", "unpooled", "error")
ERROR_VMAX = 0.5
ERROR_AXIS = (4e-3, 1.0)  # fixed log-scale limits of the continuum plot: every bundled image fits


@lru_cache(maxsize=32)
def cached_image(name: str, size: int, gray: bool = False) -> torch.Tensor:
    """:func:`indexnet_edu.data.images.load_image`, loaded once per (name, size, gray)."""
    return load_image(name, size, gray=gray)


class _Explorer:
    """Shared control handling: ``draw(**changes)`` validates, stores, redraws.

    A control is checked whenever it is set — by ``draw``, the constructor, or a plain
    ``explorer.temperature = ...`` — so a refused value is never stored. ``size`` is fixed
    once the explorer is made (the positions, paintings and caches depend on it).
    """

    controls: tuple[str, ...] = ()

    def __init__(self, size: int = 256):
        size = check_positive_int(size, "size")
        if size % 4:
            raise ValueError(f"size must be divisible by 4 (stride 4 must tile it), got {size}")
        self.size = size

    def __setattr__(self, name, value):
        if name in type(self).controls:
            value = self._checked(name, value)
        elif name == "size" and "size" in self.__dict__:
            raise AttributeError(f"size is fixed at {self.size} when the explorer is made; make a new explorer "
                                 "for another size")
        super().__setattr__(name, value)

    def draw(self, **changes) -> dict[str, bytes]:
        """Apply ``changes`` (control name → value) and return the pictures. All or nothing: a
        value that is refused (by its check, or by the maths it feeds) leaves every control as
        it was, so the explorer keeps drawing its last good state."""
        unknown = set(changes) - set(self.controls)
        if unknown:
            raise ValueError(f"unknown control(s) {sorted(unknown)}; expected some of {list(self.controls)}")
        previous = {name: getattr(self, name) for name in changes}
        try:
            for name, value in changes.items():
                setattr(self, name, self._checked(name, value))
            # Torch's own thread count (both cores of a laptop): measured on the 2-core VM, a move of
            # the upsampling explorer's image takes 70 ms with 2 threads and 94 ms with one.
            return self._pictures()
        except Exception:
            for name, value in previous.items():
                setattr(self, name, value)
            raise

    def _checked(self, name, value):
        return value

    def _pictures(self) -> dict[str, bytes]:
        raise NotImplementedError

    def _checked_position(self, name, value) -> int:
        """A pixel row or column: an int in [0, size) (NumPy ints too; never a float, whose
        fraction would be dropped silently, nor a bool)."""
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise TypeError(f"{name} must be an int pixel position in [0, {self.size - 1}], "
                            f"got {type(value).__name__} {value!r}")
        if not 0 <= value < self.size:
            raise ValueError(f"{name} must lie in [0, {self.size - 1}], got {value}")
        return int(value)


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


#: The temperature explorer's picture: a MELT_ZOOM-pixel square at the image centre, shown MELT_SIDE px wide.
MELT_ZOOM, MELT_SIDE = 48, 192


def _per_stride(value, name: str, callable_values: bool = True) -> dict:
    """A ``{stride: module}`` argument, checked when the explorer is made (not at the first draw
    that needs it): strides among :data:`STRIDES`, modules callable."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"{name} must be a dict {{stride: module}}, got {type(value).__name__}")
    for stride, module in value.items():
        check_choice(stride, f"a stride of {name}", STRIDES)
        if callable_values and not callable(module):
            raise TypeError(f"{name}[{stride}] must be a callable module, got {type(module).__name__}")
    return dict(value)


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


def _resize_tile(tile: np.ndarray, stride: int) -> np.ndarray:
    """A painted 2×2 tile repeated to 4×4, or a 4×4 tile summed down to 2×2."""
    if stride == 4:
        return np.repeat(np.repeat(tile, 2, axis=0), 2, axis=1)
    return tile.reshape(2, 2, 2, 2).sum(axis=(1, 3))


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
        from ..upsamplers.custom import as_resampler

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


class TemperatureExplorer(_Explorer):
    """(c) Reconstruction error against softmax temperature, max and average as asymptotes;
    a marker follows the temperature control (one persistent matplotlib figure), and beside it
    the picture itself at that temperature: a :data:`MELT_ZOOM`-pixel crop of the unpooled image
    and of its error, which melt from max-unpooling's sparse dots to average pooling's blocks."""

    controls = ("image", "stride", "temperature")

    def __init__(self, size: int = 256, image: str = "astronaut", stride: int = 2, temperature: float = 0.05,
                 points: int = 25):
        super().__init__(size)
        self.image, self.stride, self.temperature = image, stride, temperature
        self.points = check_positive_int(points, "points")
        self._curves: dict = {}
        self._figure = None

    def _checked(self, name, value):
        if name == "image":
            return check_choice(value, "image", IMAGES)
        if name == "stride":
            return check_choice(value, "stride", STRIDES)
        return check_positive_real(value, "temperature")

    def curve(self) -> TemperatureCurve:
        """The (cached) curve for the current image and stride."""
        key = (self.image, self.stride)
        if key not in self._curves:
            image = cached_image(self.image, self.size)
            self._curves[key] = temperature_curve(image, self.stride, temperature_grid(self.points))
        return self._curves[key]

    def marker_error(self) -> float:
        """Reconstruction error at the current temperature."""
        return self.pooling_view().mean_abs_error

    def pooling_view(self) -> PoolingView:
        """Softmax pooling and unpooling of the current image at the current temperature."""
        image = cached_image(self.image, self.size)
        return explore_pooling(image, self.stride, "softmax", self.temperature)

    def _melt_pictures(self, view: PoolingView) -> dict[str, bytes]:
        """The unpooled image and its error at the current T, cropped at the image centre and enlarged."""
        region = render.zoom_region(self.size, self.size // 2, self.size // 2, MELT_ZOOM)
        unpooled = render.crop(render.to_rgb(view.unpooled), region)
        error = render.crop(render.colourise(view.error, 0.0, ERROR_VMAX, "magma"), region)
        return {"unpooled": render.png_bytes(render.enlarge(unpooled, MELT_SIDE)),
                "error": render.png_bytes(render.enlarge(error, MELT_SIDE))}

    def _build_figure(self):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(8.6, 3.4), dpi=100)
        FigureCanvasAgg(fig)
        fig.subplots_adjust(left=0.09, right=0.64, bottom=0.15, top=0.9)
        ax = fig.add_subplot()
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(TEMPERATURE_RANGE[0] / 1.5, TEMPERATURE_RANGE[1] * 1.5)
        ax.set_ylim(*ERROR_AXIS)
        ax.set_xlabel("softmax temperature T")
        ax.set_ylabel("mean |unpooled − image|")
        ax.grid(True, which="major", alpha=0.3)
        # Every artist that changes is "animated": left out of the cached background and
        # blitted on each move, so a move never redraws axes, ticks or legend.
        self._artists = {
            "curve": ax.plot([], [], color="tab:blue", label="softmax pooling + gate", animated=True)[0],
            "max": ax.axhline(1, color="tab:red", ls="--", label="max pool + max-unpool (T→0)", animated=True),
            "average": ax.axhline(1, color="tab:green", ls="--", label="average pool + nearest (T→∞)",
                                  animated=True),
            "marker": ax.plot([], [], "o", color="black", ms=8, label="current T", animated=True)[0],
            "title": ax.text(0.5, 1.03, "", transform=ax.transAxes, ha="center", animated=True),
        }
        ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=9)
        fig.canvas.draw()
        self._figure, self._axes = fig, ax
        self._background = fig.canvas.copy_from_bbox(fig.bbox)

    def _pictures(self) -> dict[str, bytes]:
        if self._figure is None:
            self._build_figure()
        curve, art = self.curve(), self._artists
        view = self.pooling_view()
        error = view.mean_abs_error
        art["curve"].set_data(curve.temperatures, curve.errors)
        art["max"].set_ydata([curve.max_error] * 2)
        art["average"].set_ydata([curve.average_error] * 2)
        art["marker"].set_data([self.temperature], [error])
        art["title"].set_text(f"{self.image}, stride {self.stride}: T = {self.temperature:.3g}, error {error:.4f}")
        canvas = self._figure.canvas
        canvas.restore_region(self._background)
        for artist in art.values():
            self._axes.draw_artist(artist)
        picture = np.asarray(canvas.buffer_rgba())[..., :3]
        return {"plot": render.png_bytes(picture), **self._melt_pictures(view)}
