"""What an operator costs: parameters and FLOPs, counted from the code itself."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .._checks import check_odd_kernel, check_positive_int, check_seed


def count_parameters(module: nn.Module) -> int:
    """Number of distinct parameters (a parameter shared by several stages counts once)."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    return sum(p.numel() for p in module.parameters())


def count_flops(fn, *inputs) -> int:
    """FLOPs of one call ``fn(*inputs)`` as PyTorch's FlopCounterMode counts them.

    The counter covers convolutions and matrix products (a multiply-add counts 2);
    element-wise work (activations, gating, softmax, interpolation) counts 0. Reassembly is
    run here by its PyTorch operator (``use_implementation("torch")``), whose batched matrix
    products the counter sees in full; the compiled kernels are invisible to it, and the naive
    formulation (multiply then sum) would count 0 — use :func:`reassembly_flops` for those.
    """
    from ..ops.reassembly import use_implementation

    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    with torch.no_grad(), use_implementation("torch"), FlopCounterMode(display=False) as counter:
        fn(*inputs)
    return int(counter.get_total_flops())


def reassembly_flops(channels: int, height: int, width: int, kernel_size: int, scale: int = 2) -> int:
    """FLOPs of one reassembly of a C×h×w map (h×w low-resolution), counted analytically.

    Every one of the C·s²·h·w outputs is a k²-term dot product: 2·C·k²·s²·h·w FLOPs
    (a multiply-add counts 2, as in :func:`count_flops`). The number is the same for the
    naive and the fast formulation; only where the values live differs.
    """
    channels, height, width = (check_positive_int(channels, "channels"), check_positive_int(height, "height"),
                               check_positive_int(width, "width"))
    kernel_size, scale = check_odd_kernel(kernel_size), check_positive_int(scale, "scale")
    return 2 * channels * kernel_size**2 * scale**2 * height * width


def naive_reassembly_values(channels: int, height: int, width: int, kernel_size: int, scale: int = 2) -> int:
    """How many values the "unfold, nearest-upsample the patches" formulation materialises:
    C·k²·s²·h·w — a copy of every neighbour for every output pixel (100× the input for k=5, s=2)."""
    return reassembly_flops(channels, height, width, kernel_size, scale) // 2


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
    from ..upsamplers.registry import available_upsamplers, create_upsampler, upsampler_spec  # the registry sits above this layer

    channels = check_positive_int(channels, "channels")
    size = check_positive_int(size, "size")
    stride = check_positive_int(stride, "stride")
    if size % stride:
        raise ValueError(f"size must be divisible by stride={stride}, got size={size}")
    seed = check_seed(seed, "seed")
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(1, channels, size, size, generator=generator)
    names = available_upsamplers() if names is None else list(names)
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
