"""How long one control move of a playground widget takes: what the notebook would redraw.

Each control is moved back and forth between real values ``repeats`` times; one move is a
full ``explorer.draw(...)`` (the maths plus the PNG/HTML pictures the widgets show), the
exact call the ipywidgets observers make. Loaded images are cached (as in the notebook);
the explorers' own caches of upsampled outputs and temperature curves are cleared before
a move of image or stride, so those figures are the cost of a first visit.
"""
from __future__ import annotations

import itertools
import statistics
import time

import numpy as np
import torch

from .._checks import check_positive_int
from ..upsamplers.index_blocks import HolisticIndexBlock
from .explorers import PoolingExplorer, TemperatureExplorer, UpsamplingExplorer, cached_image
from .pooling import POOLING_INDICES

IMAGES_TO_ALTERNATE = ("astronaut", "coffee")


def _median_ms(move, values, repeats: int, before=None) -> float:
    times = []
    for value in itertools.islice(itertools.cycle(values), repeats):
        if before is not None:
            before()
        start = time.perf_counter()
        move(value)
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


def measure_update_latency(size: int = 256, repeats: int = 20) -> dict[str, float]:
    """Median milliseconds per control move, ``{"explorer.control": ms}``, for a size×size image.

    The "trained" index uses an untrained nonlinear context HIN block of the same shape as
    a trained one (the cost of a forward pass is what matters here; nothing trains).
    """
    size = check_positive_int(size, "size")
    repeats = check_positive_int(repeats, "repeats")
    with torch.random.fork_rng(devices=[]):  # seeded weights, the caller's RNG untouched
        torch.manual_seed(0)
        block = HolisticIndexBlock(3, 2, nonlinear=True, context=True).eval()
    for name in IMAGES_TO_ALTERNATE:
        cached_image(name, size)
        cached_image(name, size, gray=True)
    results: dict[str, float] = {}

    pooling = PoolingExplorer(size, blocks={2: block}, index="softmax")
    pooling.draw()
    results["pooling.image"] = _median_ms(lambda v: pooling.draw(image=v), IMAGES_TO_ALTERNATE, repeats)
    results["pooling.stride"] = _median_ms(lambda v: pooling.draw(stride=v), (4, 2), repeats)
    results["pooling.index"] = _median_ms(lambda v: pooling.draw(index=v), POOLING_INDICES, repeats)
    pooling.draw(index="softmax")
    temperatures = np.logspace(-4, 2, 7)
    results["pooling.temperature"] = _median_ms(lambda v: pooling.draw(temperature=float(v)), temperatures, repeats)
    pooling.draw(index="random")
    results["pooling.seed"] = _median_ms(lambda v: pooling.draw(seed=v), range(10), repeats)
    pooling.draw(index="painted")
    tiles = (np.eye(2), np.ones((2, 2)), np.array([[0, 1], [0, 0]]))
    results["pooling.painting"] = _median_ms(lambda v: pooling.draw(painting=v), tiles, repeats)
    results["pooling.zoom"] = _median_ms(lambda v: pooling.draw(zoom=v), (8, 64, 256, 1), repeats)
    results["pooling.row"] = _median_ms(lambda v: pooling.draw(row=v), (0, size // 3, size - 1), repeats)

    upsampling = UpsamplingExplorer(size)
    upsampling.draw()

    def forget_upsampling():
        upsampling._views.clear()
        upsampling._full.clear()

    results["upsampling.image"] = _median_ms(lambda v: upsampling.draw(image=v), IMAGES_TO_ALTERNATE, repeats,
                                             forget_upsampling)
    results["upsampling.stride"] = _median_ms(lambda v: upsampling.draw(stride=v), (4, 2), repeats, forget_upsampling)
    results["upsampling.zoom"] = _median_ms(lambda v: upsampling.draw(zoom=v), (8, 64, 256, 1), repeats)
    results["upsampling.row"] = _median_ms(lambda v: upsampling.draw(row=v), (0, size // 3, size - 1), repeats)
    results["upsampling.col"] = _median_ms(lambda v: upsampling.draw(col=v), (0, size // 3, size - 1), repeats)

    continuum = TemperatureExplorer(size)
    continuum.draw()
    results["temperature.temperature"] = _median_ms(lambda v: continuum.draw(temperature=float(v)),
                                                    temperatures, repeats)
    results["temperature.image"] = _median_ms(lambda v: continuum.draw(image=v), IMAGES_TO_ALTERNATE, repeats,
                                              continuum._curves.clear)
    results["temperature.stride"] = _median_ms(lambda v: continuum.draw(stride=v), (4, 2), repeats,
                                               continuum._curves.clear)
    return results
