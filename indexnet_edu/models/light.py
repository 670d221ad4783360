"""The light encoder-decoder every comparison uses: only the resampler changes with the name.

    stem conv(in→w0) → [stage i: conv-BN-ReLU ×2 at width w_i → down_i] ×n → bottleneck
    → [up_i → (concat skip_i) → conv-BN-ReLU ×2 → w_{i-1}] ×n → 1×1 head → out

Each stage's ``down``/``up`` pair comes from ``create_upsamplers(name, widths)``, so a
modelwise O2O family shares one index function across stages and an index network's
decoder uses the index its block predicted from that stage's encoder feature.
With ``skips=False`` (the reconstruction experiment) the decoder sees nothing of the
encoder except what the resampler itself passes on (max-unpool's argmax, IndexNet's index).

Paired comparisons: the shared layers (encoder, bottleneck, decoder, head) are built first,
from the global RNG, and the resamplers afterwards inside ``torch.random.fork_rng`` from a
seed drawn once from the global RNG. So for a given ``torch.manual_seed`` every shared layer
gets the same initial weights whatever the upsampler, and the global RNG ends in the same
state (the data augmentation drawn after it is the same for every arm).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .._checks import check_flag, check_positive_int, check_tensor
from ..upsamplers.registry import create_upsamplers, upsampler_spec

#: Channels per stage: three stages, the width every comparison trains with (the quick and laptop presets).
DEFAULT_WIDTHS = (16, 32, 64)


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """Two 3×3 conv-BN-ReLU layers, B×C_in×H×W → B×C_out×H×W."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
    )


class LightEncoderDecoder(nn.Module):
    """B×in_channels×H×W → B×out_channels×H×W; H and W must divide by 2**len(widths)."""

    def __init__(self, in_channels: int, out_channels: int, upsampler: str = "bilinear",
                 widths: Sequence[int] = DEFAULT_WIDTHS, skips: bool = True):
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.out_channels = check_positive_int(out_channels, "out_channels")
        if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence) or not widths:
            raise TypeError(f"widths must be a non-empty sequence of positive ints, got {widths!r}")
        self.widths = tuple(check_positive_int(w, "widths[i]") for w in widths)
        self.upsampler_name = upsampler
        self.skips = check_flag(skips, "skips")
        upsampler_spec(upsampler)  # an unknown name fails before anything is built
        previous = in_channels
        self.encoder = nn.ModuleList()
        for width in self.widths:
            self.encoder.append(conv_block(previous, width))
            previous = width
        self.bottleneck = conv_block(self.widths[-1], self.widths[-1])
        self.decoder = nn.ModuleList()
        for i, width in enumerate(self.widths):
            target = self.widths[i - 1] if i > 0 else self.widths[0]
            self.decoder.append(conv_block(2 * width if self.skips else width, target))
        self.head = nn.Conv2d(self.widths[0], out_channels, 1)
        # One draw from the global RNG, whatever the upsampler: the resamplers' own stream.
        resampler_seed = int(torch.randint(0, 2**62, (), dtype=torch.int64))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(resampler_seed)
            self.resamplers = create_upsamplers(upsampler, list(self.widths))

    @property
    def total_stride(self) -> int:
        return 2 ** len(self.widths)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", ndim=4)
        if x.shape[1] != self.in_channels:
            raise ValueError(f"expected {self.in_channels} input channels, got {x.shape[1]}")
        if x.shape[-2] % self.total_stride or x.shape[-1] % self.total_stride:
            raise ValueError(f"H and W must be divisible by {self.total_stride}, got {tuple(x.shape[-2:])}")
        skips, states = [], []
        for block, resampler in zip(self.encoder, self.resamplers):
            x = block(x)
            skips.append(x)
            x, state = resampler.down(x)
            states.append(state)
        x = self.bottleneck(x)
        for i in reversed(range(len(self.widths))):
            x = self.resamplers[i].up(x, states[i])
            if self.skips:
                x = torch.cat([x, skips[i]], dim=1)
            x = self.decoder[i](x)
        return self.head(x)

    def index_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The decoder index of every stage (B×C'×H_i×W_i), for index-based resamplers only."""
        maps = []
        with torch.no_grad():
            for block, resampler in zip(self.encoder, self.resamplers):
                x = block(x)
                x, state = resampler.down(x)
                if not torch.is_tensor(state):
                    raise ValueError(f"upsampler {self.upsampler_name!r} passes no index to its decoder")
                maps.append(state)
        return maps
