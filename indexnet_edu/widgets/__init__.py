"""The index playground's logic, without a user interface.

* :mod:`.pooling`      — (a) index map, pooled, unpooled, error for any index choice;
* :mod:`.upsampling`   — (b) five upsamplers as reassembly, and the kernel at any pixel;
* :mod:`.temperature`  — (c) the softmax-temperature continuum from max to average pooling;
* :mod:`.explorers`    — the three explorers: controls in, pictures out (cached, cheap);
* :mod:`.apps`         — the ipywidgets wiring a notebook displays (imports ipywidgets);
* :mod:`.latency`      — :func:`measure_update_latency`, the cost of one control move.

Widgets never train: a trained index block is passed in.
"""
from .explorers import PoolingExplorer, TemperatureExplorer, UpsamplingExplorer
from .latency import measure_update_latency
from .pooling import POOLING_INDICES, PoolingView, explore_pooling, pooling_indices
from .temperature import TemperatureCurve, temperature_curve
from .upsampling import UPSAMPLERS, UpsamplingView, explore_upsampling, kernel_at, reassembled_output

__all__ = [
    "POOLING_INDICES", "PoolingExplorer", "PoolingView", "TemperatureCurve", "TemperatureExplorer",
    "UPSAMPLERS", "UpsamplingExplorer", "UpsamplingView", "explore_pooling", "explore_upsampling",
    "kernel_at", "measure_update_latency", "pooling_indices", "reassembled_output", "temperature_curve",
]
