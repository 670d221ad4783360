"""What an operator costs: parameters and FLOPs, counted from the code itself."""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_parameters(module: nn.Module) -> int:
    """Number of distinct parameters (a parameter shared by several stages counts once)."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    return sum(p.numel() for p in module.parameters())


def count_flops(fn, *inputs) -> int:
    """FLOPs of one call ``fn(*inputs)`` as PyTorch's FlopCounterMode counts them.

    The counter covers convolutions and matrix products (a multiply-add counts 2);
    element-wise work (activations, gating, softmax, interpolation) counts 0.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        fn(*inputs)
    return int(counter.get_total_flops())
