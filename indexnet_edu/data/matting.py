"""Synthetic image matting: foregrounds with fine structure, composited as I = αF + (1 − α)B.

A foreground is a soft-edged blob plus the structures that make matting hard: hair-like
strands grown from its edge (sub-pixel to 1.5 px wide), short fur, thin wires across the
image, holes, and semi-transparent regions. Alpha is quantised to 8 bits like a real matte.
The trimap marks the band where 0 < α < 1 (and any hard 0/1 edge), dilated by a random
radius with a Euclidean distance transform, as in the IndexNet training pipeline (Lu et al., ICCV 2019).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from .._checks import check_finite_real, check_nonnegative_int
from .drawing import (blob_boundary_points, coverage, ellipse_distance, random_strands,
                      star_blob_distance, strand_alpha)
from .textures import random_colour, random_texture, smooth_texture

TRIMAP_BACKGROUND, TRIMAP_UNKNOWN, TRIMAP_FOREGROUND = 0, 128, 255
# IndexNet dilates the unknown band by 1–19 px on 320-px training crops (official IndexNet code).
PAPER_TRIMAP_RADIUS = (1, 19)
PAPER_CROP_SIZE = 320


def default_trimap_radius(size: int) -> tuple[int, int]:
    """The paper's 1–19 px band scaled to ``size`` (at least 1–2 px), so the band keeps its proportions."""
    high = max(2, int(round(PAPER_TRIMAP_RADIUS[1] * size / PAPER_CROP_SIZE)))
    return 1, high


def unknown_band(alpha: np.ndarray) -> np.ndarray:
    """Pixels with 0 < α < 1, plus both sides of any hard edge between α = 0 and α = 1 (H×W bool)."""
    band = (alpha > 0) & (alpha < 1)
    opaque, clear = alpha >= 1, alpha <= 0
    cross = ndimage.generate_binary_structure(2, 1)
    band |= opaque & ndimage.binary_dilation(clear, cross)
    band |= clear & ndimage.binary_dilation(opaque, cross)
    return band


def check_trimap_radius(trimap_radius):
    """``None`` or a (low, high) pair of ints with 0 <= low <= high (px); returns it as a tuple.

    Raises:
        TypeError: not a pair of ints (bools refused).
        ValueError: a negative bound or low > high.
    """
    if trimap_radius is None:
        return None
    if isinstance(trimap_radius, (str, bytes)) or not hasattr(trimap_radius, "__len__") or len(trimap_radius) != 2:
        raise TypeError(f"trimap_radius must be a (low, high) pair of ints, got {trimap_radius!r}")
    low, high = (check_nonnegative_int(value, "trimap_radius[i]") for value in trimap_radius)
    if low > high:
        raise ValueError(f"trimap_radius must be (low, high) with low <= high, got {tuple(trimap_radius)}")
    return low, high


def trimap_from_alpha(alpha: np.ndarray, radius: float) -> np.ndarray:
    """uint8 trimap (H×W): 128 within ``radius`` px (Euclidean) of the unknown band, else 255/0.

    Known pixels are 255 where α = 1 and 0 elsewhere; ``radius`` = 0 keeps just the band.
    Raises ValueError for a non-2-D alpha or a radius that is NaN, infinite or negative.
    """
    alpha = np.asarray(alpha)
    if alpha.ndim != 2:
        raise ValueError(f"alpha must be a 2-D H×W array, got shape {alpha.shape}")
    radius = check_finite_real(radius, "radius", minimum=0.0)
    band = unknown_band(alpha)
    trimap = np.where(alpha >= 1, TRIMAP_FOREGROUND, TRIMAP_BACKGROUND).astype(np.uint8)
    if band.any():
        distance = ndimage.distance_transform_edt(~band)
        trimap[distance <= radius] = TRIMAP_UNKNOWN
    return trimap


def _blob(rng: np.random.Generator, size: int):
    """A star-shaped blob near the centre: its signed distance and its parameters."""
    centre = size / 2 + rng.uniform(-0.15, 0.15, size=2) * size
    radius = rng.uniform(0.16, 0.3) * size
    harmonics = int(rng.integers(1, 5))
    amplitudes = rng.uniform(0.0, 0.18, size=harmonics) / np.arange(1, harmonics + 1)
    phases = rng.uniform(0, 2 * np.pi, size=harmonics)
    return star_blob_distance(size, centre, radius, amplitudes, phases), (centre, radius, amplitudes, phases)


def _edge_softness(rng: np.random.Generator, size: int) -> float:
    """Edge ramp width: mostly crisp (anti-aliased), sometimes soft or motion-blur wide."""
    kind = rng.random()
    if kind < 0.5:
        return 1.0
    if kind < 0.8:
        return rng.uniform(1.5, 3.0)
    return rng.uniform(3.0, max(4.0, size / 12))


def _holes(rng: np.random.Generator, size: int, blob_params) -> np.ndarray:
    """Multiplicative transmission (H×W) of 1–4 holes punched inside the blob."""
    centre, radius = blob_params[0], blob_params[1]
    keep = np.ones((size, size), dtype=np.float32)
    for _ in range(int(rng.integers(1, 5))):
        offset = rng.uniform(-0.55, 0.55, size=2) * radius
        radii = rng.uniform(0.05, 0.22, size=2) * radius + 0.8
        hole = coverage(ellipse_distance(size, centre + offset, radii, rng.uniform(0, np.pi)), 1.0)
        keep *= 1.0 - hole
    return keep


def _hair(rng: np.random.Generator, size: int, blob_params, count: int, length_range, width_range,
          points: int, curl: float, spread: float) -> np.ndarray:
    """Strands rooted on the blob edge, leaning outward: alpha H×W."""
    centre, radius, amplitudes, phases = blob_params
    arc_start = rng.uniform(0, 2 * np.pi)
    arc = rng.uniform(0.6, 2.0) * np.pi  # hair grows on part of the outline, like a head
    theta = arc_start + rng.uniform(0, arc, size=count)
    roots = blob_boundary_points(centre, radius, amplitudes, phases, theta)
    roots -= 1.5 * np.stack([np.sin(theta), np.cos(theta)], axis=1)  # start just inside the edge
    directions = theta + rng.normal(0.0, spread, size=count)
    lengths = rng.uniform(*length_range, size=count) * size
    polylines = random_strands(rng, roots, directions, lengths, points=points, curl=curl)
    widths = rng.uniform(*width_range, size=count)
    opacities = rng.uniform(0.55, 1.0, size=count)
    return strand_alpha(size, polylines, widths, opacities)


def _wires(rng: np.random.Generator, size: int) -> np.ndarray:
    """1–3 thin, slightly curved lines across the whole image (wires, threads)."""
    count = int(rng.integers(1, 4))
    roots = rng.uniform(0, size, size=(count, 2))
    directions = rng.uniform(0, 2 * np.pi, size=count)
    start = roots - 1.5 * size * np.stack([np.sin(directions), np.cos(directions)], axis=1)
    polylines = random_strands(rng, start, directions, np.full(count, 3.0 * size), points=6, curl=0.05)
    return strand_alpha(size, polylines, rng.uniform(0.4, 1.4, size=count), rng.uniform(0.7, 1.0, size=count))


def make_matting_sample(rng: np.random.Generator, size: int, trimap_radius=None) -> dict[str, np.ndarray]:
    """One composite: image, trimap (uint8 0/128/255), alpha, fg, bg — H×W(×3) float32 arrays.

    ``trimap_radius`` = (low, high) px range of the random dilation, ints with
    0 <= low <= high (default: the paper's 1–19 px scaled to ``size``; see
    :func:`default_trimap_radius`); anything else is a TypeError/ValueError.
    """
    trimap_radius = check_trimap_radius(trimap_radius)
    blob_distance, blob_params = _blob(rng, size)
    body = coverage(blob_distance, _edge_softness(rng, size))
    if rng.random() < 0.4:
        body *= _holes(rng, size, blob_params)
    if rng.random() < 0.3:  # a translucent part: glass, veil, smoke
        veil = coverage(ellipse_distance(size, blob_params[0] + rng.uniform(-0.4, 0.4, 2) * blob_params[1],
                                         rng.uniform(0.4, 1.0, 2) * blob_params[1], rng.uniform(0, np.pi)),
                        rng.uniform(1.0, 6.0))
        body *= 1.0 - veil * rng.uniform(0.2, 0.7)

    strands = np.zeros((size, size), dtype=np.float32)
    if rng.random() < 0.75:
        strands = _hair(rng, size, blob_params, count=int(rng.integers(10, 45)), length_range=(0.08, 0.4),
                        width_range=(0.3, 1.5), points=8, curl=0.3, spread=0.5)
    if rng.random() < 0.4:  # fur: many short strands
        fur = _hair(rng, size, blob_params, count=int(rng.integers(30, 90)), length_range=(0.03, 0.09),
                    width_range=(0.4, 1.2), points=3, curl=0.2, spread=0.6)
        strands = 1.0 - (1.0 - strands) * (1.0 - fur)
    if rng.random() < 0.25:
        strands = 1.0 - (1.0 - strands) * (1.0 - _wires(rng, size))

    alpha = 1.0 - (1.0 - body) * (1.0 - strands)
    alpha = (np.round(alpha * 255.0) / 255.0).astype(np.float32)  # an 8-bit matte

    body_colour = smooth_texture(rng, size) if rng.random() < 0.5 else random_texture(
        rng, size, kinds=("smooth", "stripes", "fractal"))
    hair_colour = np.clip(random_colour(rng) + 0.08 * rng.standard_normal((size, size, 1)), 0, 1)
    hair_share = (strands / np.maximum(strands + body, 1e-6))[..., None]
    fg = (hair_share * hair_colour + (1.0 - hair_share) * body_colour).astype(np.float32)
    bg = random_texture(rng, size, weights=(0.55, 0.1, 0.1, 0.1, 0.15))
    image = alpha[..., None] * fg + (1.0 - alpha[..., None]) * bg

    low, high = trimap_radius if trimap_radius is not None else default_trimap_radius(size)
    trimap = trimap_from_alpha(alpha, int(rng.integers(low, high + 1)))
    return {"image": image.astype(np.float32), "trimap": trimap, "alpha": alpha, "fg": fg, "bg": bg}
