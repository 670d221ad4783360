"""Figures for the cost lesson: the naive memory model and the measured scaling curves."""
from __future__ import annotations

from pathlib import Path

import zlib

import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter

from .cost import naive_reassembly_values
from ..figure_sizes import FIGURE_WIDTH_IN, MIN_FONT_PT

# One colour per series, the same in every figure (tab10/tab20 hues, no two alike).
SERIES_COLOURS = {
    "nearest": "#1f77b4", "bilinear": "#ff7f0e", "max_unpool": "#c49c94", "carafe": "#2ca02c",
    "dysample": "#bcbd22", "hin": "#d62728", "din_o2o": "#9467bd", "din_m2o": "#e377c2",
    "deconv": "#7f7f7f", "pixel_shuffle": "#17becf", "a2u": "#8c564b", "fade": "#393b79", "sapa": "#d6616b",
    "reassembly op (fast)": "#000000", "reassembly op (naive)": "#ad494a",
    "impl torch": "#969696", "impl numba": "#74c476", "impl triton": "#6b6ecf", "impl naive": "#e7969c",
}
METRIC_LABELS = {"forward_ms": "forward time (ms)", "forward_backward_ms": "forward + backward time (ms)",
                 "peak_extra_mib": "peak extra memory (MiB)"}
_SPARE_COLOURS = ("#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354")


def series_colour(name: str) -> str:
    """The fixed colour of a series: from :data:`SERIES_COLOURS`, else a spare one chosen by a
    stable hash of the name (so a series keeps its colour across figures and runs)."""
    return SERIES_COLOURS.get(name) or _SPARE_COLOURS[zlib.crc32(name.encode()) % len(_SPARE_COLOURS)]


def _label_only_the_given_ticks(axis, values) -> None:
    """On a log axis, write the given tick values and no minor labels (they overlap)."""
    axis.set_ticks(values, [str(v) for v in values])
    axis.set_minor_formatter(NullFormatter())

def committed_results(name: str = "cpu.json") -> Path:
    """The committed benchmark run ``name`` shipped inside the package (:mod:`indexnet_edu.shipped_files`).

    Raises:
        ShippedDataMissing: it is not there; the message names it and the command that makes it.
    """
    from ..shipped_files import BENCH_COMMAND, benchmarks_dir, require

    return require(benchmarks_dir() / name, BENCH_COMMAND)


def fast_working_values(channels: int, height: int, width: int, kernel_size: int, scale: int = 2) -> int:
    """Values the fast operator's forward holds besides its output (batch 1, one group): the
    padded input and its channels-last copy, the kernels regrouped by row, a chunk of rows of
    patches and of products (as many rows as fit in ``_CHUNK_VALUES`` patch values), and an
    output-sized staging buffer laid out by rows."""
    from ..ops.kernels.torch_blas import _CHUNK_VALUES

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
    fig, ax = plt.subplots(figsize=(5.5, 4.4), layout="constrained")
    ax.plot(sizes, naive, "o--", color=series_colour("reassembly op (naive)"), label="naive: upsampled patches C·k²·s²·h·w")
    ax.plot(sizes, output, "s:", color="#7f7f7f", label="the output itself C·s²·h·w")
    ax.plot(sizes, fast, "^-", color=series_colour("reassembly op (fast)"),
            label="fast: a chunk of rows + input and staging copies")
    ax.set(xscale="log", yscale="log", xlabel="low-resolution size h = w",
           ylabel="MiB (float32)", title=f"Extra memory of reassembly, C={channels}, k={kernel_size}, ×{scale}")
    _label_only_the_given_ticks(ax.xaxis, list(sizes))
    fig.legend(fontsize=MIN_FONT_PT, loc="outside lower center")  # below the plot, off the lines
    return fig


#: The scaling plot's rows: a few upsamplers of one kind each, so a row's lines stay apart.
SCALING_GROUPS = {
    "content-independent": ("nearest", "bilinear", "max_unpool", "deconv", "pixel_shuffle"),
    "index networks": ("hin", "din_o2o", "din_m2o"),
    "content-aware kernels": ("carafe", "dysample", "a2u", "fade", "sapa"),
    "the reassembly operator": ("reassembly op (fast)", "reassembly op (naive)"),
}


def scaling_groups(names) -> dict:
    """``names`` split into the rows of :data:`SCALING_GROUPS` (in their order, empty rows
    dropped); names in no group form a last row, "others"."""
    names = list(dict.fromkeys(names))
    groups = {title: [n for n in members if n in names] for title, members in SCALING_GROUPS.items()}
    grouped = {n for members in groups.values() for n in members}
    groups["others"] = [n for n in names if n not in grouped]
    return {title: members for title, members in groups.items() if members}


def plot_scaling(curves: dict, metric: str = "forward_ms", names=None):
    """``metric`` vs H×W (left) and vs channels (right), log–log, one line per upsampler, each in
    its fixed colour (:func:`series_colour`). Without ``names``: one row per kind of upsampler
    (:data:`SCALING_GROUPS`), so no panel holds more than five lines; with ``names``: those, in
    one row. Each row's legend sits beside it, off the lines."""
    present = [row["name"] for axis in ("size", "channels") for row in curves[axis] if row.get(metric)]
    groups = {"": list(names)} if names else scaling_groups(present)
    fig, axes = plt.subplots(len(groups), 2, figsize=(FIGURE_WIDTH_IN, 0.6 + 2.3 * len(groups)), squeeze=False,
                             sharex="col", layout="constrained")
    for row_axes, (title, members) in zip(axes, groups.items()):
        for ax, axis in zip(row_axes, ("size", "channels")):
            rows = [row for row in curves[axis] if row.get(metric)]  # zeros cannot go on a log axis
            for name in members:
                points = sorted((row[axis], row[metric]) for row in rows if row["name"] == name)
                if points:
                    style = "--" if "naive" in name else "-"
                    ax.plot(*zip(*points), style, marker="o", markersize=3, color=series_colour(name), label=name)
            ax.set(xscale="log", yscale="log")
            _label_only_the_given_ticks(ax.xaxis, sorted({row[axis] for row in rows}))
        row_axes[0].set_ylabel(METRIC_LABELS.get(metric, metric.replace("_", " ")))
        row_axes[1].legend(title=title or None, loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=MIN_FONT_PT,
                           title_fontsize=MIN_FONT_PT)
    axes[-1, 0].set_xlabel("H = W of the pair's input")
    axes[-1, 1].set_xlabel("channels C")
    return fig


IMPLEMENTATION_LABELS = {"torch": "PyTorch operator\n(batched small matmuls)", "numba": "fused numba kernel\n(CPU)",
                         "triton": "Triton kernel\n(CUDA)", "naive": "naive (unfold,\nupsample, multiply)"}


def plot_machine_limit(report: dict, goal: float = 3.0):
    """Each reassembly implementation's time as a multiple of the machine's limit (log axis),
    forward and forward+backward side by side, with the limit (1×) and the goal marked.

    Args:
        report: ``results["machine_limit"]`` of a benchmark run (:mod:`indexnet_edu.bench.limits`).
        goal: where to draw the goal line (× limit).
    """
    rows = report["implementations"]
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH_IN, 1.4 + 0.8 * len(rows)), layout="constrained")
    height = 0.38
    for offset, phase, hatch in ((-height / 2, "forward", ""), (height / 2, "forward_backward", "//")):
        for index, row in enumerate(rows):
            value = row[f"times_limit_{phase}"]
            ax.barh(index + offset, value, height, color=series_colour(f"impl {row['implementation']}"),
                    hatch=hatch, edgecolor="white", label=phase.replace("_", "+") if index == 0 else None)
            ax.annotate(f"{row[f'{phase}_ms']:.1f} ms ({value:.1f}×)", (value, index + offset), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize=MIN_FONT_PT)
    ax.axvline(1, color="black", lw=1)
    ax.axvline(goal, color="#d62728", lw=1, ls="--")
    ax.text(1, -0.55, " limit", fontsize=MIN_FONT_PT)
    ax.text(goal, -0.55, f" goal {goal:g}×", fontsize=MIN_FONT_PT, color="#d62728")
    ax.set_yticks(range(len(rows)), [IMPLEMENTATION_LABELS.get(r["implementation"], r["implementation"]) for r in rows],
                  fontsize=MIN_FONT_PT)
    ax.invert_yaxis()
    largest = max(row[f"times_limit_{phase}"] for row in rows for phase in ("forward", "forward_backward"))
    ax.set(xscale="log", xlim=(0.5, 40 * largest), ylim=(len(rows) - 0.4, -0.8),
           xlabel="time ÷ the machine's limit (log scale; 1 = this machine's speed)",
           title=f"Reassembly vs the machine's limit: forward {report['limit_ms']['forward']:.1f} ms,\n"
                 f"forward+backward {report['limit_ms']['forward_backward']:.1f} ms")
    ax.title.set_fontsize(10)
    legend = ax.legend(fontsize=MIN_FONT_PT, loc="upper right")
    for patch in legend.get_patches():
        patch.set_facecolor("#bbbbbb")
    return fig
