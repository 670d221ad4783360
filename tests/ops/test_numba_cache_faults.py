"""The fused CPU kernel when numba's on-disk cache cannot be used: a full disk, a read-only
folder, corrupt cache files. ``reassemble`` must still give the right values, compiling in
memory, and say so once; ``NUMBA_DISABLE_JIT=1`` must send "auto" to the PyTorch operator.

Each case runs in a fresh interpreter (numba's dispatchers and the kernel builds are cached
per process) with its own empty cache folder. The failures are made where numba meets the
file system: its index writer (``IndexDataCacheFile._open_for_write``) raising ENOSPC, and every
cache locator's writability probe (``_CacheLocator.ensure_cache_path``) raising EROFS, which is
what numba sees on a full or read-only disk."""
from __future__ import annotations

import importlib.util

import pytest

from conftest import run_python

needs_numba = pytest.mark.skipif(importlib.util.find_spec("numba") is None,
                                 reason="numba is not installed (pip install numba): the fused CPU kernel is optional")

# Runs reassemble forward and backward twice and checks both against the naive formula; prints
# the RuntimeWarnings it saw, one per line, after "WARNINGS".
CHECK = """
    import os, warnings
    BACKWARD = os.environ.get("CHECK_BACKWARD") == "1"
    import torch
    from indexnet_edu.bench.naive import naive_reassemble
    from indexnet_edu.ops.reassembly import reassemble
    torch.set_num_threads(1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for seed in range(2):
            torch.manual_seed(seed)
            y = torch.randn(1, 3, 4, 5, dtype=torch.float64, requires_grad=True)
            kernels = torch.rand(1, 9, 8, 10, dtype=torch.float64, requires_grad=True)
            out = reassemble(y, kernels, 3, 2, implementation="numba")
            expected = naive_reassemble(y, kernels, 3)
            torch.testing.assert_close(out, expected)
            if BACKWARD:  # two more kernels to compile: once is enough
                grads = torch.autograd.grad(out.square().sum(), (y, kernels))
                torch.testing.assert_close(grads, torch.autograd.grad(expected.square().sum(), (y, kernels)))
    print("WARNINGS")
    for warning in caught:
        if issubclass(warning.category, RuntimeWarning):
            print(str(warning.message).replace("\\n", " "))
"""

DISK_FULL = """
    import errno, os
    import numba.core.caching as caching
    def full(self, filepath):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), filepath)
    caching.IndexDataCacheFile._open_for_write = full
"""

READ_ONLY = """
    import errno, os
    import numba.core.caching as caching
    def read_only(self, *args):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))
    caching._CacheLocator.ensure_cache_path = read_only
"""


def warnings_of(stdout: str) -> list[str]:
    return [line for line in stdout.split("WARNINGS\n", 1)[1].splitlines() if line.strip()]


@needs_numba
@pytest.mark.slow
@pytest.mark.parametrize("fault, cause", [(DISK_FULL, "No space left on device"),
                                          (READ_ONLY, "no locator available")])
def test_an_unwritable_cache_compiles_in_memory_and_says_so_once(tmp_path, fault, cause):
    import textwrap

    backward = "1" if fault is DISK_FULL else "0"
    result = run_python(textwrap.dedent(fault) + textwrap.dedent(CHECK),
                        {"INDEXNET_EDU_CACHE": str(tmp_path), "CHECK_BACKWARD": backward})
    assert result.returncode == 0, result.stderr
    said = warnings_of(result.stdout)
    assert len(said) == 1, said  # once, though four kernels compiled and two calls were made
    assert cause in said[0] and "compiled in memory" in said[0] and str(tmp_path / "numba") in said[0]


@needs_numba
@pytest.mark.slow
def test_a_corrupt_cache_compiles_in_memory_and_says_how_to_rebuild_it(tmp_path):
    env = {"INDEXNET_EDU_CACHE": str(tmp_path)}
    first = run_python(CHECK, env)
    assert first.returncode == 0, first.stderr
    assert warnings_of(first.stdout) == []
    cached = list((tmp_path / "numba" / "__pycache__").glob("*.nb*"))
    assert cached, "numba cached nothing"
    for path in cached:
        path.write_bytes(b"\x80\x04garbage")  # truncated pickles
    second = run_python(CHECK, env)
    assert second.returncode == 0, second.stderr
    said = warnings_of(second.stdout)
    assert len(said) == 1 and "compiled in memory" in said[0] and "deleting that folder" in said[0]


@needs_numba
def test_a_kernel_error_that_is_not_the_caches_is_not_hidden(monkeypatch):
    # Only errors raised inside numba's caching code switch to compiling in memory.
    from indexnet_edu.ops.kernels import numba_cpu

    def broken(kernels_of):
        raise RuntimeError("a bug in a pass")

    monkeypatch.setattr(numba_cpu, "_memory_only", False)
    with pytest.raises(RuntimeError, match="a bug in a pass"):
        numba_cpu._run(3, 2, 1, broken)
    assert numba_cpu._memory_only is False


def test_disabled_jit_makes_auto_take_the_torch_operator():
    result = run_python("""
        import torch
        from indexnet_edu.ops.reassembly import choose_implementation, reassemble
        y, kernels = torch.randn(1, 3, 4, 5), torch.rand(1, 9, 8, 10)
        print(choose_implementation(y, kernels))
        try:
            reassemble(y, kernels, 3, 2, implementation="numba")
        except ValueError as error:
            print(error)
    """, {"NUMBA_DISABLE_JIT": "1"})
    assert result.returncode == 0, result.stderr
    chosen, refusal = result.stdout.splitlines()
    assert chosen == "torch"
    assert "implementation='numba'" in refusal and "NUMBA_DISABLE_JIT" in refusal
