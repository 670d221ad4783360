"""How the benchmark measures: wall-clock medians and peak extra memory.

Time. Each callable runs ``warmup`` times untimed, then ``repeats`` timed runs; the median
is reported. As in ``timeit``, the cyclic garbage collector is paused during timed runs. When several callables are compared (fast vs naive) their repeats are
*interleaved* — a, b, a, b, … — so a burst of load from other processes on a shared
machine hits both sides alike and their ratio stays meaningful. On CUDA the device is
synchronised before and after each run.

Memory. "Peak extra" is the highest number of bytes held by PyTorch's allocator during
the call, minus what was held when it started (inputs that already exist do not count;
outputs, saved activations, gradients and temporaries do).
- CUDA: ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats``.
- CPU: PyTorch keeps no CPU peak counter, and process RSS mixes in the C allocator's
  caching, so we replay the allocator's own events: ``torch.profiler`` with
  ``profile_memory=True`` attributes every allocation and free of the CPU allocator to the
  operator that made it. Sorting those byte deltas by time (an operator's allocations at
  its start, its frees at its end) and taking the running maximum gives the peak. It is
  exact for what PyTorch allocates, and sees nothing that is not a tensor.
"""
from __future__ import annotations

import contextlib
import gc
import os
import statistics
import sys
import tempfile
import time
from typing import Callable, Iterator

import torch


def synchronize(device: torch.device | str) -> None:
    """Wait for queued work on ``device`` (a no-op on CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def time_once(fn: Callable[[], object], device="cpu") -> float:
    """Seconds for one call of ``fn`` (device synchronised on both sides)."""
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def median_times(fns: dict[str, Callable[[], object]], repeats: int = 5, warmup: int = 1,
                 device="cpu") -> dict[str, float]:
    """Median seconds per call of each callable, repeats interleaved across callables."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got repeats={repeats}, warmup={warmup}")
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    gc.collect()  # like timeit: collect now, and keep the cyclic collector out of the timed runs
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            for name, fn in fns.items():
                samples[name].append(time_once(fn, device))
    finally:
        if was_enabled:
            gc.enable()
    return {name: statistics.median(values) for name, values in samples.items()}


def median_time(fn: Callable[[], object], repeats: int = 5, warmup: int = 1, device="cpu") -> float:
    """Median seconds per call of one callable (warm-up runs excluded)."""
    return median_times({"fn": fn}, repeats, warmup, device)["fn"]


PROFILER_NOISE = ("USDT:",)
"""Line prefixes of the trace messages PyTorch's native profiler writes to stderr on start/stop."""


@contextlib.contextmanager
def _native_stderr_without(prefixes: tuple[str, ...] = PROFILER_NOISE) -> Iterator[None]:
    """Capture what native code writes to file descriptor 2 and, on exit, pass on every line
    that does not start with one of ``prefixes``; the descriptor is restored afterwards."""
    descriptor = 2  # where native code writes, whatever Python's sys.stderr is at the moment
    sys.stderr.flush()
    saved = os.dup(descriptor)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), descriptor)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, descriptor)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode(errors="replace").splitlines(keepends=True)
                    if not line.startswith(prefixes)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


def _cpu_peak_extra_bytes(fn: Callable[[], object]) -> int:
    from torch.profiler import ProfilerActivity, profile

    with _native_stderr_without():
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            fn()
    events = prof.events()
    deltas = []
    for event in events:
        change = event.self_cpu_memory_usage
        if change > 0:
            deltas.append((event.time_range.start, change))
        elif change < 0:
            deltas.append((event.time_range.end, change))
    deltas.sort(key=lambda item: item[0])
    held = peak = 0
    for _, change in deltas:
        held += change
        peak = max(peak, held)
    del prof, events
    gc.collect()  # the profiler's event objects are cyclic garbage: free them now, not mid-timing
    return int(peak)


def peak_extra_bytes(fn: Callable[[], object], device="cpu") -> int:
    """Peak bytes allocated by PyTorch during ``fn()`` beyond what was held before it."""
    device = torch.device(device)
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        torch.cuda.synchronize(device)
        return int(torch.cuda.max_memory_allocated(device) - before)
    return _cpu_peak_extra_bytes(fn)
