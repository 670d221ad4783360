"""The three explorers as plain objects: controls in, pictures (PNG bytes) out.

An explorer keeps its controls as attributes and caches what a control move does not
change (loaded images, upsampled outputs, the temperature curve), so one move costs only
what it must. ``draw(**changes)`` applies control changes and returns ``{panel: png}``;
the notebook's ipywidgets (see :mod:`.apps`) only call it. Tests and the latency benchmark
call it directly. Pictures are PNG bytes; the upsampling explorer's kernels are small HTML
tables (str) so their weights can be read.
"""
from .base import ERROR_VMAX, ZOOMS, cached_image
from .pooling import POOLING_PANELS, PoolingExplorer
from .temperature import ERROR_AXIS, MELT_SIDE, MELT_ZOOM, TemperatureExplorer
from .upsampling import UpsamplingExplorer

__all__ = ["ERROR_AXIS", "ERROR_VMAX", "MELT_SIDE", "MELT_ZOOM", "POOLING_PANELS", "PoolingExplorer", "TemperatureExplorer",
           "UpsamplingExplorer", "ZOOMS", "cached_image"]
