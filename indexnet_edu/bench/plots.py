"""Figures for the cost lesson: the naive memory model and the measured scaling curves."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from ..cost import naive_reassembly_values

RESULTS_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def committed_results(name: str = "cpu.json") -> Path | None:
    """Path of a committed results file under ``benchmarks/results``, or None if absent."""
    path = RESULTS_DIR / name
    return path if path.exists() else None


def fast_working_values(channels: int, height: int, width: int, kernel_size: int, scale: int = 2) -> int:
    """Values the fast operator's forward holds besides its output (batch 1, one group): the
    padded input and its channels-last copy, the kernels regrouped by row, a chunk of rows of
    patches and of products (as many rows as fit in ``_CHUNK_VALUES`` patch values), and an
    output-sized staging buffer laid out by rows."""
    from ..reassembly import _CHUNK_VALUES

    area, phases = kernel_size**2, scale**2
    padded = (height + kernel_size - 1) * (width + kernel_size - 1)
    rows = max(1, min(height, _CHUNK_VALUES // (width * area * channels)))
    return (2 * channels * padded + area * phases * height * width
            + rows * width * channels * (area + phases) + channels * phases * height * width)


def plot_memory_model(channels: int = 256, kernel_size: int = 5, scale: int = 2, sizes=(16, 32, 64, 128)):
    """Float32 MiB held by naive vs fast reassembly (besides the output) vs low-res size h = w."""
    naive = [4 * naive_reassembly_values(channels, n, n, kernel_size, scale) / 2**20 for n in sizes]
    fast = [4 * fast_working_values(channels, n, n, kernel_size, scale) / 2**20 for n in sizes]
    output = [4 * channels * scale**2 * n * n / 2**20 for n in sizes]
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    ax.plot(sizes, naive, "o-", label="naive: upsampled patches C·k²·s²·h·w")
    ax.plot(sizes, output, "s--", label="the output itself C·s²·h·w")
    ax.plot(sizes, fast, "^-", label="fast: a chunk of rows + input and staging copies")
    ax.set(xscale="log", yscale="log", xlabel="low-resolution size h = w",
           ylabel="MiB (float32)", title=f"Extra memory of reassembly, C={channels}, k={kernel_size}, ×{scale}")
    ax.set_xticks(sizes, [str(n) for n in sizes])
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_scaling(curves: dict, metric: str = "forward_ms", names=None):
    """Two panels: ``metric`` vs H×W and vs channels, one line per upsampler (log–log)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, axis, label in zip(axes, ("size", "channels"), ("H = W of the pair's input", "channels C")):
        rows = [row for row in curves[axis] if row.get(metric)]  # zeros cannot go on a log axis
        for name in names or dict.fromkeys(row["name"] for row in rows):
            points = sorted((row[axis], row[metric]) for row in rows if row["name"] == name)
            if points:
                style = "--" if "naive" in name else "-"
                ax.plot(*zip(*points), style, marker="o", markersize=3, label=name)
        ax.set(xscale="log", yscale="log", xlabel=label, ylabel=metric.replace("_", " "))
        ax.set_xticks(sorted({row[axis] for row in rows}), [str(v) for v in sorted({row[axis] for row in rows})])
    axes[1].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig
