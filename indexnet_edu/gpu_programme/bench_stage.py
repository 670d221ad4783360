"""The benchmark stage: the :mod:`indexnet_edu.bench` machinery pointed at the GPU.

* Reassembly (y 1×256×64×64, k = 5, ×2; :data:`indexnet_edu.bench.suite.TARGET`): every
  implementation's forward and forward+backward time from
  :func:`indexnet_edu.bench.limits.machine_limit_report`, turned into the bandwidth it achieves on
  the bytes it cannot avoid moving, as a fraction of the GPU's peak (from its memory clock and
  bus width, when PyTorch reports them) and of the measured copy bandwidth.
* The IndexNet matting model (the released M2O, nonlinear, context variant) at 320×320, batch
  16: training steps (forward, backward, Adam) and inference per second, in float32, bf16
  autocast, channels-last, and torch.compile'd.
"""
from __future__ import annotations

import contextlib
import time
import traceback

import torch

from ..bench.limits import machine_limit_report
from ..bench.machine import machine_report
from ..bench.measure import median_time
from ..bench.suite import target_inputs
from ..models import indexnet_matting

#: (name, autocast dtype or None, channels-last, compiled) of each IndexNet throughput variant.
VARIANTS = (("float32", None, False, False), ("bf16 autocast", torch.bfloat16, False, False),
            ("float32 channels-last", None, True, False), ("bf16 autocast channels-last", torch.bfloat16, True, False),
            ("bf16 autocast channels-last torch.compile", torch.bfloat16, True, True))


def reassembly_bandwidth(device, repeats: int = 11, **target) -> dict:
    """:func:`machine_limit_report` on the benchmark's reassembly, plus each implementation's
    achieved bandwidth (unavoidable bytes / time) for forward and forward+backward."""
    device = torch.device(device)
    inputs = target_inputs(device, **target)
    report = machine_limit_report(device, inputs, repeats)
    peak = machine_report(device).get("gpu_peak_bandwidth_gbs")
    report["setup"] = inputs[3]
    report["peak_bandwidth_gbs"] = peak
    report["peak_bandwidth_source"] = ("memory clock × bus width × 2 from torch.cuda.get_device_properties" if peak
                                       else "unknown here (CPU, or PyTorch does not report the memory clock)")
    for row in report["implementations"]:
        for phase in ("forward", "forward_backward"):
            gb_per_s = report["work"][phase]["bytes"] / (row[f"{phase}_ms"] * 1e-3) / 1e9
            row[f"gb_per_s_{phase}"] = gb_per_s
            row[f"fraction_of_copy_bandwidth_{phase}"] = gb_per_s / report["copy_gb_per_s"]
            row[f"fraction_of_peak_bandwidth_{phase}"] = gb_per_s / peak if peak else None
    return report


def _model_and_input(device, size, batch, channels_last):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = indexnet_matting("m2o", nonlinear=True, context=True).to(device)
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(batch, 4, size, size, generator=generator)
    x[:, 3] = torch.randint(0, 3, (batch, size, size), generator=generator) / 2  # trimap 0 / 0.5 / 1
    x = x.to(device)
    if channels_last:
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    return model, x


def measure_variant(device, size: int, batch: int, dtype, channels_last: bool, compiled: bool,
                    repeats: int, warmup: int, compile_backend: str = "inductor") -> dict:
    """Median images/s of a training step and of inference for one variant (compile time apart)."""
    device = torch.device(device)
    model, x = _model_and_input(device, size, batch, channels_last)
    network = torch.compile(model, backend=compile_backend) if compiled else model
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    autocast = torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()

    def train_step():
        model.train()
        with autocast:
            out = network(x)
        loss = out.float().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def inference():
        model.eval()
        with torch.no_grad(), autocast:
            network(x)

    row = {}
    if compiled:  # the first calls compile: timed apart, so the medians are the compiled speed
        started = time.perf_counter()
        train_step()
        inference()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        row["compile_s"] = time.perf_counter() - started
        row["compile_backend"] = compile_backend
    train_s = median_time(train_step, repeats, warmup, device)
    inference_s = median_time(inference, repeats, warmup, device)
    row.update({"train_step_ms": 1e3 * train_s, "train_images_per_s": batch / train_s,
                "inference_ms": 1e3 * inference_s, "inference_images_per_s": batch / inference_s})
    if device.type == "cuda":
        row["peak_memory_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    return row


def indexnet_throughput(device, size: int = 320, batch: int = 16, repeats: int = 10, warmup: int = 3,
                        compile_backend: str | None = "inductor", compile_min_s: float = 60.0,
                        deadline: float | None = None,
                        stopped=lambda: False, log=print) -> dict:
    """Every :data:`VARIANTS` row; those that do not fit before ``deadline`` are recorded as skipped
    (torch.compile only starts with ``compile_min_s`` seconds left: compiling takes that long;
    ``compile_backend=None`` leaves it out)."""
    device = torch.device(device)
    rows = []
    for name, dtype, channels_last, compiled in VARIANTS:
        left = None if deadline is None else deadline - time.monotonic()
        row = {"variant": name, "autocast": str(dtype).replace("torch.", "") if dtype else None,
               "channels_last": channels_last, "compiled": compiled}
        if compiled and compile_backend is None:
            rows.append({**row, "status": "skipped",
                         "reason": "not in this plan (the dry run: tracing alone takes ~15 s on a CPU; the device "
                                   "run compiles with inductor)"})
            continue
        if stopped() or (left is not None and (left <= 0 or (compiled and left < compile_min_s))):
            why = ("the programme was stopped" if stopped() else
                   f"out of time: {max(left, 0):.0f} s of the bench's share left"
                   + (f", torch.compile needs ~{compile_min_s:.0f} s" if compiled else ""))
            rows.append({**row, "status": "skipped", "reason": why})
            continue
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        try:
            rows.append({**row, "status": "ok", **measure_variant(device, size, batch, dtype, channels_last, compiled,
                                                                  repeats, warmup, compile_backend)})
        except Exception as error:  # e.g. a compiler missing on the machine: recorded, the rest still run
            rows.append({**row, "status": "error", "error": f"{type(error).__name__}: {error}",
                         "traceback": traceback.format_exc()[-3000:]})
        finally:
            if device.type == "cuda":
                torch.cuda.empty_cache()
        done = rows[-1]
        log(f"bench: IndexNet {name}: " + (f"{done['train_images_per_s']:.1f} train img/s, "
                                           f"{done['inference_images_per_s']:.1f} inference img/s"
                                           if done["status"] == "ok" else done["status"]))
    return {"model": "indexnet_matting(index='m2o', nonlinear=True, context=True) (the released model)",
            "input": f"{batch}×4×{size}×{size}", "size": size, "batch": batch, "repeats": repeats, "warmup": warmup,
            "train_step": "forward, loss = mean(output), backward, Adam step (model in train mode)",
            "inference": "eval mode, no_grad", "variants": rows}


def run_bench(device, plan: dict, deadline: float | None = None, stopped=lambda: False, log=print) -> dict:
    """Both parts, each recorded as ``{"status": "ok" | "skipped" | "error", ...}``."""
    device = torch.device(device)
    results = {"machine": machine_report(device)}
    if stopped() or (deadline is not None and time.monotonic() >= deadline):
        results["reassembly"] = {"status": "skipped", "reason": "out of time or stopped"}
    else:
        try:
            results["reassembly"] = {"status": "ok", **reassembly_bandwidth(device, plan["reassembly_repeats"],
                                                                          **plan["reassembly_target"])}
            for row in results["reassembly"]["implementations"]:
                log(f"bench: reassembly {row['implementation']}: forward {row['gb_per_s_forward']:.1f} GB/s, "
                    f"forward+backward {row['gb_per_s_forward_backward']:.1f} GB/s")
        except Exception as error:
            results["reassembly"] = {"status": "error", "error": f"{type(error).__name__}: {error}",
                                     "traceback": traceback.format_exc()[-3000:]}
    results["indexnet"] = indexnet_throughput(device, plan["model_size"], plan["model_batch"], plan["model_repeats"],
                                              plan["model_warmup"], plan["compile_backend"], plan["compile_min_s"],
                                              deadline, stopped, log)
    return results
