"""The benchmark suite: targets, every registered upsampler, scaling curves, widget latency.

What is timed for an upsampler is the whole down/up pair, ``pair(x) = up(*down(x))``:
IndexNet predicts its indices in ``down`` (from the encoder's feature) and CARAFE its
kernels in ``up``, so timing the pair charges each method for where it computes its
weights. Forward is timed in ``eval`` mode under ``no_grad``; forward+backward in ``train``
mode with ``x`` requiring a gradient (so even parameter-free upsamplers do a backward).
"""
from __future__ import annotations

import datetime as _dt
import importlib
import json
from pathlib import Path

import torch
import torch.nn.functional as F
from .._progress import tqdm

from ..checkpoint import atomic_write_text
from .cost import count_flops, count_parameters, naive_reassembly_values, reassembly_flops
from ..ops.indexing import indexed_upsample
from ..ops.reassembly import reassemble
from ..upsamplers.registry import available_upsamplers, create_upsampler
from .limits import machine_limit_report, numba_breakdown, reassembly_work
from .machine import machine_report
from .measure import median_times, peak_extra_bytes
from .naive import naive_reassemble

#: The pair's input for the per-upsampler table: x is 1×64×64×64 (pooled to 32×32, restored).
STANDARD = {"batch": 1, "channels": 64, "size": 64}
#: The reassembly targets: y is 1×256×64×64, k=5, ×2, one group.
TARGET = {"batch": 1, "channels": 256, "size": 64, "kernel_size": 5, "scale": 2, "groups": 1}
#: One upsampler of each family for the scaling curves (all variants are in the main table).
SCALING_NAMES = ("nearest", "bilinear", "deconv", "pixel_shuffle", "max_unpool", "carafe", "dysample",
                 "hin", "din_o2o", "din_m2o", "a2u", "fade", "sapa")
FULL = {"repeats": 9, "target_repeats": 11, "sizes": (32, 64, 128, 256), "channels": (16, 32, 64, 128, 256, 512),
        "scaling_repeats": 5, "widget_repeats": 20}
QUICK = {"repeats": 3, "target_repeats": 3, "sizes": (32, 64, 128), "channels": (16, 64, 256),
         "scaling_repeats": 2, "widget_repeats": 5}


def _mib(nbytes: float) -> float:
    return nbytes / 2**20


# --- the targets --------------------------------------------------------------------------------

def target_inputs(device, seed: int = 0, **overrides):
    """y (B×C×h×w), kernels (B×(G·k²)×(s·h)×(s·w), softmax-normalised) and an upstream gradient."""
    spec = {**TARGET, **overrides}
    generator = torch.Generator().manual_seed(seed)
    b, c, n, k, s, g = (spec[key] for key in ("batch", "channels", "size", "kernel_size", "scale", "groups"))
    y = torch.randn(b, c, n, n, generator=generator)
    logits = torch.randn(b, g, k * k, s * n, s * n, generator=generator)
    kernels = torch.softmax(logits, dim=2).view(b, g * k * k, s * n, s * n)
    grad_out = torch.randn(b, c, s * n, s * n, generator=generator)
    return y.to(device), kernels.to(device), grad_out.to(device), spec


def _forward_and_backward(op, y, kernels, grad_out, spec):
    y = y.detach().requires_grad_()
    kernels = kernels.detach().requires_grad_()

    def run():
        op(y, kernels, spec["kernel_size"], spec["scale"], spec["groups"]).backward(grad_out)
        y.grad = kernels.grad = None  # freed inside the call, so every run starts from the same state
    return run


def _forward_only(op, y, kernels, spec):
    def run():
        with torch.no_grad():
            op(y, kernels, spec["kernel_size"], spec["scale"], spec["groups"])
    return run


def _target(name, value, threshold, better, measured, unit="×"):
    passed = value >= threshold if better == "higher" else value <= threshold
    sign = ">=" if better == "higher" else "<="
    return {"name": name, "value": value, "threshold": threshold, "rule": f"{sign} {threshold}{unit}",
            "passed": bool(passed), "unit": unit, "measured": measured}


def run_targets(device, repeats: int = 7) -> list[dict]:
    """The issue's four reassembly targets, each measured fast vs baseline in one interleaved run."""
    y, kernels, grad_out, spec = target_inputs(device)
    forward = median_times({"fast": _forward_only(reassemble, y, kernels, spec),
                            "naive": _forward_only(naive_reassemble, y, kernels, spec)}, repeats, 1, device)
    fast_fb = _forward_and_backward(reassemble, y, kernels, grad_out, spec)
    naive_fb = _forward_and_backward(naive_reassemble, y, kernels, grad_out, spec)
    both = median_times({"fast": fast_fb, "naive": naive_fb}, repeats, 1, device)
    memory = {"fast": peak_extra_bytes(fast_fb, device), "naive": peak_extra_bytes(naive_fb, device)}

    index = torch.rand(y.shape[0], 1, spec["scale"] * y.shape[2], spec["scale"] * y.shape[3],
                       generator=torch.Generator().manual_seed(1)).to(device)

    def reference_iu():
        with torch.no_grad():
            index * F.interpolate(y, scale_factor=spec["scale"], mode="nearest")

    def package_iu():
        with torch.no_grad():
            indexed_upsample(y, index, spec["scale"])

    iu = median_times({"indexed_upsample": package_iu, "reference": reference_iu}, 3 * repeats, 2, device)
    ms = {key: 1e3 * value for key, value in forward.items()}
    ms_fb = {key: 1e3 * value for key, value in both.items()}
    return [
        _target("forward speed-up vs naive", forward["naive"] / forward["fast"], 10, "higher",
                {"fast_ms": ms["fast"], "naive_ms": ms["naive"]}),
        _target("forward+backward speed-up vs naive", both["naive"] / both["fast"], 5, "higher",
                {"fast_ms": ms_fb["fast"], "naive_ms": ms_fb["naive"]}),
        _target("forward+backward peak extra memory, fast/naive", memory["fast"] / memory["naive"], 0.25, "lower",
                {"fast_mib": _mib(memory["fast"]), "naive_mib": _mib(memory["naive"])}, unit=""),
        _target("indexed_upsample time / (index * F.interpolate)", iu["indexed_upsample"] / iu["reference"],
                1.5, "lower", {"indexed_upsample_ms": 1e3 * iu["indexed_upsample"],
                               "reference_ms": 1e3 * iu["reference"]}),
    ]


def reassembly_throughput(device, forward_ms: float, peak_bandwidth_gbs: float | None = None) -> dict:
    """Bytes the fast forward must move at least (read y and kernels, write out) per second,
    and that as a fraction of the device's peak memory bandwidth when it is known (CUDA)."""
    work = reassembly_work(TARGET["batch"], TARGET["channels"], TARGET["size"], TARGET["kernel_size"],
                           TARGET["scale"], TARGET["groups"])["forward"]
    seconds = forward_ms * 1e-3
    report = {"bytes_moved": work["bytes"], "forward_ms": forward_ms, "gb_per_s": work["bytes"] / seconds / 1e9,
              "gflop_per_s": work["flops"] / seconds / 1e9}
    if peak_bandwidth_gbs:
        report["fraction_of_peak_bandwidth"] = report["gb_per_s"] / peak_bandwidth_gbs
    return report


# --- every upsampler ----------------------------------------------------------------------------

def _pair_and_input(name, channels, size, device, seed=0):
    with torch.random.fork_rng(devices=[]):  # seeded weights without touching the caller's RNG
        torch.manual_seed(seed)
        pair = create_upsampler(name, channels).to(device)
    x = torch.randn(STANDARD["batch"], channels, size, size, generator=torch.Generator().manual_seed(seed))
    return pair, x.to(device)


def _pair_forward(pair, x):
    def run():
        pair.eval()
        with torch.no_grad():
            pair(x)
    return run


def _pair_forward_backward(pair, x):
    x = x.detach().requires_grad_()
    grad_out = torch.ones_like(x)

    def run():
        pair.train()
        pair(x).backward(grad_out)
        pair.zero_grad(set_to_none=True)  # freed inside the call, so every run starts from the same state
        x.grad = None
    return run


def measure_upsampler(name, channels, size, device, repeats: int = 5, memory: bool = True) -> dict:
    """Forward and forward+backward median ms, peak extra memory, parameters, FLOPs of one pair."""
    pair, x = _pair_and_input(name, channels, size, device)
    forward = _pair_forward(pair, x)
    both = _pair_forward_backward(pair, x)
    times = median_times({"forward": forward, "forward_backward": both}, repeats, 1, device)
    pair.eval()
    row = {"name": name, "channels": channels, "size": size,
           "forward_ms": 1e3 * times["forward"], "forward_backward_ms": 1e3 * times["forward_backward"],
           "parameters": count_parameters(pair), "flops": count_flops(pair, x)}
    if memory:
        row["peak_extra_mib"] = _mib(peak_extra_bytes(both, device))
    return row


def run_upsamplers(device, repeats: int = 5, names=None, progress: bool = True) -> list[dict]:
    """The main table: every registered upsampler at the standard size."""
    names = list(names or available_upsamplers())
    return [measure_upsampler(name, STANDARD["channels"], STANDARD["size"], device, repeats)
            for name in tqdm(names, desc="upsamplers", disable=not progress)]


# --- scaling curves -----------------------------------------------------------------------------

def measure_reassembly_op(which: str, channels: int, size: int, device, repeats: int = 3) -> dict:
    """Forward time and peak memory of the bare reassembly op (k=5, ×2) on a size/2 low-res map."""
    op = {"fast": reassemble, "naive": naive_reassemble}[which]
    y, kernels, _, spec = target_inputs(device, channels=channels, size=size // 2)
    run = _forward_only(op, y, kernels, spec)
    ms = 1e3 * median_times({which: run}, repeats, 1, device)[which]
    return {"name": f"reassembly op ({which})", "channels": channels, "size": size, "forward_ms": ms,
            "peak_extra_mib": _mib(peak_extra_bytes(run, device)), "parameters": 0,
            "flops": reassembly_flops(channels, size // 2, size // 2, 5, 2),
            "naive_values": naive_reassembly_values(channels, size // 2, size // 2, 5, 2)}


def scaling_curves(device, sizes=(32, 64), channels=(16, 64), names=SCALING_NAMES, repeats: int = 2,
                   fixed_channels: int = 64, fixed_size: int = 64, include_ops: bool = True,
                   progress: bool = True) -> dict:
    """Cost vs H×W (at ``fixed_channels``) and vs C (at ``fixed_size``) for a few upsamplers.

    ``size`` is the height = width of the pair's input x (the upsampled output's size).
    Returns ``{"size": [rows], "channels": [rows]}``.
    """
    plan = [("size", fixed_channels, size) for size in sizes] + [("channels", c, fixed_size) for c in channels]
    curves = {"size": [], "channels": []}
    for axis, c, size in tqdm(plan, desc="scaling", disable=not progress):
        for name in names:
            row = measure_upsampler(name, c, size, device, repeats, memory=False)
            curves[axis].append(row)
        if include_ops:
            for which in ("fast", "naive"):
                curves[axis].append(measure_reassembly_op(which, c, size, device, repeats))
    return curves


# --- the playground's widget latency ------------------------------------------------------------

def widget_latency(size: int = 256, repeats: int = 20) -> dict:
    """Median update latency per playground control, or "unavailable" when the widgets module
    cannot be imported (any other failure is a real error and is raised)."""
    try:
        widgets = importlib.import_module("indexnet_edu.widgets")
    except ImportError as error:
        return {"status": "unavailable", "reason": f"indexnet_edu.widgets cannot be imported ({error})"}
    latencies = widgets.measure_update_latency(size=size, repeats=repeats)
    return {"status": "ok", "size": size, "repeats": repeats, "median_ms": dict(latencies)}


# --- the whole suite ----------------------------------------------------------------------------

def resolve_device(name: str) -> torch.device:
    """``cpu`` or ``cuda``; asking for CUDA where there is none is a clear error."""
    if name not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"--device cuda was asked for, but torch.cuda.is_available() is False "
                           f"(PyTorch {torch.__version__}); run with --device cpu")
    return torch.device(name)


def run_suite(device: str = "cpu", quick: bool = False, progress: bool = True) -> dict:
    """Everything, as one JSON-ready dict."""
    device = resolve_device(device)
    plan = QUICK if quick else FULL
    started = _dt.datetime.now(_dt.timezone.utc)
    machine = machine_report(device)
    targets = run_targets(device, plan["target_repeats"])
    inputs = target_inputs(device)  # the targets' reassembly, for the machine-limit comparison
    forward_ms = targets[0]["measured"]["fast_ms"]
    results = {
        "schema": 1,
        "created_utc": started.isoformat(timespec="seconds"),
        "quick": quick,
        "machine": machine,
        "timing": "median over repeats (interleaved where two are compared), one warm-up run excluded",
        "memory": ("peak bytes held by PyTorch's allocator during the call minus those held before "
                   + ("(torch.cuda.max_memory_allocated)" if device.type == "cuda"
                      else "(CPU allocator events replayed from torch.profiler)")),
        "upsampler_timing": "the down/up pair: up(*down(x)); forward in eval/no_grad, "
                            "forward+backward in train mode with x requiring grad",
        "flops": "torch FlopCounterMode (conv/matmul; a multiply-add counts 2; element-wise work counts 0)",
        "target_setup": TARGET,
        "targets": targets,
        "reassembly_throughput": reassembly_throughput(device, forward_ms, machine.get("gpu_peak_bandwidth_gbs")),
        "machine_limit": machine_limit_report(device, inputs, plan["target_repeats"]),
        "numba_breakdown_ms": numba_breakdown(inputs, plan["target_repeats"]),
        "standard": {**STANDARD, "description": "x is 1×64×64×64; pooled to 32×32 and restored to 64×64"},
        "upsamplers": run_upsamplers(device, plan["repeats"], progress=progress),
        "scaling": scaling_curves(device, plan["sizes"], plan["channels"], repeats=plan["scaling_repeats"],
                                  progress=progress),
        "widget_latency": widget_latency(256, plan["widget_repeats"]),
    }
    results["machine"]["load_average_1min_end"] = machine_report(device).get("load_average_1min")
    results["elapsed_s"] = (_dt.datetime.now(_dt.timezone.utc) - started).total_seconds()
    return results


def write_json(results: dict, folder, name: str) -> Path:
    """Write ``results`` to ``folder/name`` atomically (temp file, then rename)."""
    target = Path(folder) / name
    atomic_write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", target)
    return target


def load_results(path) -> dict:
    """Read a results JSON written by :func:`write_json`."""
    with open(path) as stream:
        return json.load(stream)
