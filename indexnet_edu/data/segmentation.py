"""Synthetic scenes for a region-sensitive task: segment shapes whose class is their *shape*.

Each scene has a textured background and 1–4 objects, each a disc, a square, a triangle or a
cross, large (a fifth to two thirds of the image across), arbitrarily rotated, filled with a
random texture and colour drawn from the same distribution for every class. Colour and
texture therefore say nothing about the class: a pixel's label is decided by the outline of
the region it belongs to — region-level context, the case where content-aware upsamplers
(CARAFE) were found to help (Lu et al., FADE, ECCV 2022).
"""
from __future__ import annotations

import numpy as np

from .drawing import coverage, ellipse_distance, polygon_distance, rectangle_distance
from .textures import random_texture

SEG_CLASSES = ("background", "disc", "square", "triangle", "cross")
NUM_SEG_CLASSES = len(SEG_CLASSES)

_FILL_KINDS = ("smooth", "stripes", "checker", "fractal", "photo")


def _shape_distance(rng: np.random.Generator, size: int, label: int) -> np.ndarray:
    """Signed distance (px) to a random instance of class ``label`` (1..4)."""
    centre = rng.uniform(0.2, 0.8, size=2) * size
    radius = rng.uniform(0.12, 0.3) * size
    angle = rng.uniform(0, 2 * np.pi)
    if label == 1:
        return ellipse_distance(size, centre, (radius, radius * rng.uniform(0.85, 1.0)), angle)
    if label == 2:
        return rectangle_distance(size, centre, (0.85 * radius, 0.85 * radius), angle)
    if label == 3:
        corners = angle + np.array([0.0, 2 * np.pi / 3, 4 * np.pi / 3])
        return polygon_distance(size, centre + 1.2 * radius * np.stack([np.sin(corners), np.cos(corners)], 1))
    arm = rng.uniform(0.28, 0.4) * radius
    return np.maximum(rectangle_distance(size, centre, (radius, arm), angle),
                      rectangle_distance(size, centre, (arm, radius), angle))


def make_segmentation_sample(rng: np.random.Generator, size: int) -> dict[str, np.ndarray]:
    """One scene: image H×W×3 float32 in [0, 1] and mask H×W int64 class ids.

    Objects are painted back to front; a pixel takes the label of the top-most object that
    covers at least half of it (the anti-aliased image and the hard mask agree at α = 0.5).
    """
    image = random_texture(rng, size, kinds=_FILL_KINDS)
    mask = np.zeros((size, size), dtype=np.int64)
    for _ in range(int(rng.integers(1, 5))):
        label = int(rng.integers(1, NUM_SEG_CLASSES))
        alpha = coverage(_shape_distance(rng, size, label), 1.0)
        image = alpha[..., None] * random_texture(rng, size, kinds=_FILL_KINDS) + (1.0 - alpha[..., None]) * image
        mask[alpha >= 0.5] = label
    return {"image": np.clip(image, 0.0, 1.0).astype(np.float32), "mask": mask}
