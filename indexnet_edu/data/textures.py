"""Backgrounds and fills: crops of the bundled photographs and procedural textures.

Every function takes a NumPy ``Generator`` and returns an H×W×3 float32 array in [0, 1];
nothing reads global RNG state, so a texture is a pure function of its generator.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from .images import IMAGES, load_image
from .drawing import rotated_frame

TEXTURE_KINDS = ("photo", "smooth", "stripes", "checker", "fractal")


PHOTO_ZOOMS = (1.0, 1.5, 2.0, 3.0, 4.0)  # crop scales: a crop shows 1/zoom of the picture's width


@lru_cache(maxsize=8)
def _photo_original(name: str) -> torch.Tensor:
    """A bundled image, square-cropped at its own resolution (decoded once per process)."""
    return load_image(name, size=None)


@lru_cache(maxsize=64)
def _photo(name: str, resolution: int) -> np.ndarray:
    """A bundled image resized to resolution×resolution×3 float32 (cached; read-only)."""
    image = F.interpolate(_photo_original(name), size=(resolution, resolution), mode="bilinear",
                          align_corners=False, antialias=True).clamp(0, 1)
    array = image[0].permute(1, 2, 0).contiguous().numpy()
    array.flags.writeable = False
    return array


def photo_crop(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random size×size window (random zoom, position, mirror) of a bundled photograph.

    The photograph is resized once per zoom level and cached, so a crop is a slice.
    """
    name = IMAGES[rng.integers(len(IMAGES))]
    zooms = [z for z in PHOTO_ZOOMS if z * size <= 512] or [1.0]
    image = _photo(name, int(round(size * zooms[rng.integers(len(zooms))])))
    top, left = rng.integers(0, image.shape[0] - size + 1, size=2)
    crop = image[top:top + size, left:left + size]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return np.array(crop, dtype=np.float32)


def random_colour(rng: np.random.Generator) -> np.ndarray:
    """An RGB colour (3,) with a spread of brightness and saturation."""
    grey = rng.uniform(0.05, 0.95)
    tint = rng.normal(0.0, 0.25, size=3)
    return np.clip(grey + tint, 0.0, 1.0).astype(np.float32)


@lru_cache(maxsize=64)
def _spline_taps(size: int, cells: int) -> tuple[np.ndarray, np.ndarray]:
    """For every pixel, its 4 nearest knots (size×4 ints) on a (cells+3)-knot grid and their
    cubic B-spline weights (size×4 float32, rows sum to 1)."""
    t = (np.arange(size) + 0.5) * cells / size + 1.0  # knot coordinate of each pixel centre
    knots = np.floor(t).astype(np.int64)[:, None] + np.arange(-1, 3)[None, :]
    distance = np.abs(t[:, None] - knots)
    weights = np.where(distance < 1, 2 / 3 - distance ** 2 + distance ** 3 / 2,
                       np.where(distance < 2, (2 - distance) ** 3 / 6, 0.0)).astype(np.float32)
    knots.flags.writeable = False
    weights.flags.writeable = False
    return knots, weights


def smooth_field(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Smooth noise (size×size, std ≈ 0.3–0.5), varying over about size/cells pixels.

    White noise on a coarse (cells+3)² grid, interpolated by a separable cubic B-spline
    (4 taps per axis, gathered directly: a BLAS matrix product would be slower for this
    sparse operator and fights other processes for threads).
    """
    cells = max(int(cells), 1)
    noise = rng.standard_normal((cells + 3, cells + 3)).astype(np.float32)
    knots, weights = _spline_taps(size, cells)
    rows = np.einsum("pk,pkj->pj", weights, noise[knots])  # size×(cells+3)
    return np.einsum("qk,pqk->pq", weights, rows[:, knots])  # size×size


def _two_colour(rng: np.random.Generator, weight: np.ndarray) -> np.ndarray:
    """Blend two random colours by ``weight`` (H×W in [0, 1])."""
    first, second = random_colour(rng), random_colour(rng)
    return weight[..., None] * first + (1.0 - weight[..., None]) * second


def smooth_texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """A gently varying colour: a base colour plus low-frequency colour noise."""
    base = random_colour(rng)
    variation = np.stack([smooth_field(rng, size, rng.integers(2, 6)) for _ in range(3)], axis=2)
    return np.clip(base + 0.3 * variation, 0.0, 1.0).astype(np.float32)


def stripes_texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """Parallel stripes of a random period, angle and edge sharpness (anti-aliased)."""
    period = rng.uniform(3.0, max(size / 4, 4.0))
    _, u = rotated_frame(size, (size / 2, size / 2), rng.uniform(0, np.pi))
    wave = np.sin(2 * np.pi * u / period + rng.uniform(0, 2 * np.pi))
    sharpness = rng.choice([1.0, period / 2])  # 1: soft sinusoid; period/2: near-square wave
    weight = np.clip(0.5 + 0.5 * sharpness * wave, 0.0, 1.0)
    return _two_colour(rng, weight).astype(np.float32)


def checker_texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """A rotated checkerboard with anti-aliased edges."""
    period = rng.uniform(4.0, max(size / 3, 5.0))
    v, u = rotated_frame(size, (size / 2, size / 2), rng.uniform(0, np.pi))
    product = np.sin(np.pi * v / period) * np.sin(np.pi * u / period)
    weight = np.clip(0.5 + period * product / 2, 0.0, 1.0)
    return _two_colour(rng, weight).astype(np.float32)


def fractal_texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """Multi-octave colour noise: detail at every scale, like foliage or gravel."""
    field = np.zeros((size, size), dtype=np.float32)
    amplitude, cells = 1.0, 2
    while cells <= size:
        field += amplitude * smooth_field(rng, size, cells)
        amplitude, cells = amplitude * 0.6, cells * 2
    weight = np.clip(0.5 + 0.6 * field, 0.0, 1.0)
    return _two_colour(rng, weight).astype(np.float32)


_MAKERS = {
    "photo": photo_crop,
    "smooth": smooth_texture,
    "stripes": stripes_texture,
    "checker": checker_texture,
    "fractal": fractal_texture,
}


def random_texture(rng: np.random.Generator, size: int, kinds=TEXTURE_KINDS, weights=None) -> np.ndarray:
    """One texture of a kind drawn from ``kinds`` (with probabilities ``weights``)."""
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64) / np.sum(weights)
    kind = kinds[rng.choice(len(kinds), p=weights)]
    return _MAKERS[kind](rng, size)
