"""Where a training run executes: precision, the distributed context, deferred Ctrl-C, seeding,
and the guard that gives the caller's session back as it found it."""
from __future__ import annotations

import os
import platform
import random
import signal
import subprocess
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from .._signals import handling_signals
from ..checkpoint import capture_rng_state, restore_rng_state

AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def _native_bf16(device: torch.device) -> bool:
    """Whether this CUDA device computes bf16 in hardware (Ampere, compute capability 8.0, or newer).

    ``torch.cuda.is_bf16_supported`` also answers True for GPUs that only *emulate* bf16 (T4,
    V100: slow, no tensor cores) unless asked ``including_emulation=False`` (torch ≥ 2.5);
    older versions are answered from the compute capability.
    """
    try:
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:
        return torch.cuda.get_device_capability(device) >= (8, 0)


def select_precision(device, amp: bool = True, capability: tuple[int, int] | None = None) -> str:
    """The training precision: ``"bf16"``, ``"fp16"`` or ``"fp32"``.

    * CPU, or ``amp=False``: ``"fp32"``.
    * CUDA with native bf16 (compute capability ≥ 8.0: A100, H100, H200, RTX 30xx/40xx): ``"bf16"``
      autocast — same exponent range as float32, no loss scaling needed.
    * Older CUDA GPUs (T4 = 7.5, V100 = 7.0 — what free Colab gives): ``"fp16"`` autocast with a
      ``torch.amp.GradScaler``, since their bf16 is emulated and slow.

    ``capability`` (major, minor) overrides what the device reports (for tests and planning).
    Raises TypeError if ``device`` is not a ``torch.device`` or a string naming one.
    """
    if not isinstance(device, (torch.device, str)):
        raise TypeError(f"device must be a torch.device or a string such as 'cuda', got {type(device).__name__}")
    device = torch.device(device)
    if device.type != "cuda" or not amp:
        return "fp32"
    native = tuple(capability) >= (8, 0) if capability is not None else _native_bf16(device)
    return "bf16" if native else "fp16"


def device_name(device: torch.device) -> str:
    """The GPU's name, or ``cpu (<processor>)``."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()})"


def git_commit() -> str | None:
    """The checked-out commit of the package's repository, or None."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


class TrainingInterrupted(KeyboardInterrupt):
    """A run stopped by a signal after writing its checkpoint; ``signum`` says which signal."""

    def __init__(self, message: str, signum: int = signal.SIGINT):
        super().__init__(message)
        self.signum = int(signum)


class DeferredInterrupt:
    """Turn the stop signals (:data:`~indexnet_edu._signals.STOP_SIGNALS`: Ctrl-C, SIGTERM, SIGHUP)
    into a flag checked between steps (main thread only), restoring the old handlers; ``signum``
    is the first signal that arrived."""

    def __init__(self):
        self.requested = False
        self.signum = signal.SIGINT
        self._handlers = handling_signals(self._handle)

    def __enter__(self):
        self._handlers.__enter__()
        return self

    def _handle(self, signum, frame):
        if not self.requested:
            self.signum = signum
        self.requested = True

    def __exit__(self, *exc):
        return self._handlers.__exit__(*exc)


def distributed_context():
    """(rank, world_size, device) — initialises the process group under torchrun."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    # A process gets a GPU only when there is one for its local rank: more processes than
    # GPUs (e.g. a CPU rehearsal of torchrun on a one-GPU machine) run on the CPU with gloo.
    use_cuda = torch.cuda.is_available() and local_rank < torch.cuda.device_count()
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    rank = dist.get_rank() if world_size > 1 else 0
    if use_cuda:
        torch.cuda.set_device(local_rank)
        # Exact resume needs deterministic kernels (cuDNN autotuning and atomics otherwise vary).
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        return rank, world_size, torch.device("cuda", local_rank)
    return rank, world_size, torch.device("cpu")


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@contextmanager
def preserved_global_state():
    """Restore what a training run sets globally — torch/NumPy/Python RNG states, torch's
    thread count, cuDNN flags — so ``train()`` in a notebook leaves the session as it was."""
    rng = capture_rng_state()
    threads = torch.get_num_threads()
    cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    try:
        yield
    finally:
        restore_rng_state(rng)
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn
