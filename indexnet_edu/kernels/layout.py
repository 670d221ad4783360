"""Channels-last views of a padded map, shared by the reassembly operators.

``(B·G)×hp×wp×(C/G)`` puts each group's channels of one pixel side by side in memory, so a
pixel's k×k neighbourhood is k² contiguous vectors: the layout every fast reassembly uses.
"""
from __future__ import annotations

import torch
from einops import rearrange


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
