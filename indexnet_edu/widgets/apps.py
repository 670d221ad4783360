"""ipywidgets wiring for the three explorers: controls → ``explorer.draw`` → Image widgets.

Nothing here computes: each app builds its controls, observes them, and copies the
explorer's pictures into ``ipywidgets.Image``/``HTML`` widgets. ``app.set(**controls)``
moves the controls from code (as a reader would with the mouse) and returns the pictures,
so a notebook can check what it shows.
"""
from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np

from ..data.images import IMAGES
from .explorers import MELT_SIDE, MELT_ZOOM, ZOOMS, PoolingExplorer, TemperatureExplorer, UpsamplingExplorer
from .pooling import POOLING_INDICES, STRIDES
from .temperature import TEMPERATURE_RANGE

PANEL_WIDTH = "250px"
PLOT_WIDTH = "860px"  # the continuum figure's pixel width (8.6 in at 100 dpi)
LABELS = {"description_width": "80px"}
BUTTONS = {"description_width": "initial", "button_width": "76px"}


def column_title(title: str, detail: str = "") -> str:
    """A panel title in a box of fixed height (four short lines), so titles of different lengths
    keep the pictures below them aligned; the full text is also the box's tooltip."""
    full = f"{title} — {detail}" if detail else title
    return (f'<div title="{html.escape(full)}" style="height:4.8em;line-height:1.2em;overflow:hidden;'
            f'font-size:11px"><b>{html.escape(title)}</b>' + (f"<br>{html.escape(detail)}" if detail else "")
            + "</div>")


def _panel(title: str, width: str = PANEL_WIDTH):
    image = widgets.Image(format="png", layout=widgets.Layout(width=width, height=width))
    return image, widgets.VBox([widgets.HTML(column_title(title)), image])


class _App:
    """Shared wiring: ``controls`` (name → widget) drive ``explorer.draw``."""

    def __init__(self, explorer):
        self.explorer = explorer
        self.controls: dict[str, widgets.Widget] = {}
        self.status = widgets.HTML()
        self.pictures: dict = {}
        self._holding = False

    def _observe(self) -> None:
        for control in self.controls.values():
            control.observe(self._on_change, names="value")

    def _on_change(self, _change=None) -> None:
        if not self._holding:
            self.redraw()

    def control_values(self) -> dict:
        return {name: control.value for name, control in self.controls.items()}

    def redraw(self) -> dict:
        """Draw the explorer at the controls' values; a bad combination shows as a message."""
        try:
            self.pictures = self.explorer.draw(**self.control_values())
        except (ValueError, TypeError) as error:  # the explorer kept its last good state
            self._show_explorer_state()  # ... and so do the controls: the next move starts from it
            self.status.value = f'<span style="color:#b00">{error}</span>'
            return self.pictures
        self._show(self.pictures)
        return self.pictures

    def _show_explorer_state(self) -> None:
        """Put every control back to the explorer's value (without redrawing), so a refused
        value does not stay in a control and fail every later move of another one."""
        self._holding = True
        try:
            for name, control in self.controls.items():
                if control.value != getattr(self.explorer, name):
                    control.value = getattr(self.explorer, name)
        finally:
            self._holding = False

    def set(self, **values) -> dict:
        """Move several controls at once (one redraw) and return the pictures."""
        unknown = set(values) - set(self.controls)
        if unknown:
            raise ValueError(f"unknown control(s) {sorted(unknown)}; expected some of {list(self.controls)}")
        self._holding = True
        try:
            for name, value in values.items():
                self.controls[name].value = value
        finally:
            self._holding = False
        return self.redraw()

    def _show(self, pictures: dict) -> None:
        raise NotImplementedError


class PoolingApp(_App):
    """(a) Pooling explorer: image, stride, index (+ temperature, seed, painted tile), zoom."""

    def __init__(self, explorer: PoolingExplorer | None = None, **explorer_kwargs):
        super().__init__(explorer or PoolingExplorer(**explorer_kwargs))
        e, size = self.explorer, self.explorer.size
        self.controls = {
            "image": widgets.Dropdown(options=IMAGES, value=e.image, description="image", style=LABELS),
            "stride": widgets.ToggleButtons(options=STRIDES, value=e.stride, description="stride", style=BUTTONS),
            "index": widgets.ToggleButtons(options=POOLING_INDICES, value=e.index, description="index", style=BUTTONS),
            "temperature": widgets.FloatLogSlider(value=e.temperature, base=10, min=np.log10(TEMPERATURE_RANGE[0]),
                                                  max=np.log10(TEMPERATURE_RANGE[1]), step=0.05,
                                                  description="softmax T", readout_format=".2g", style=LABELS),
            "seed": widgets.IntSlider(value=e.seed, min=0, max=9, description="seed", style=LABELS),
            "zoom": widgets.SelectionSlider(options=ZOOMS, value=e.zoom, description="zoom (px)", style=LABELS),
            "row": widgets.IntSlider(value=e.row, min=0, max=size - 1, description="centre row", style=LABELS),
            "col": widgets.IntSlider(value=e.col, min=0, max=size - 1, description="centre col", style=LABELS),
        }
        self.paint_buttons: list[widgets.ToggleButton] = []
        self.paint_grid = widgets.GridBox()
        self._build_paint_grid(e.stride, np.asarray(e.painting))
        self.images, boxes = {}, []
        for name, title in (("index", "index map (gate, 0…1)"), ("pooled", "pooled (H/s × W/s)"),
                            ("unpooled", "unpooled reconstruction"), ("error", "|error| (0…0.5)")):
            self.images[name], box = _panel(title)
            boxes.append(box)
        self.controls["stride"].observe(self._on_stride, names="value")
        self._observe()
        painter = widgets.VBox([widgets.HTML("painted tile<br>(index=painted)"), self.paint_grid])
        choices = widgets.VBox([self.controls["image"], self.controls["stride"], self.controls["index"]],
                               layout=widgets.Layout(width="560px"))
        sliders = widgets.VBox([self.controls[n] for n in ("temperature", "seed", "zoom", "row", "col")])
        self.widget = widgets.VBox([widgets.HBox([choices, sliders, painter]), widgets.HBox(boxes), self.status])
        self.redraw()

    def _build_paint_grid(self, stride: int, tile: np.ndarray) -> None:
        tile = tile if tile.shape == (stride, stride) else np.eye(stride)
        self.paint_buttons = [widgets.ToggleButton(value=bool(tile[r, c]), layout=widgets.Layout(width="34px"))
                              for r in range(stride) for c in range(stride)]
        for button in self.paint_buttons:
            button.observe(self._on_change, names="value")
        self.paint_grid.children = self.paint_buttons
        self.paint_grid.layout = widgets.Layout(grid_template_columns=f"repeat({stride}, 36px)")

    def _on_stride(self, change) -> None:
        self._build_paint_grid(change["new"], self.painting())

    def painting(self) -> np.ndarray:
        """The painted s×s tile: 1 where a button is pressed."""
        stride = int(round(len(self.paint_buttons) ** 0.5))
        return np.array([b.value for b in self.paint_buttons], dtype=np.float64).reshape(stride, stride)

    def control_values(self) -> dict:
        return {**super().control_values(), "painting": self.painting()}

    def _show(self, pictures: dict) -> None:
        for name, image in self.images.items():
            image.value = pictures[name]
        view = self.explorer.view
        self.status.value = (f"stride {view.stride}, index <b>{view.index}</b>: mean |unpooled − image| = "
                             f"{view.mean_abs_error:.4f}")


class UpsamplingApp(_App):
    """(b) Upsampling explorer: outputs, errors and the kernel at the picked output pixel."""

    def __init__(self, explorer: UpsamplingExplorer | None = None, **explorer_kwargs):
        super().__init__(explorer or UpsamplingExplorer(**explorer_kwargs))
        e, size = self.explorer, self.explorer.size
        self.controls = {
            "image": widgets.Dropdown(options=IMAGES, value=e.image, description="image", style=LABELS),
            "stride": widgets.ToggleButtons(options=STRIDES, value=e.stride, description="stride", style=BUTTONS),
            "zoom": widgets.SelectionSlider(options=ZOOMS, value=e.zoom, description="zoom (px)", style=LABELS),
            "row": widgets.IntSlider(value=e.row, min=0, max=size - 1, description="pixel row", style=LABELS),
            "col": widgets.IntSlider(value=e.col, min=0, max=size - 1, description="pixel col", style=LABELS),
        }
        width = "150px"
        self.images, self.tables, columns = {}, {}, []
        self.images["input"], input_box = _panel("input (high-res)", width)
        columns.append(widgets.VBox([input_box, widgets.HTML("<i>row 2: |error| (0…0.5)<br>row 3: kernel "
                                                             "at the picked pixel, centred on ⌊p/s⌋</i>")]))
        view = e.compute()
        for name in e.names:
            self.images[f"{name}/output"], out_box = _panel(view.labels[name], width)
            self.images[f"{name}/error"], err_box = _panel("", width)
            self.tables[name] = widgets.HTML()
            columns.append(widgets.VBox([out_box, err_box, self.tables[name]],
                                        layout=widgets.Layout(width="165px")))
        self.titles = {name: columns[i + 1].children[0].children[0] for i, name in enumerate(e.names)}
        self._observe()
        self.widget = widgets.VBox([
            widgets.HBox([self.controls["image"], self.controls["stride"]]),
            widgets.HBox([self.controls["zoom"], self.controls["row"], self.controls["col"]]),
            widgets.HBox(columns), self.status,
        ])
        self.redraw()

    def _show(self, pictures: dict) -> None:
        for name, image in self.images.items():
            image.value = pictures[name]
        view = self.explorer.view
        for name in self.explorer.names:
            self.tables[name].value = pictures[f"{name}/kernel"]
            self.titles[name].value = column_title(view.labels[name], f"error {float(view.errors[name].mean()):.4f}")
        e = self.explorer
        self.status.value = f"output pixel ({e.row}, {e.col}) reads low-res pixel ({e.row // e.stride}, " \
                            f"{e.col // e.stride}) and its neighbours"


class TemperatureApp(_App):
    """(c) The max → average continuum: error against temperature, with a moving marker."""

    def __init__(self, explorer: TemperatureExplorer | None = None, **explorer_kwargs):
        super().__init__(explorer or TemperatureExplorer(**explorer_kwargs))
        e = self.explorer
        self.controls = {
            "image": widgets.Dropdown(options=IMAGES, value=e.image, description="image", style=LABELS),
            "stride": widgets.ToggleButtons(options=STRIDES, value=e.stride, description="stride", style=BUTTONS),
            "temperature": widgets.FloatLogSlider(value=e.temperature, base=10, min=np.log10(TEMPERATURE_RANGE[0]),
                                                  max=np.log10(TEMPERATURE_RANGE[1]), step=0.05,
                                                  description="softmax T", readout_format=".2g", style=LABELS),
        }
        self.plot = widgets.Image(format="png", layout=widgets.Layout(width=PLOT_WIDTH))  # 1:1, not stretched
        self.images = {}
        self.images["unpooled"], unpooled_box = _panel(f"unpooled at this T (centre {MELT_ZOOM} px)", f"{MELT_SIDE}px")
        self.images["error"], error_box = _panel("|unpooled − image| (0…0.5, dark = exact)", f"{MELT_SIDE}px")
        self._observe()
        self.widget = widgets.VBox([widgets.HBox([self.controls["image"], self.controls["stride"]]),
                                    self.controls["temperature"],
                                    widgets.HBox([unpooled_box, error_box]), self.plot, self.status])
        self.redraw()

    def _show(self, pictures: dict) -> None:
        self.plot.value = pictures["plot"]
        for name, image in self.images.items():
            image.value = pictures[name]
        self.status.value = ""
