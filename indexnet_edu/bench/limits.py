"""How close each reassembly implementation gets to the machine's own limit.

The limit of a piece of work is the larger of two times, both measured on this machine in the
same interleaved run as the implementations (so a busy neighbour slows them alike):

- its FLOPs at the rate of a dense 1024×1024 float32 matrix product (on CUDA 4096×4096), the
  best the machine does on arithmetic; and
- the bytes it cannot avoid moving — read every input once, write every output once — at the
  bandwidth of a large tensor copy (read + write bytes per second).

For reassembly (y B×C×h×w, k×k kernels, scale s; Wang et al., CARAFE, ICCV 2019) the forward
is 2·k²·C·s²·h·w FLOPs (:func:`indexnet_edu.bench.cost.reassembly_flops`) and moves y, the kernels
and the output; the backward does that arithmetic twice more (dL/dW and dL/dy) and moves
y, the kernels and dL/dout in, dL/dy and dL/dW out. "× limit" is measured time / limit: 1 is
the machine's speed, 3 is the issue's goal for the fused CPU kernel.
"""
from __future__ import annotations

import torch

from .cost import reassembly_flops
from ..ops.reassembly import choose_implementation, reassemble
from .measure import median_times
from .naive import naive_reassemble

#: The fused CPU kernel's goal: forward and forward+backward within this factor of the limit.
GOAL_TIMES_LIMIT = 3.0
#: Elements of the tensor copied to measure bandwidth (64 MiB of float32: far beyond any cache).
COPY_VALUES = 16 * 2**20


def reassembly_work(batch: int, channels: int, size: int, kernel_size: int, scale: int, groups: int = 1,
                    element_size: int = 4) -> dict:
    """FLOPs and unavoidable bytes of one reassembly of a B×C×size×size map, forward and
    forward+backward: ``{"forward": {"flops", "bytes"}, "forward_backward": {...}}``."""
    y = batch * channels * size * size
    kernels = batch * groups * kernel_size**2 * (scale * size) ** 2
    out = y * scale**2
    flops = batch * reassembly_flops(channels, size, size, kernel_size, scale)
    forward_bytes = (y + kernels + out) * element_size
    backward_bytes = (y + kernels + out + y + kernels) * element_size  # in: y, W, dL/dout; out: dL/dy, dL/dW
    return {"forward": {"flops": flops, "bytes": forward_bytes},
            "forward_backward": {"flops": 3 * flops, "bytes": forward_bytes + backward_bytes}}


def limit_seconds(work: dict, flop_rate: float, bandwidth: float) -> float:
    """The larger of ``work["flops"] / flop_rate`` and ``work["bytes"] / bandwidth`` (FLOP/s, B/s)."""
    return max(work["flops"] / flop_rate, work["bytes"] / bandwidth)


def _rate_probes(device: torch.device):
    size = 4096 if device.type == "cuda" else 1024
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator).to(device)
    b = torch.randn(size, size, generator=generator).to(device)
    source = torch.ones(COPY_VALUES, device=device)
    target = torch.empty_like(source)
    probes = {"matmul": lambda: torch.mm(a, b), "copy": lambda: target.copy_(source)}
    return probes, 2 * size**3, 2 * COPY_VALUES * 4


def available_implementations(y: torch.Tensor, kernels: torch.Tensor) -> list[str]:
    """The implementations that can take these tensors here ("torch" always, "numba" on a CPU
    with numba, "triton" on CUDA with triton), plus the naive baseline."""
    names = ["torch"]
    for name in ("numba", "triton"):
        if name == "triton" and y.device.type != "cuda":
            continue  # on the CPU, Triton is only its (slow) interpreter
        try:
            choose_implementation(y, kernels, name)
        except ValueError:  # not installed, or not for this device or dtype
            continue
        names.append(name)
    return names + ["naive"]


def _runs(name, y, kernels, grad_out, spec):
    k, s, g = spec["kernel_size"], spec["scale"], spec["groups"]
    if name == "naive":
        def op(a, b):
            return naive_reassemble(a, b, k, s, g)
    else:
        def op(a, b):
            return reassemble(a, b, k, s, g, implementation=name)
    y_grad, kernels_grad = y.detach().clone().requires_grad_(), kernels.detach().clone().requires_grad_()

    def forward():
        with torch.no_grad():
            op(y, kernels)

    def forward_backward():
        op(y_grad, kernels_grad).backward(grad_out)
        y_grad.grad = kernels_grad.grad = None
    return forward, forward_backward


def machine_limit_report(device, inputs, repeats: int = 7) -> dict:
    """Every available implementation, forward and forward+backward, timed in one interleaved run
    with the machine's matmul and copy probes; each time also as a multiple of the limit.

    Args:
        device: where to run.
        inputs: (y, kernels, grad_out, spec) as from :func:`indexnet_edu.bench.suite.target_inputs`.
        repeats: timed repeats per callable (medians are reported).

    Returns:
        ``{"matmul_gflop_per_s", "copy_gb_per_s", "limit_ms": {"forward", "forward_backward"},
        "implementations": [rows], "goals": [...]}``; a row has ``forward_ms``,
        ``forward_backward_ms`` and ``times_limit_forward`` / ``times_limit_forward_backward``.
    """
    device = torch.device(device)
    y, kernels, grad_out, spec = inputs
    names = available_implementations(y, kernels)
    probes, matmul_flops, copy_bytes = _rate_probes(device)
    fns = dict(probes)
    for name in names:
        fns[f"{name} forward"], fns[f"{name} forward_backward"] = _runs(name, y, kernels, grad_out, spec)
    seconds = median_times(fns, repeats, 1, device)
    flop_rate, bandwidth = matmul_flops / seconds["matmul"], copy_bytes / seconds["copy"]
    work = reassembly_work(y.shape[0], y.shape[1], y.shape[2], spec["kernel_size"], spec["scale"], spec["groups"],
                           y.element_size())
    limits = {phase: limit_seconds(work[phase], flop_rate, bandwidth) for phase in work}
    rows = []
    for name in names:
        row = {"implementation": name}
        for phase in ("forward", "forward_backward"):
            row[f"{phase}_ms"] = 1e3 * seconds[f"{name} {phase}"]
            row[f"times_limit_{phase}"] = seconds[f"{name} {phase}"] / limits[phase]
            row[f"gflop_per_s_{phase}"] = work[phase]["flops"] / seconds[f"{name} {phase}"] / 1e9
        rows.append(row)
    report = {
        "matmul_gflop_per_s": flop_rate / 1e9, "copy_gb_per_s": bandwidth / 1e9,
        "work": work, "limit_ms": {phase: 1e3 * value for phase, value in limits.items()},
        "limit_bound_by": {phase: ("arithmetic" if work[phase]["flops"] / flop_rate >= work[phase]["bytes"] / bandwidth
                                   else "memory") for phase in work},
        "implementations": rows, "goals": [],
    }
    fused = "numba" if device.type == "cpu" else "triton"
    for row in rows:
        if row["implementation"] == fused:
            for phase in ("forward", "forward_backward"):
                value = row[f"times_limit_{phase}"]
                report["goals"].append({"name": f"{fused} {phase.replace('_', '+')} within {GOAL_TIMES_LIMIT:g}× "
                                                f"of the machine's limit", "value": value,
                                        "threshold": GOAL_TIMES_LIMIT, "met": bool(value <= GOAL_TIMES_LIMIT)})
    return report


def numba_breakdown(inputs, repeats: int = 7) -> dict | None:
    """Where the fused CPU kernel's time goes: median ms of each of its passes on the benchmark's
    inputs (interleaved), and what a fresh output costs before anything is computed (first-touch
    page faults: filling a new tensor vs filling one that exists). None without numba.

    Args:
        inputs: (y, kernels, grad_out, spec) as from :func:`indexnet_edu.bench.suite.target_inputs`.
    """
    from ..ops.kernels import numba_cpu

    y, kernels, grad_out, spec = inputs
    if not numba_cpu.supports(y, kernels):
        return None
    k, s, g = spec["kernel_size"], spec["scale"], spec["groups"]
    kernels_of, threads = numba_cpu._kernels_for_this_call(k, s, kernels.numel() // g * y.shape[1])
    batch, channels, height, width = y.shape
    features = y.new_empty(batch * g, height + k - 1, width + k - 1, channels // g)
    grad_features, grad_y = torch.zeros_like(features), torch.empty_like(y)
    grad_kernels, out = torch.empty_like(kernels), kernels.new_empty(batch, channels, s * height, s * width)
    zero = features.new_zeros(()).numpy()[()]
    arrays = [t.numpy() for t in (y, features, kernels, out, grad_out, grad_features, grad_kernels, grad_y)]
    y_, features_, kernels_, out_, grad_out_, grad_features_, grad_kernels_, grad_y_ = arrays
    passes = {
        "pad_channels_last": lambda: kernels_of.pad_channels_last(y_, features_, g, False),
        "forward": lambda: kernels_of.forward(features_, kernels_, out_, g),
        "backward": lambda: kernels_of.backward(features_, kernels_, grad_out_, grad_features_, grad_kernels_, g,
                                                zero),
        "fold_channels_first": lambda: kernels_of.fold_channels_first(grad_features_, grad_y_, g, False),
        "fill a fresh output": lambda: torch.empty_like(out).fill_(0),
        "fill an existing output": lambda: out.fill_(0),
    }
    with threads:
        seconds = median_times(passes, repeats, 1)
    return {name: 1e3 * value for name, value in seconds.items()}
