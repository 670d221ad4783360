"""The compiled reassembly kernels: which one runs, what happens without them, the numba
kernel's threads and cache, and the Triton kernel checked under Triton's CPU interpreter.

(Exactness of the numba kernel against the references is in test_reassembly_fast.py and
test_reassembly.py, through the ``implementation`` fixture.)"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from conftest import MMCV_REFERENCE, REPO, numba_importable, run_python
from indexnet_edu.bench.naive import naive_reassemble
from indexnet_edu.ops.reassembly import IMPLEMENTATION_ENV, choose_implementation, reassemble

needs_numba = pytest.mark.skipif(not numba_importable(), reason="numba is not installed (pip install numba)")
TRITON = importlib.util.find_spec("triton") is not None


def case(seed=0, batch=2, channels=8, height=5, width=6, kernel_size=3, scale=2, groups=2, dtype=torch.float64):
    generator = torch.Generator().manual_seed(seed)
    y = torch.randn(batch, channels, height, width, generator=generator, dtype=dtype)
    kernels = torch.rand(batch, groups * kernel_size**2, scale * height, scale * width, generator=generator,
                         dtype=dtype)
    return y, kernels


# --- which implementation runs ------------------------------------------------------------------

@needs_numba
def test_auto_takes_the_numba_kernel_on_the_cpu_for_float32_and_float64():
    for dtype in (torch.float32, torch.float64):
        y, kernels = case(dtype=dtype)
        assert choose_implementation(y, kernels) == "numba"


def test_auto_falls_back_to_the_torch_operator_where_no_kernel_applies():
    y, kernels = case(dtype=torch.bfloat16)  # numba has no bfloat16
    assert choose_implementation(y, kernels) == "torch"
    meta = torch.empty(1, 2, 3, 3, device="meta"), torch.empty(1, 9, 6, 6, device="meta")
    assert choose_implementation(*meta) == "torch"


def test_auto_never_picks_triton_on_the_cpu():
    y, kernels = case()
    assert choose_implementation(y, kernels, "auto") in ("numba", "torch")


def test_the_environment_variable_sets_the_default(monkeypatch):
    y, kernels = case()
    monkeypatch.setenv(IMPLEMENTATION_ENV, "torch")
    assert choose_implementation(y, kernels) == "torch"
    monkeypatch.setenv(IMPLEMENTATION_ENV, "fastest")
    with pytest.raises(ValueError, match=rf"\${IMPLEMENTATION_ENV} must be one of auto, torch, numba, triton, "
                                         r"got 'fastest'"):
        reassemble(y, kernels, 3, 2, 2)


def test_use_implementation_chooses_for_a_block_and_restores_after(monkeypatch):
    from indexnet_edu.ops.reassembly import use_implementation

    monkeypatch.setenv(IMPLEMENTATION_ENV, "torch")
    y, kernels = case()
    outside = choose_implementation(y, kernels)
    with use_implementation("auto"):
        assert choose_implementation(y, kernels) == ("numba" if numba_importable() else "torch")
        with use_implementation("torch"):
            assert choose_implementation(y, kernels) == "torch"
        assert choose_implementation(y, kernels, "torch") == "torch"  # an explicit argument wins
    assert choose_implementation(y, kernels) == outside == "torch"
    with pytest.raises(ValueError, match="implementation must be one of"):
        with use_implementation("fastest"):
            pass


def test_flops_are_counted_in_full_whichever_implementation_would_run():
    from indexnet_edu.bench.cost import count_flops, reassembly_flops
    from indexnet_edu.ops.reassembly import use_implementation

    y, kernels = case(dtype=torch.float32)
    want = 2 * reassembly_flops(8, 5, 6, 3, 2)  # batch of 2
    assert count_flops(lambda: reassemble(y, kernels, 3, 2, 2)) == want
    with use_implementation("auto"):
        assert count_flops(lambda: reassemble(y, kernels, 3, 2, 2)) == want


def test_an_unknown_implementation_is_a_clear_error():
    y, kernels = case()
    with pytest.raises(ValueError, match="implementation must be one of"):
        reassemble(y, kernels, 3, 2, 2, implementation="cuda")


@pytest.mark.parametrize("implementation, dtype, match", [
    ("numba", torch.bfloat16, "numba.*float32/float64"),
    ("triton", torch.float32, "Triton kernel needs triton, CUDA tensors"),
])
def test_an_implementation_that_cannot_take_the_tensors_says_why(implementation, dtype, match):
    if implementation == "triton" and os.environ.get("TRITON_INTERPRET", "0") not in ("", "0"):
        pytest.skip("under TRITON_INTERPRET=1 the Triton kernel does take CPU tensors")
    y, kernels = case(dtype=dtype)
    with pytest.raises(ValueError, match=match):
        reassemble(y, kernels, 3, 2, 2, implementation=implementation)


def test_non_finite_inputs_keep_their_semantics_whatever_the_implementation(implementation):
    # A zero weight never reads its neighbour: inf next to a zero-weight tap contributes 0.
    y, kernels = case(kernel_size=3, scale=2, groups=1, channels=2, batch=1)
    y[0, 0, 0, 0] = float("inf")
    kernels[:, [0, 1, 3, 4]] = 0  # the taps that would read (0, 0) from its right/below neighbours...
    out = reassemble(y, kernels, 3, 2, 1, implementation=implementation)
    want = naive_reassemble(y.nan_to_num(posinf=0.0), kernels, 3, 2, 1)
    finite = torch.isfinite(out)
    torch.testing.assert_close(out[finite], want[finite])


# --- the numba kernel ---------------------------------------------------------------------------

@needs_numba
def test_the_parallel_build_agrees_and_thread_settings_are_restored(monkeypatch):
    import numba

    from indexnet_edu.ops.kernels import numba_cpu

    monkeypatch.setattr(numba_cpu, "PARALLEL_WORK", 0)  # this small case on several threads too

    y, kernels = case(seed=3, batch=2, channels=32, height=19, width=23, kernel_size=5, scale=2, groups=4)
    y.requires_grad_(), kernels.requires_grad_()
    grad_out = torch.randn(2, 32, 38, 46, dtype=torch.float64)

    def run():
        out = reassemble(y, kernels, 5, 2, 4, implementation="numba")
        return (out,) + torch.autograd.grad(out, (y, kernels), grad_out)

    torch_threads, numba_threads = torch.get_num_threads(), numba.get_num_threads()
    try:
        torch.set_num_threads(1)
        serial = run()
        torch.set_num_threads(2)
        parallel = run()
        assert numba.get_num_threads() == numba_threads
    finally:
        torch.set_num_threads(torch_threads)
    for a, b in zip(parallel, serial):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    want = naive_reassemble(y, kernels, 5, 2, 4)
    torch.testing.assert_close(serial[0], want, rtol=1e-12, atol=1e-12)


@needs_numba
def test_small_calls_stay_serial_on_several_threads():
    from indexnet_edu.ops.kernels import numba_cpu

    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        small, _ = numba_cpu._kernels_for_this_call(3, 2, numba_cpu.PARALLEL_WORK - 1)
        large, context = numba_cpu._kernels_for_this_call(3, 2, numba_cpu.PARALLEL_WORK)
    finally:
        torch.set_num_threads(threads)
    assert small.forward.targetoptions["parallel"] is False
    import numba

    assert large.forward.targetoptions["parallel"] is True
    assert context.threads == min(2, numba.config.NUMBA_NUM_THREADS)


@needs_numba
def test_serial_and_parallel_builds_are_cached_apart():
    # numba's cache index does not record parallel=True: a shared file would hand the parallel
    # dispatcher the serial machine code (measured: no speed-up at 2 threads until split).
    from indexnet_edu.ops.kernels.numba_cpu import compiled_kernels

    serial, parallel = compiled_kernels(3, 2, False), compiled_kernels(3, 2, True)
    serial_file = serial.forward.py_func.__code__.co_filename
    parallel_file = parallel.forward.py_func.__code__.co_filename
    assert serial_file != parallel_file
    assert serial.forward.targetoptions["parallel"] is False and parallel.forward.targetoptions["parallel"] is True


@needs_numba
def test_the_generated_source_is_cached_in_the_users_cache_folder(tmp_path):
    from indexnet_edu.ops.kernels.numba_source import kernel_source

    code = f"""
        import torch
        from indexnet_edu.bench.naive import naive_reassemble
        from indexnet_edu.ops.reassembly import reassemble
        torch.manual_seed(0)
        torch.set_num_threads(1)  # the serial build
        y, kernels = torch.randn(1, 3, 4, 5), torch.rand(1, 9, 8, 10)
        out = reassemble(y, kernels, 3, 2, implementation="numba")
        torch.testing.assert_close(out, naive_reassemble(y, kernels, 3))
        print(float(out.sum()))
    """
    first = run_python(code, {"INDEXNET_EDU_CACHE": str(tmp_path)})
    assert first.returncode == 0, first.stderr
    sources = list((tmp_path / "numba").glob("indexnet_edu_reassembly_k3_s2_*.py"))
    assert len(sources) == 1 and sources[0].read_text() == kernel_source(3, 2)
    assert sources[0].stem.endswith("_serial")  # one thread: the serial build
    assert list((tmp_path / "numba" / "__pycache__").glob("*.nbi")), "numba cached no machine code"
    assert (tmp_path / "numba").stat().st_mode & 0o077 == 0, "the cache folder must be private"
    second = run_python(code, {"INDEXNET_EDU_CACHE": str(tmp_path)})
    assert second.returncode == 0 and second.stdout == first.stdout


@needs_numba
def test_an_unusable_cache_folder_compiles_in_memory_instead(tmp_path):
    unsafe = tmp_path / "shared"
    unsafe.mkdir(mode=0o777)
    unsafe.chmod(0o777)  # writable by others: the cache refuses it
    result = run_python("""
        import torch
        from indexnet_edu.bench.naive import naive_reassemble
        from indexnet_edu.ops.reassembly import reassemble
        y, kernels = torch.randn(1, 3, 4, 5, dtype=torch.float64), torch.rand(1, 9, 8, 10, dtype=torch.float64)
        torch.testing.assert_close(reassemble(y, kernels, 3, 2, implementation="numba"), naive_reassemble(y, kernels, 3))
    """, {"INDEXNET_EDU_CACHE": str(unsafe)})
    assert result.returncode == 0, result.stderr
    assert not (unsafe / "numba").exists()


@pytest.mark.parametrize("kernel_size, scale", [(1, 1), (3, 3), (7, 2)])
def test_generated_source_is_valid_python_with_every_tap_and_sub_pixel(kernel_size, scale):
    from indexnet_edu.ops.kernels.numba_source import kernel_source

    source = kernel_source(kernel_size, scale)
    compile(source, "<generated>", "exec")
    for p in range(scale * scale):
        for dx in range(kernel_size):
            assert f"w{p}_{dx} = kernels[" in source and f"a{p}_{dx} += g{p} * f{dx}" in source


def test_without_numba_the_package_uses_the_torch_operator():
    result = run_python("""
        import sys
        sys.modules["numba"] = None  # as if numba were not installed
        import torch
        import indexnet_edu as ie
        from indexnet_edu.bench.naive import naive_reassemble
        from indexnet_edu.ops.reassembly import choose_implementation, reassemble
        y = torch.randn(2, 8, 5, 6, dtype=torch.float64, requires_grad=True)
        kernels = torch.rand(2, 2 * 25, 10, 12, dtype=torch.float64, requires_grad=True)
        assert choose_implementation(y, kernels) == "torch"
        out = reassemble(y, kernels, 5, 2, 2)
        torch.testing.assert_close(out, naive_reassemble(y, kernels, 5, 2, 2))
        try:
            reassemble(y, kernels, 5, 2, 2, implementation="numba")
        except ValueError as error:
            assert "pip install numba" in str(error), error
        else:
            raise AssertionError("asking for numba without numba must fail")
        model = ie.create_upsampler("carafe", 16)
        x = torch.randn(1, 16, 8, 8, requires_grad=True)
        model(x).sum().backward()
        assert x.grad is not None and torch.isfinite(x.grad).all()
        print("ok")
    """)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


# --- the Triton kernel, under the CPU interpreter ------------------------------------------------

TRITON_CHECK = """
    import json, sys
    import numpy as np
    import torch
    from indexnet_edu.bench.naive import naive_reassemble
    from indexnet_edu.ops.kernels import triton_cuda
    from indexnet_edu.ops.reassembly import carafe, choose_implementation, reassemble

    assert triton_cuda.interpreted() and choose_implementation(torch.zeros(1, 1, 2, 2), torch.zeros(1, 9, 4, 4),
                                                               "triton") == "triton"
    report = {"cases": 0}
    cases = [(2, 8, 5, 6, 3, 2, 2, "zeros"), (1, 4, 4, 3, 5, 3, 1, "replicate"), (1, 3, 3, 7, 1, 2, 3, "zeros"),
             (2, 6, 1, 1, 5, 4, 3, "replicate"), (1, 20, 2, 9, 7, 2, 4, "zeros")]
    for seed, (b, c, h, w, k, s, g, padding) in enumerate(cases):
        for dtype, tol in ((torch.float64, 1e-12), (torch.float32, 1e-5))[:2 if seed < 2 else 1]:
            gen = torch.Generator().manual_seed(seed)
            y = torch.randn(b, c, h, w, generator=gen, dtype=dtype, requires_grad=True)
            kernels = torch.rand(b, g * k * k, s * h, s * w, generator=gen, dtype=dtype, requires_grad=True)
            grad_out = torch.randn(b, c, s * h, s * w, generator=gen, dtype=dtype)
            results = []
            for fn in (lambda a, m: reassemble(a, m, k, s, g, padding, implementation="triton"),
                       lambda a, m: naive_reassemble(a, m, k, s, g, padding)):
                out = fn(y, kernels)
                results.append((out,) + torch.autograd.grad(out, (y, kernels), grad_out))
            for got, want in zip(*results):
                torch.testing.assert_close(got, want, rtol=tol, atol=tol)
            report["cases"] += 1
    y = torch.randn(1, 4, 2, 3, dtype=torch.float64, requires_grad=True)
    kernels = torch.rand(1, 2 * 9, 4, 6, dtype=torch.float64, requires_grad=True)
    report["gradcheck"] = torch.autograd.gradcheck(
        lambda a, m: reassemble(a, m, 3, 2, 2, "replicate", implementation="triton"), (y, kernels), eps=1e-6, atol=1e-8,
        fast_mode=True)
    folder = sys.argv[1] if len(sys.argv) > 1 else ""
    if folder:
        load = lambda name, shape: torch.from_numpy(np.fromfile(f"{folder}/{name}", dtype="<f4").reshape(shape))
        feat = load("carafe_feat.bin", (2, 64, 3, 3)).requires_grad_()
        mask = load("carafe_mask.bin", (2, 100, 6, 6)).requires_grad_()
        out = carafe(feat, mask, 5, groups=4, scale=2, implementation="triton")
        out.sum().backward()
        report["mmcv"] = max(float((out - load("carafe_output.bin", (2, 64, 6, 6))).abs().max()),
                             float((feat.grad - load("carafe_feat_grad.bin", (2, 64, 3, 3))).abs().max()),
                             float((mask.grad - load("carafe_mask_grad.bin", (2, 100, 6, 6))).abs().max()))
    print(json.dumps(report))
"""


@pytest.mark.slow
@pytest.mark.skipif(not TRITON, reason="triton is not installed (pip install triton)")
def test_triton_kernel_matches_the_naive_form_under_the_interpreter():
    code = textwrap.dedent(TRITON_CHECK)
    mmcv = [str(MMCV_REFERENCE)] if MMCV_REFERENCE.is_dir() else []
    result = subprocess.run([sys.executable, "-c", code, *mmcv], capture_output=True, text=True, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO), "TRITON_INTERPRET": "1"}, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["cases"] == 7 and report["gradcheck"] is True
    if mmcv:
        assert report["mmcv"] <= 1e-5
