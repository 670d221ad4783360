"""DySample: upsampling by learned point sampling (Liu et al., "Learning to Upsample by
Learning to Sample", ICCV 2023) — a further relative of the index/reassembly family.

Each output pixel reads y at one learned sub-pixel position with bilinear interpolation
(``grid_sample``) instead of mixing a k×k kernel. The position is the bilinear sampling
point of that output pixel plus a learned offset (a 1×1 conv of y, scaled by 0.25 so
neighbouring points rarely cross). With the offsets at zero it *is* bilinear upsampling.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from .._checks import check_channels, check_finite_real, check_positive_int, check_tensor
from ..ops.graph_capture import NotScriptable


class DySample(NotScriptable, nn.Module):
    """Point-sampling upsampler (the "linear projection, static scope" variant).

    Args:
        channels: C of the input, divisible by ``groups``.
        scale: factor s.
        groups: channel groups sharing one sampling position (4 in the paper).
        scope: multiplier on the predicted offsets (0.25 in the paper); a finite number >= 0
            (0 makes it plain bilinear upsampling).

    Raises:
        TypeError: a non-int count or a non-number ``scope`` (bools refused).
        ValueError: counts < 1, channels not divisible by groups, ``scope`` NaN, ±inf or < 0.
    """

    def __init__(self, channels: int, scale: int = 2, groups: int = 4, scope: float = 0.25):
        super().__init__()
        self.channels = check_positive_int(channels, "channels")
        self.scale = check_positive_int(scale, "scale")
        self.groups = check_positive_int(groups, "groups")
        if channels % groups:
            raise ValueError(f"channels must be divisible by groups={groups}, got channels={channels}")
        self.scope = check_finite_real(scope, "scope", minimum=0.0)
        self.offset = nn.Conv2d(channels, 2 * groups * scale**2, 1)
        nn.init.normal_(self.offset.weight, std=0.001)
        nn.init.zeros_(self.offset.bias)

    def sampling_points(self, y: torch.Tensor) -> torch.Tensor:
        """Sampling positions in low-res pixel units, B×G×(s·h)×(s·w)×2 as (x, y)."""
        batch, _, height, width = y.shape
        s = self.scale
        # Coordinates need at least float32: in bf16 (autocast) a position near 64 is only
        # resolved to ½ pixel, which would swallow the small learned offsets entirely.
        dtype = torch.promote_types(y.dtype, torch.float32)
        offsets = rearrange(self.offset(y).to(dtype) * self.scope, "b (g two i j) h w -> b g (h i) (w j) two",
                            g=self.groups, two=2, i=s, j=s)
        # Bilinear's own sampling point for output o = s·n + a is n + (a + ½)/s − ½.
        rows = (torch.arange(s * height, device=y.device, dtype=dtype) + 0.5) / s - 0.5
        cols = (torch.arange(s * width, device=y.device, dtype=dtype) + 0.5) / s - 0.5
        base = torch.stack(torch.meshgrid(cols, rows, indexing="xy"), dim=-1)  # (s·h)×(s·w)×2
        return base + offsets

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        check_tensor(y, "y", ndim=4)
        check_channels(y, self.channels, "DySample")
        height, width = y.shape[-2:]
        points = self.sampling_points(y)
        size = torch.tensor([width, height], device=y.device, dtype=points.dtype)
        grid = (points + 0.5) / size * 2 - 1  # grid_sample's align_corners=False convention
        grouped = rearrange(y, "b (g c) h w -> (b g) c h w", g=self.groups).to(grid.dtype)
        out = F.grid_sample(grouped, rearrange(grid, "b g h w two -> (b g) h w two"), mode="bilinear",
                            padding_mode="border", align_corners=False)
        return rearrange(out, "(b g) c h w -> b (g c) h w", g=self.groups).to(y.dtype)
