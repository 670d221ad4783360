"""Fused CPU reassembly, compiled by numba: forward and backward without building patches.

The PyTorch operator in :mod:`indexnet_edu.ops.reassembly` copies every row of k×k patches into a
buffer and multiplies small matrices; these kernels read each neighbour straight from a
channels-last copy of the padded input. For the s² output pixels above low-res pixel
``(y, x)`` (Wang et al., CARAFE, ICCV 2019, Eq. 4)

    out[c, s·y + i, s·x + j] = Σ_{dy, dx} W[g·k² + dy·k + dx, s·y + i, s·x + j] · padded[c, y + dy, x + dx]

one kernel row ``dy`` at a time: the k neighbours of that row are loaded once per channel
vector and feed all s² sub-pixels, whose k·s² weights sit in registers, and the running sums
live in a small channels-last tile that is then written out transposed to B×C×H×W.

Four passes, each a numba function:
1. ``pad_channels_last`` — y B×C×h×w → (B·G)×(h+k−1)×(w+k−1)×(C/G), padded with zeros or by
   replicating the border, in one pass.
2. ``forward`` — the sums above, a row of tiles per task.
3. ``backward`` — per low-res pixel and kernel row: ``dL/dW`` as k·s² dot products over the
   group's channels, and ``dL/dpadded[y+dy, x+dx] += Σ_sub-pixels W · dL/dout``. Blocks of k
   rows two apart never write the same input row, so the even blocks run in parallel, then
   the odd ones (no atomics, no per-thread copies).
4. ``fold_channels_first`` — the padding's adjoint: each padded pixel's gradient goes back to
   the pixel it copied, written as B×C×h×w.

Why generated source. LLVM vectorises only the innermost loop. Written as loops, the taps and
sub-pixels would be innermost and run one scalar at a time; written out for one (k, s), the
loop over channels is innermost and vectorised, and the weights are plain local variables
that stay in registers. :func:`.numba_source.kernel_source` writes that text; it is saved in the user cache
(``~/.cache/indexnet_edu/numba``, or ``$INDEXNET_EDU_CACHE``) so numba caches the machine code
beside it: the first call for a (k, s, dtype) compiles for a few seconds, later processes load
it. Without a private cache folder the source is compiled in memory, in every process; should
numba's cache fail (a full disk, a read-only folder, a corrupt file), the kernels are compiled
in memory for the rest of the process, with one ``RuntimeWarning`` saying so.

Threads: with one PyTorch thread, or for a small call (under :data:`PARALLEL_WORK`
multiply-adds), the serial build runs and numba's thread pool is never started; otherwise the
parallel build (``prange``) runs on as many numba threads as PyTorch uses
(``torch.get_num_threads()``), set for the call and restored. Float32 and float64 only;
non-finite inputs never reach these kernels (:func:`indexnet_edu.ops.reassembly.reassemble`
sends them to its unfold path, which skips zero-weight neighbours).
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import pickle
import sys
import traceback
import types
import warnings
from typing import NamedTuple

import torch

from .numba_source import kernel_source


#: dtypes the kernels are built for.
DTYPES = (torch.float32, torch.float64)
_FASTMATH = {"reassoc", "contract"}  # reorder sums (vectorised reductions) and fuse multiply-adds
#: Multiply-adds (output values × k²) from which a call runs on several threads: 2²² ≈ 4 M,
#: a few milliseconds of work, well above the cost of waking a thread pool.
PARALLEL_WORK = 1 << 22
_CONTRACT = {"contract"}  # fuse multiply-adds only; NaN and inf are honoured under both


@functools.lru_cache(maxsize=1)
def numba_available() -> bool:
    """True when numba can be imported (it is an optional dependency: ``pip install numba``) and
    compiles: with ``NUMBA_DISABLE_JIT=1`` its functions run as plain Python, hundreds of times
    slower than the PyTorch operator, so the kernels count as unavailable."""
    try:
        import numba
    except ImportError:
        return False
    return not numba.config.DISABLE_JIT


# --- the on-disk cache, and compiling in memory when it cannot be used ---------------------

#: Errors numba's on-disk cache raises when it cannot be used: a full disk or a read-only folder
#: (OSError while saving; RuntimeError "cannot cache function ... no locator available" when it
#: is decorated), a truncated or corrupt index (EOFError, pickle's errors).
_CACHE_ERRORS = (OSError, RuntimeError, EOFError, pickle.UnpicklingError)
_memory_only = False  # set for the rest of the process once the on-disk cache failed


def _raised_by_cache(error: BaseException) -> bool:
    """Whether ``error`` came out of numba's caching code (not, say, a typing error)."""
    return isinstance(error, _CACHE_ERRORS) and any(
        frame.filename.replace("\\", "/").endswith("numba/core/caching.py")
        for frame in traceback.extract_tb(error.__traceback__))


def _give_up_disk_cache(error: BaseException) -> None:
    """From now on compile in memory; warn once (the only cost is a few seconds per kernel shape)."""
    global _memory_only
    if _memory_only:
        return
    _memory_only = True
    compiled_kernels.cache_clear()
    from ...cache import cache_root

    warnings.warn(f"indexnet_edu: numba's kernel cache under {cache_root() / 'numba'} cannot be used "
                  f"({type(error).__name__}: {error}); the reassembly kernels are compiled in memory for the "
                  "rest of this process (a few seconds for each new kernel size and scale; deleting that folder "
                  "rebuilds the cache)",
                  RuntimeWarning, stacklevel=2)


def _load_module(source: str, name: str):
    """Import ``source`` from a file in the user cache (so numba may cache its machine code);
    where no private cache folder can be had, from memory (compiled afresh in every process).
    Returns (module, whether numba's on-disk cache can be used)."""
    from ...cache import UnsafeCacheError, user_cache_dir
    from ...checkpoint import atomic_write_text

    try:
        if _memory_only:
            raise OSError("the on-disk cache failed earlier in this process")
        path = user_cache_dir("numba") / f"{name}.py"
        if not path.exists() or path.read_text() != source:
            atomic_write_text(source, path)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module  # numba's on-disk cache finds a function's globals by module name
        return module, True
    except (OSError, UnsafeCacheError):
        module = types.ModuleType(name)
        exec(compile(source, f"<{name}>", "exec"), module.__dict__)
        return module, False


class Kernels(NamedTuple):
    """The compiled kernels of one (k, s): numba dispatchers, compiled on first call per dtype."""

    pad_channels_last: object
    forward: object
    backward: object
    fold_channels_first: object


@functools.lru_cache(maxsize=None)
def compiled_kernels(kernel_size: int, scale: int, parallel: bool) -> Kernels:
    """The kernels for one (k, s), serial or parallel (``prange`` on numba's thread pool)."""
    from numba import njit

    source = kernel_source(kernel_size, scale)
    digest = hashlib.sha1(source.encode()).hexdigest()[:10]
    # One module file per build: numba's on-disk cache does not tell a parallel build of a
    # function from a serial one, so sharing a file would hand one build the other's code.
    build = "parallel" if parallel else "serial"
    module, on_disk = _load_module(source, f"indexnet_edu_reassembly_k{kernel_size}_s{scale}_{digest}_{build}")

    def build_all(cache: bool) -> Kernels:
        reduce = dict(fastmath=_FASTMATH, boundscheck=False, parallel=parallel, cache=cache)
        exact = dict(reduce, fastmath=_CONTRACT)  # keep the written order of sums: independent chains
        return Kernels(njit(**exact)(module.pad_channels_last), njit(**exact)(module.forward),
                       njit(**reduce)(module.backward), njit(**exact)(module.fold_channels_first))

    if not on_disk:
        return build_all(False)
    try:
        return build_all(True)
    except _CACHE_ERRORS as error:  # e.g. a read-only cache folder: numba finds no place to cache
        if not _raised_by_cache(error):
            raise
        _give_up_disk_cache(error)
        return build_all(False)


class _NumbaThreads:
    """Run numba's parallel kernels on PyTorch's thread count; restore numba's setting after."""

    def __init__(self, threads: int):
        import numba

        self.numba = numba
        self.threads = max(1, min(threads, numba.config.NUMBA_NUM_THREADS))

    def __enter__(self):
        self.previous = self.numba.get_num_threads()
        self.numba.set_num_threads(self.threads)

    def __exit__(self, *exc):
        self.numba.set_num_threads(self.previous)


def _kernels_for_this_call(kernel_size: int, scale: int, multiply_adds: int):
    """(kernels, context manager): the parallel build when PyTorch has more than one thread and
    the call has at least :data:`PARALLEL_WORK` multiply-adds, else the serial one (small calls
    gain nothing from threads, and never pay for compiling a second build)."""
    threads = torch.get_num_threads()
    if threads == 1 or multiply_adds < PARALLEL_WORK:
        return compiled_kernels(kernel_size, scale, False), contextlib.nullcontext()
    return compiled_kernels(kernel_size, scale, True), _NumbaThreads(threads)


def _run(kernel_size: int, scale: int, multiply_adds: int, passes):
    """``passes(kernels)`` with the build :func:`_kernels_for_this_call` picks. Should numba's
    on-disk cache fail while the kernels compile or load (a full disk, a corrupt file), the
    passes run again on kernels compiled in memory; ``passes`` must allocate its own outputs."""
    kernels_of, threads = _kernels_for_this_call(kernel_size, scale, multiply_adds)
    try:
        with threads:
            return passes(kernels_of)
    except _CACHE_ERRORS as error:
        if _memory_only or not _raised_by_cache(error):
            raise
        _give_up_disk_cache(error)
    kernels_of, threads = _kernels_for_this_call(kernel_size, scale, multiply_adds)
    with threads:
        return passes(kernels_of)


def _numpy(tensor: torch.Tensor):
    return tensor.detach().contiguous().numpy()


def supports(y: torch.Tensor, kernels: torch.Tensor) -> bool:
    """Whether these kernels can take the call: numba importable, CPU tensors, float32/float64."""
    return (y.device.type == "cpu" and kernels.device == y.device and y.dtype in DTYPES
            and kernels.dtype == y.dtype and numba_available())


def _padded_channels_last(kernels_of, y: torch.Tensor, kernel_size: int, groups: int, padding: str):
    batch, channels, height, width = y.shape
    features = y.new_empty(batch * groups, height + kernel_size - 1, width + kernel_size - 1, channels // groups)
    kernels_of.pad_channels_last(_numpy(y), features.numpy(), groups, padding == "replicate")
    return features


def forward(y: torch.Tensor, kernels: torch.Tensor, kernel_size: int, scale: int, groups: int,
            padding: str) -> torch.Tensor:
    """Reassembly: y B×C×h×w, kernels B×(G·k²)×(s·h)×(s·w) → B×C×(s·h)×(s·w) (same dtype, contiguous).

    Pads y by k//2 ("zeros" or "replicate") while moving it channels-last, then runs the fused kernel.
    """
    batch, channels = y.shape[:2]
    out = kernels.new_empty(batch, channels, *kernels.shape[2:])

    def passes(kernels_of):
        features = _padded_channels_last(kernels_of, y, kernel_size, groups, padding)
        kernels_of.forward(features.numpy(), _numpy(kernels), out.numpy(), groups)
        return out

    return _run(kernel_size, scale, out.numel() * kernel_size**2, passes)


def backward(grad_out: torch.Tensor, y: torch.Tensor, kernels: torch.Tensor, kernel_size: int, scale: int,
             groups: int, padding: str):
    """(dL/dy B×C×h×w, dL/dkernels B×(G·k²)×(s·h)×(s·w)) from dL/dout B×C×(s·h)×(s·w)."""
    grad_y = torch.empty_like(y, memory_format=torch.contiguous_format)
    grad_kernels = torch.empty_like(kernels, memory_format=torch.contiguous_format)

    def passes(kernels_of):
        features = _padded_channels_last(kernels_of, y, kernel_size, groups, padding)
        grad_features = torch.zeros_like(features)  # accumulated into: fresh on every attempt
        zero = features.new_zeros(()).numpy()[()]  # a NumPy scalar of the features' dtype
        kernels_of.backward(features.numpy(), _numpy(kernels), _numpy(grad_out), grad_features.numpy(),
                            grad_kernels.numpy(), groups, zero)
        kernels_of.fold_channels_first(grad_features.numpy(), grad_y.numpy(), groups, padding == "replicate")
        return grad_y, grad_kernels

    return _run(kernel_size, scale, grad_out.numel() * kernel_size**2, passes)


__all__ = ["DTYPES", "Kernels", "numba_available", "kernel_source", "compiled_kernels", "supports", "forward",
           "backward"]
