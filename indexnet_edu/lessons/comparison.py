"""Every registered upsampler side by side: where its kernel comes from, what it costs.

>>> rows = cost_table(channels=64, size=64)
>>> print(format_cost_table(rows))

Costs are counted from the code (:mod:`indexnet_edu.cost`) for one encoder–decoder stage:
``down`` turns a B×C×size×size feature into B×C×(size/s)×(size/s) (max pooling, or an index
block's pooling) and ``up`` brings it back. FLOPs are PyTorch's ``FlopCounterMode`` count:
convolutions and matrix products (including the reassembly's einsum), a multiply-add as 2.
It does not see pooling, interpolation, ``grid_sample``, activations, softmax, batch norm or
the index's element-wise gating (IU multiplies C·H·W values) — small, but not zero.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .._checks import check_positive_int, check_seed
from ..cost import count_flops, count_parameters
from ..registry import available_upsamplers, create_upsampler, upsampler_spec


@dataclass(frozen=True)
class CostRow:
    """One upsampler's entry: name, kernel source, parameters and FLOPs of down and up."""

    name: str
    kernel_source: str
    parameters: int
    down_flops: int
    up_flops: int

    @property
    def total_flops(self) -> int:
        return self.down_flops + self.up_flops


def cost_table(channels: int = 64, size: int = 64, stride: int = 2, names=None, seed: int = 0) -> list[CostRow]:
    """Parameters and FLOPs of one stage of each upsampler (default: all registered) for a
    1×channels×size×size feature; size must be divisible by stride."""
    channels = check_positive_int(channels, "channels")
    size = check_positive_int(size, "size")
    stride = check_positive_int(stride, "stride")
    if size % stride:
        raise ValueError(f"size must be divisible by stride={stride}, got size={size}")
    seed = check_seed(seed, "seed")
    names = available_upsamplers() if names is None else list(names)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(1, channels, size, size, generator=generator)
    rows = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for name in names:
            pair = create_upsampler(name, channels, stride).eval()
            down_flops = count_flops(pair.down, x)
            with torch.no_grad():
                pooled, state = pair.down(x)
            up_flops = count_flops(pair.up, pooled, state)
            rows.append(CostRow(name, upsampler_spec(name).kernel_source, count_parameters(pair), down_flops, up_flops))
    return rows


def format_cost_table(rows: list[CostRow]) -> str:
    """A plain-text table (MFLOPs), one line per row."""
    lines = [f"{'upsampler':<26} {'kernel from':<15} {'params':>9} {'down MFLOPs':>12} {'up MFLOPs':>10}"]
    for row in rows:
        lines.append(f"{row.name:<26} {row.kernel_source:<15} {row.parameters:>9,} "
                     f"{row.down_flops / 1e6:>12.2f} {row.up_flops / 1e6:>10.2f}")
    return "\n".join(lines)
