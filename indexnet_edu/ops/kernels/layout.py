"""Channels-last views of a padded map, shared by the reassembly operators.

``(B·G)×hp×wp×(C/G)`` puts each group's channels of one pixel side by side in memory, so a
pixel's k×k neighbourhood is k² contiguous vectors: the layout every fast reassembly uses.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange


def pad_for_kernel(y: torch.Tensor, kernel_size: int, padding: str) -> torch.Tensor:
    """Pad a B×C×h×w map by ⌊k/2⌋ on every side, with zeros or by replicating the border."""
    r = kernel_size // 2
    if r == 0:
        return y
    mode = "constant" if padding == "zeros" else "replicate"
    return F.pad(y, (r, r, r, r), mode=mode)


def channels_last(padded: torch.Tensor, groups: int) -> torch.Tensor:
    """B×C×hp×wp → (B·G)×hp×wp×(C/G), contiguous."""
    batch, channels, height, width = padded.shape
    if batch * groups == 1:  # a plain 2-D transpose: PyTorch's blocked fast path
        return padded.reshape(channels, height * width).t().contiguous().view(1, height, width, channels)
    return rearrange(padded, "b (g c) h w -> (b g) h w c", g=groups).contiguous()


def channels_first(features: torch.Tensor, batch: int) -> torch.Tensor:
    """Inverse of :func:`channels_last`: (B·G)×hp×wp×c → B×(G·c)×hp×wp, contiguous."""
    batch_groups, height, width, channels = features.shape
    if batch_groups == 1:
        return features.reshape(height * width, channels).t().contiguous().view(1, channels, height, width)
    return rearrange(features, "(b g) h w c -> b (g c) h w", b=batch).contiguous()


def fold_padding_gradient(grad_padded: torch.Tensor, radius: int, padding: str) -> torch.Tensor:
    """The gradient of ``y`` from that of its padded copy B×C×(h+2r)×(w+2r): the adjoint of
    padding by ``radius`` with zeros (crop) or by replicating the border (each border strip is
    added to the edge row or column it copied). Returns B×C×h×w."""
    if radius == 0:
        return grad_padded
    r = radius
    if padding == "zeros":
        return grad_padded[..., r:-r, r:-r]
    columns = grad_padded[..., r:-r].clone()        # fold the left and right strips into the edge columns
    columns[..., 0] += grad_padded[..., :r].sum(-1)
    columns[..., -1] += grad_padded[..., -r:].sum(-1)
    folded = columns[..., r:-r, :].clone()           # then the top and bottom strips into the edge rows
    folded[..., 0, :] += columns[..., :r, :].sum(-2)
    folded[..., -1, :] += columns[..., -r:, :].sum(-2)
    return folded
