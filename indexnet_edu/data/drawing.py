"""Anti-aliased drawing on a pixel grid with NumPy: soft shapes and hair-like strands.

Everything works on signed distances in pixels (positive inside): the coverage of a pixel by
a shape with a straight-ish edge is ``clip(distance + 1/2, 0, 1)``, which is what an
anti-aliasing rasteriser produces; blurring the edge over ``softness`` pixels widens that ramp.
Arrays are H×W float32; points are (y, x) in pixel units, pixel centres at integers.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=16)
def pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column coordinates, each size×size float32 (read-only, shared)."""
    coords = np.arange(size, dtype=np.float32)
    yy, xx = np.meshgrid(coords, coords, indexing="ij")
    yy.flags.writeable = False
    xx.flags.writeable = False
    return yy, xx


def coverage(signed_distance: np.ndarray, softness: float = 1.0) -> np.ndarray:
    """Pixel coverage from a signed distance (px, positive inside); ``softness`` = ramp width in px."""
    return np.clip(signed_distance / max(softness, 1e-3) + 0.5, 0.0, 1.0).astype(np.float32)


def rotated_frame(size: int, centre, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates in a frame centred at ``centre`` (y, x) and rotated by ``angle`` radians."""
    yy, xx = pixel_grid(size)
    dy, dx = yy - np.float32(centre[0]), xx - np.float32(centre[1])
    cos, sin = np.float32(np.cos(angle)), np.float32(np.sin(angle))
    return cos * dy - sin * dx, sin * dy + cos * dx


def ellipse_distance(size: int, centre, radii, angle: float = 0.0) -> np.ndarray:
    """Approximate signed distance (px) to an ellipse with semi-axes ``radii`` = (ry, rx)."""
    v, u = rotated_frame(size, centre, angle)
    ry, rx = radii
    normalised = np.sqrt((v / ry) ** 2 + (u / rx) ** 2)
    return (1.0 - normalised) * np.float32(min(ry, rx))


def rectangle_distance(size: int, centre, half_sides, angle: float = 0.0) -> np.ndarray:
    """Signed distance (px, exact inside, box-norm outside) to a rotated rectangle."""
    v, u = rotated_frame(size, centre, angle)
    return -np.maximum(np.abs(v) - half_sides[0], np.abs(u) - half_sides[1])


def polygon_distance(size: int, vertices) -> np.ndarray:
    """Signed distance (px) to a convex polygon given counter-clockwise-or-clockwise (y, x) vertices.

    Inside it is the distance to the nearest edge line (exact for convex polygons).
    """
    yy, xx = pixel_grid(size)
    vertices = np.asarray(vertices, dtype=np.float32)
    # orient consistently: positive area (shoelace) in (x, y)
    ys, xs = vertices[:, 0], vertices[:, 1]
    area = np.sum(xs * np.roll(ys, -1) - np.roll(xs, -1) * ys)
    if area < 0:
        vertices = vertices[::-1]
    distance = np.full((size, size), np.inf, dtype=np.float32)
    for start, end in zip(vertices, np.roll(vertices, -1, axis=0)):
        edge = end - start
        normal = np.array([edge[1], -edge[0]], dtype=np.float32) / max(np.hypot(*edge), 1e-6)
        # inward normal for a positively oriented polygon in (x, y): rotate edge by +90°
        distance = np.minimum(distance, (yy - start[0]) * normal[0] + (xx - start[1]) * normal[1])
    return distance


def star_blob_distance(size: int, centre, radius: float, amplitudes, phases) -> np.ndarray:
    """Signed radial distance (px) to a blob r(θ) = radius·(1 + Σ_k a_k cos(kθ + φ_k)), k = 2, 3, …"""
    yy, xx = pixel_grid(size)
    dy, dx = yy - np.float32(centre[0]), xx - np.float32(centre[1])
    rho = np.sqrt(dy * dy + dx * dx)
    theta = np.arctan2(dy, dx)
    r_theta = np.ones_like(theta)
    for k, (a, phi) in enumerate(zip(amplitudes, phases), start=2):
        r_theta += np.float32(a) * np.cos(k * theta + np.float32(phi))
    return (np.float32(radius) * r_theta - rho).astype(np.float32)


def blob_boundary_points(centre, radius: float, amplitudes, phases, theta: np.ndarray) -> np.ndarray:
    """Points (N×2, y/x) on the blob of :func:`star_blob_distance` at angles ``theta``."""
    r_theta = np.ones_like(theta)
    for k, (a, phi) in enumerate(zip(amplitudes, phases), start=2):
        r_theta = r_theta + a * np.cos(k * theta + phi)
    r_theta = radius * r_theta
    return np.stack([centre[0] + r_theta * np.sin(theta), centre[1] + r_theta * np.cos(theta)], axis=1)


def random_strands(rng: np.random.Generator, roots: np.ndarray, directions: np.ndarray, lengths,
                   points: int = 8, curl: float = 0.35) -> np.ndarray:
    """Curved polylines (S×points×2) grown from ``roots`` (S×2) along ``directions`` (S angles, rad).

    Each step turns by a random amount (a smooth random walk of the heading), so strands bend
    like hair; ``curl`` is the standard deviation of the turn per step in radians.
    """
    count = len(roots)
    lengths = np.broadcast_to(np.asarray(lengths, dtype=np.float64), (count,))
    step = lengths / (points - 1)
    turn_rate = rng.normal(0.0, curl, size=(count, 1)) * 0.5
    turns = turn_rate + rng.normal(0.0, curl, size=(count, points - 1))
    headings = directions[:, None] + np.cumsum(turns, axis=1)
    moves = np.stack([np.sin(headings), np.cos(headings)], axis=2) * step[:, None, None]
    path = np.concatenate([roots[:, None, :], roots[:, None, :] + np.cumsum(moves, axis=1)], axis=1)
    return path.astype(np.float32)


def strand_alpha(size: int, polylines: np.ndarray, widths, opacities) -> np.ndarray:
    """Union coverage (H×W) of anti-aliased polylines (S×P×2, y/x) with per-strand width and opacity.

    A strand's coverage is ``clip(w/2 + 1/2 − d, 0, 1)`` for widths ≥ 1 px and
    ``w·clip(1 − d, 0, 1)`` below (a sub-pixel hair covers a fraction of a pixel), d the
    distance to the polyline; strands combine like stacked transparent layers,
    α = 1 − Π(1 − α_s).

    Speed: every segment is evaluated only in a small window around it, all segments at once
    (S·(P−1)×K×K arrays); a strand's coverage is the maximum over its segments (equal to the
    coverage of its nearest segment, since coverage falls with distance).
    """
    polylines = np.asarray(polylines, dtype=np.float32)
    count, points = polylines.shape[:2]
    if count == 0:
        return np.zeros((size, size), dtype=np.float32)
    widths = np.asarray(widths, dtype=np.float32).reshape(count)
    opacities = np.asarray(opacities, dtype=np.float32).reshape(count)
    a = polylines[:, :-1].reshape(-1, 2)  # segment starts, (S·(P−1))×2
    b = polylines[:, 1:].reshape(-1, 2)
    strand = np.repeat(np.arange(count), points - 1)
    width, opacity = widths[strand], opacities[strand]
    reach = width / 2 + 1.5
    origin = np.floor(np.minimum(a, b) - reach[:, None]).astype(np.int64)  # window corner (y, x)
    window = int(np.ceil((np.abs(b - a) + 2 * reach[:, None]).max())) + 2
    offsets = np.arange(window)
    py = (origin[:, 0, None, None] + offsets[None, :, None]).astype(np.float32)  # S×K×1
    px = (origin[:, 1, None, None] + offsets[None, None, :]).astype(np.float32)  # S×1×K
    ab = (b - a)[:, :, None, None]
    length2 = np.maximum(ab[:, 0] ** 2 + ab[:, 1] ** 2, 1e-9)
    ay, ax = a[:, 0, None, None], a[:, 1, None, None]
    t = np.clip(((py - ay) * ab[:, 0] + (px - ax) * ab[:, 1]) / length2, 0.0, 1.0)
    distance = np.sqrt((py - ay - t * ab[:, 0]) ** 2 + (px - ax - t * ab[:, 1]) ** 2)
    w = width[:, None, None]
    cover = np.where(w >= 1.0, np.clip(w / 2 + 0.5 - distance, 0.0, 1.0),
                     w * np.clip(1.0 - distance, 0.0, 1.0)) * opacity[:, None, None]
    iy = np.broadcast_to(py.astype(np.int64), cover.shape)
    ix = np.broadcast_to(px.astype(np.int64), cover.shape)
    keep = (cover > 0) & (iy >= 0) & (iy < size) & (ix >= 0) & (ix < size)
    per_strand = np.zeros(count * size * size, dtype=np.float32)
    flat = (np.broadcast_to(strand[:, None, None], cover.shape) * size + iy) * size + ix
    np.maximum.at(per_strand, flat[keep], cover[keep])
    return (1.0 - np.prod(1.0 - per_strand.reshape(count, size, size), axis=0)).astype(np.float32)
