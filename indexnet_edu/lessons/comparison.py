"""Every registered upsampler side by side: where its kernel comes from, what it costs (the
table is :func:`indexnet_edu.bench.cost.cost_table`; this module prints it).

>>> from indexnet_edu.bench.cost import cost_table
>>> rows = cost_table(channels=64, size=64)
>>> print(format_cost_table(rows))

Costs are counted from the code (:mod:`indexnet_edu.bench.cost`) for one encoder–decoder stage:
``down`` turns a B×C×size×size feature into B×C×(size/s)×(size/s) (max pooling, or an index
block's pooling) and ``up`` brings it back. FLOPs are PyTorch's ``FlopCounterMode`` count:
convolutions and matrix products (including the reassembly's einsum), a multiply-add as 2.
It does not see pooling, interpolation, ``grid_sample``, activations, softmax, batch norm or
the index's element-wise gating (IU multiplies C·H·W values) — small, but not zero.
"""
from __future__ import annotations

from ..bench.cost import CostRow


def format_cost_table(rows: list[CostRow]) -> str:
    """A plain-text table (MFLOPs), one line per row."""
    lines = [f"{'upsampler':<26} {'kernel from':<15} {'params':>9} {'down MFLOPs':>12} {'up MFLOPs':>10}"]
    for row in rows:
        lines.append(f"{row.name:<26} {row.kernel_source:<15} {row.parameters:>9,} "
                     f"{row.down_flops / 1e6:>12.2f} {row.up_flops / 1e6:>10.2f}")
    return "\n".join(lines)
