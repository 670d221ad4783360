"""Images for the reconstruction task ("delivering spatial information", TPAMI §6).

An encoder-decoder must reproduce its input through its pooling and upsampling stages, so
the images should hold what gets lost there: edges at every orientation, thin lines, fine
texture, and smooth regions. Half are crops of the bundled photographs; the rest are
collages of procedural textures cut by sharp and soft shapes, with thin strands on top.
"""
from __future__ import annotations

import numpy as np

from .drawing import coverage, ellipse_distance, polygon_distance, random_strands, strand_alpha
from .textures import photo_crop, random_colour, random_texture

_FILL_KINDS = ("smooth", "stripes", "checker", "fractal", "photo")


def _random_shape_distance(rng: np.random.Generator, size: int) -> np.ndarray:
    """Signed distance to a random ellipse or convex polygon somewhere in the image."""
    centre = rng.uniform(0.1, 0.9, size=2) * size
    scale = rng.uniform(0.1, 0.35) * size
    if rng.random() < 0.5:
        return ellipse_distance(size, centre, rng.uniform(0.4, 1.0, size=2) * scale, rng.uniform(0, np.pi))
    corners = int(rng.integers(3, 7))
    angles = np.sort(rng.uniform(0, 2 * np.pi, size=corners))
    radii = rng.uniform(0.6, 1.0, size=corners) * scale
    return polygon_distance(size, centre + np.stack([radii * np.sin(angles), radii * np.cos(angles)], 1))


def make_collage(rng: np.random.Generator, size: int) -> np.ndarray:
    """A procedural scene: a textured background, 2–5 textured shapes, sometimes thin lines."""
    image = random_texture(rng, size, kinds=_FILL_KINDS)
    for _ in range(int(rng.integers(2, 6))):
        softness = 1.0 if rng.random() < 0.7 else rng.uniform(1.5, 5.0)
        alpha = coverage(_random_shape_distance(rng, size), softness)[..., None]
        image = alpha * random_texture(rng, size, kinds=_FILL_KINDS) + (1.0 - alpha) * image
    if rng.random() < 0.5:
        count = int(rng.integers(3, 15))
        roots = rng.uniform(0, size, size=(count, 2))
        polylines = random_strands(rng, roots, rng.uniform(0, 2 * np.pi, count),
                                   rng.uniform(0.1, 0.5, count) * size, points=6, curl=0.25)
        alpha = strand_alpha(size, polylines, rng.uniform(0.5, 1.5, count), np.ones(count))[..., None]
        image = alpha * random_colour(rng) + (1.0 - alpha) * image
    return image.astype(np.float32)


def make_reconstruction_sample(rng: np.random.Generator, size: int) -> dict[str, np.ndarray]:
    """One image (H×W×3 float32 in [0, 1]): a photo crop or a procedural collage, 50/50."""
    image = photo_crop(rng, size) if rng.random() < 0.5 else make_collage(rng, size)
    return {"image": np.clip(image, 0.0, 1.0).astype(np.float32)}
