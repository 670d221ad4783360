"""(c) The temperature explorer: reconstruction error against the softmax temperature, from max
to average pooling, and the picture at that temperature."""
from __future__ import annotations

import numpy as np

from ..._checks import check_choice, check_positive_int, check_positive_real
from ...data.images import IMAGES
from .. import render
from ..pooling import STRIDES, PoolingView, explore_pooling
from ..temperature import TEMPERATURE_RANGE, TemperatureCurve, temperature_curve, temperature_grid
from .base import ERROR_VMAX, _Explorer, cached_image

ERROR_AXIS = (4e-3, 1.0)  # fixed log-scale limits of the continuum plot: every bundled image fits
#: The temperature explorer's picture: a MELT_ZOOM-pixel square at the image centre, shown MELT_SIDE px wide.
MELT_ZOOM, MELT_SIDE = 48, 192


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
