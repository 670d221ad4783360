"""Synthetic scenes for a region task that a small model learns: label each region by its texture kind.

A background and 1–3 random ellipses or convex polygons, each region filled with one of four
procedural textures (smooth, stripes, checker, fractal; see :mod:`.textures`) in random
colours, and labelled by that texture *kind*. One pixel says almost nothing about its class
(every kind spans the same colours); the label is a statistic of the region around it — a
region-sensitive cue, unlike the detail-sensitive alpha mattes. The background is a region
like any other, so the four classes are about equally frequent.
"""
from __future__ import annotations

import numpy as np

from .drawing import coverage, ellipse_distance, polygon_distance
from .textures import random_texture

TEXTURE_CLASSES = ("smooth", "stripes", "checker", "fractal")
NUM_TEXTURE_CLASSES = len(TEXTURE_CLASSES)


def _region_distance(rng: np.random.Generator, size: int) -> np.ndarray:
    """Signed distance (px, positive inside) to a random ellipse or convex polygon."""
    centre = rng.uniform(0.2, 0.8, size=2) * size
    radius = rng.uniform(0.18, 0.4) * size
    if rng.random() < 0.5:
        return ellipse_distance(size, centre, (radius, radius * rng.uniform(0.5, 1.0)), rng.uniform(0, np.pi))
    corners = np.sort(rng.uniform(0, 2 * np.pi, size=int(rng.integers(3, 7))))
    return polygon_distance(size, centre + radius * np.stack([np.sin(corners), np.cos(corners)], axis=1))


def _filled(rng: np.random.Generator, size: int) -> tuple[int, np.ndarray]:
    label = int(rng.integers(NUM_TEXTURE_CLASSES))
    return label, random_texture(rng, size, kinds=(TEXTURE_CLASSES[label],))


def make_texture_region_sample(rng: np.random.Generator, size: int) -> dict[str, np.ndarray]:
    """One scene: image H×W×3 float32 in [0, 1], mask H×W int64 in [0, 4) (index into TEXTURE_CLASSES).

    Regions are painted back to front; a pixel takes the label of the top-most region covering
    at least half of it (the anti-aliased image and the hard mask agree at coverage 0.5).
    """
    label, image = _filled(rng, size)
    mask = np.full((size, size), label, dtype=np.int64)
    for _ in range(int(rng.integers(1, 4))):
        label, fill = _filled(rng, size)
        alpha = coverage(_region_distance(rng, size), 1.0)
        image = alpha[..., None] * fill + (1.0 - alpha[..., None]) * image
        mask[alpha >= 0.5] = label
    return {"image": np.clip(image, 0.0, 1.0).astype(np.float32), "mask": mask}
