"""Pooling explorer: one image, one stride, one index → index map, pooled, unpooled, error.

Every choice is an index map ``I``: pooling is ``IP(x) = Σ_window I·x`` and the
reconstruction is ``IU(IP(x)) = gate ⊙ NN↑(IP(x))``. For the hand-made indices the decoder
gate is the pooling index rescaled so that its largest entry in each window is 1:

* max (one-hot)       → gate one-hot           → max-unpooling (SegNet);
* average (1/s²)      → gate ≡ 1               → nearest-neighbour upsampling;
* softmax at T        → a gate in between, sliding from max to average as T grows;
* random              → a one-hot index at a random position of each window;
* painted             → your own non-negative weights, normalised per window;
* trained             → an index block's own ``(enc, dec)`` pair (enc pools, dec upsamples).

Nothing here trains: a trained block is passed in (``indexnet_edu.lessons.toy.train_index_block``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from einops import rearrange, reduce, repeat

from .._checks import check_choice, check_divisible, check_positive_int, check_positive_real, check_seed, check_tensor
from ..ops.indexing import indexed_pool, indexed_upsample
from ..ops.recipes import average_index, max_index, softmax_index

POOLING_INDICES = ("max", "average", "softmax", "random", "painted", "trained")
STRIDES = (2, 4)


@dataclass(frozen=True)
class PoolingView:
    """What the pooling explorer draws; every tensor is 1×C×… of the input's dtype.

    ``encoder_index`` and ``decoder_gate`` are H×W (holistic 1 channel or depthwise C),
    ``pooled`` is (H/s)×(W/s), ``unpooled`` and ``error`` (= |unpooled − image|) are H×W.
    """

    image: torch.Tensor
    stride: int
    index: str
    encoder_index: torch.Tensor
    decoder_gate: torch.Tensor
    pooled: torch.Tensor
    unpooled: torch.Tensor
    error: torch.Tensor

    @property
    def mean_abs_error(self) -> float:
        return float(self.error.mean())


def check_image(image, stride: int, name: str = "image") -> torch.Tensor:
    """An explorer's picture: a finite floating 1×C×H×W (any batch) tensor whose H and W the
    stride tiles. ValueError/TypeError naming ``name`` — an H×W or C×H×W picture is told how
    to add the missing axes, NaN/inf (which would paint every panel blank) are refused."""
    if isinstance(image, torch.Tensor) and image.dim() in (2, 3):
        axes = "image[None, None]" if image.dim() == 2 else "image[None]"
        raise ValueError(f"{name} must be a 4-D 1×C×H×W tensor, got {image.dim()}-D with shape {tuple(image.shape)} "
                         f"(add the missing axes: {axes})")
    check_tensor(image, name, ndim=4)
    check_divisible(image, stride, name)
    if not torch.isfinite(image).all():
        raise ValueError(f"{name} must hold finite values, got NaN or ±inf")
    return image


def window_max_gate(index: torch.Tensor, stride: int) -> torch.Tensor:
    """The decoder gate of a hand-made index: ``index / max(index in its window)``.

    B×C×H×W → B×C×H×W with 1 at every window's largest weight; an all-zero window gives 0.
    """
    peak = reduce(index, "b c (h s1) (w s2) -> b c h w", "max", s1=stride, s2=stride)
    peak = repeat(peak, "b c h w -> b c (h s1) (w s2)", s1=stride, s2=stride)
    return torch.where(peak > 0, index / peak.clamp_min(torch.finfo(index.dtype).tiny), torch.zeros_like(index))


def random_index(x: torch.Tensor, stride: int = 2, seed: int = 0) -> torch.Tensor:
    """Holistic one-hot index (B×1×H×W) at a uniformly random position of each window."""
    batch, _, height, width = x.shape
    generator = torch.Generator().manual_seed(check_seed(seed, "seed"))
    choice = torch.randint(stride * stride, (batch, 1, height // stride, width // stride), generator=generator)
    one_hot = torch.nn.functional.one_hot(choice, stride * stride).to(x.dtype)
    return rearrange(one_hot, "b c h w (s1 s2) -> b c (h s1) (w s2)", s1=stride, s2=stride)


def painted_index(painting, x: torch.Tensor, stride: int = 2) -> torch.Tensor:
    """Holistic index (B×1×H×W) from hand-painted non-negative weights.

    ``painting`` is an s×s tile (repeated over the image) or a full H×W array/tensor; it is
    normalised to sum 1 in each window. A window painted all zero falls back to average.
    """
    weights = torch.as_tensor(np.asarray(painting, dtype=np.float64)).to(x.dtype)
    height, width = x.shape[-2:]
    if weights.dim() != 2 or tuple(weights.shape) not in ((stride, stride), (height, width)):
        raise ValueError(f"painting must be a {stride}×{stride} tile or a {height}×{width} array, "
                         f"got shape {tuple(weights.shape)}")
    if not torch.isfinite(weights).all() or (weights < 0).any():
        raise ValueError("painting must hold finite non-negative weights")
    if tuple(weights.shape) == (stride, stride):
        weights = repeat(weights, "s1 s2 -> (h s1) (w s2)", h=height // stride, w=width // stride)
    weights = repeat(weights, "h w -> b 1 h w", b=x.shape[0])
    total = reduce(weights, "b c (h s1) (w s2) -> b c h w", "sum", s1=stride, s2=stride)
    total = repeat(total, "b c h w -> b c (h s1) (w s2)", s1=stride, s2=stride)
    return torch.where(total > 0, weights / total.clamp_min(torch.finfo(x.dtype).tiny),
                       torch.full_like(weights, 1.0 / stride**2))


def apply_index_block(block, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Run a trained index block (or any callable ``x -> (enc, dec)``) on ``x``.

    A block built for one channel (``in_channels == 1``) is applied to each channel in turn.
    """
    if block is None:
        raise ValueError("index='trained' needs a trained index block; pass block=... "
                         "(e.g. indexnet_edu.lessons.toy.train_index_block('hin').block)")
    if not callable(block):
        raise TypeError(f"block must be callable x -> (encoder_index, decoder_index), got {type(block).__name__}")
    channels = x.shape[1]
    wants = getattr(block, "in_channels", channels)
    if isinstance(block, torch.nn.Module):
        param = next(block.parameters(), None)
        if param is not None:
            x = x.to(param.dtype)
    with torch.no_grad():
        if wants == 1 and channels != 1:
            enc, dec = block(rearrange(x, "b c h w -> (b c) 1 h w"))
            enc, dec = (rearrange(t, "(b c) 1 h w -> b c h w", c=channels) for t in (enc, dec))
        else:
            enc, dec = block(x)
    return enc, dec


def pooling_indices(x: torch.Tensor, index: str, stride: int = 2, temperature: float = 0.05,
                    painting=None, block=None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(encoder_index, decoder_gate)`` for one of :data:`POOLING_INDICES` on a B×C×H×W map."""
    check_tensor(x, "x", ndim=4)
    check_choice(index, "index", POOLING_INDICES)
    stride = check_positive_int(stride, "stride")
    check_divisible(x, stride)
    if index == "trained":
        block_stride = getattr(block, "stride", stride)
        if block is not None and block_stride != stride:
            raise ValueError(f"the trained block pools with stride {block_stride}, but stride={stride} was chosen")
        enc, dec = apply_index_block(block, x)
        return enc.to(x.dtype), dec.to(x.dtype)
    if index == "max":
        enc = max_index(x, stride)
    elif index == "average":
        enc = average_index(x, stride)
    elif index == "softmax":
        enc = softmax_index(x, stride, check_positive_real(temperature, "temperature"))
    elif index == "random":
        enc = random_index(x, stride, seed)
    else:
        if painting is None:
            raise ValueError("index='painted' needs painting=<an s×s tile or H×W array of weights>")
        enc = painted_index(painting, x, stride)
    return enc, window_max_gate(enc, stride)


def explore_pooling(image: torch.Tensor, stride: int = 2, index: str = "max", temperature: float = 0.05,
                    painting=None, block=None, seed: int = 0) -> PoolingView:
    """Pool ``image`` (1×C×H×W) with the chosen index, unpool with its gate, measure the error."""
    stride = check_positive_int(stride, "stride")
    check_choice(stride, "stride", STRIDES)
    check_image(image, stride)
    enc, gate = pooling_indices(image, index, stride, temperature, painting, block, seed)
    pooled = indexed_pool(image, enc, stride)
    unpooled = indexed_upsample(pooled, gate, stride)
    return PoolingView(image, stride, index, enc, gate, pooled, unpooled, (unpooled - image).abs())
