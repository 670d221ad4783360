"""Every upsampler of the registry inside a user's model: ``torch.compile(fullgraph=True)``,
``torch.export`` and ONNX export record it as one graph with the eager values (finite and
non-finite inputs alike); TorchScript is refused with a message that names the alternatives."""
from __future__ import annotations

import importlib.util
import warnings

import pytest
import torch

from indexnet_edu.upsamplers.registry import available_upsamplers, create_upsampler

pytestmark = pytest.mark.usefixtures("one_thread")


class DownUp(torch.nn.Module):
    """A stage as a user's model holds it: down, then up with what down passed on."""

    def __init__(self, name: str, channels: int = 8):
        super().__init__()
        self.pair = create_upsampler(name, channels)

    def forward(self, x):
        pooled, state = self.pair.down(x)
        return self.pair.up(pooled, state)


def model_and_input(name: str, dtype=torch.float64, seed: int = 0):
    torch.manual_seed(seed)
    model = DownUp(name).to(dtype).eval()
    return model, torch.randn(2, 8, 8, 8, dtype=dtype)


# One upsampler per code path (the index-block variants share theirs); every one is exported below.
COMPILED = ("nearest", "bilinear", "deconv", "pixel_shuffle", "max_unpool", "carafe", "dysample", "hin_nl_ctx",
            "din_m2o_nl_ctx", "din_o2o_modelwise", "a2u", "fade", "fade_lite", "fade_nogate", "sapa", "sapa_g",
            "sapa_inner")


@pytest.mark.slow
@pytest.mark.parametrize("name", COMPILED)
def test_compiles_with_fullgraph_to_the_eager_values_and_gradients(name):
    torch._dynamo.reset()
    model, x = model_and_input(name)
    x.requires_grad_(True)
    # aot_eager: Dynamo's full graph and AOTAutograd's forward+backward graphs, without paying
    # for Inductor's C++ compiles per module (benchmarks/compile_vs_eager.py runs Inductor).
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    out = compiled(x)
    expected = model(x)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-12)
    grads = torch.autograd.grad(out.square().sum(), [x, *model.parameters()], allow_unused=True)
    eager = torch.autograd.grad(expected.square().sum(), [x, *model.parameters()], allow_unused=True)
    for got, want in zip(grads, eager):
        assert (got is None) == (want is None)
        if got is not None:
            torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-11)


@pytest.mark.slow
@pytest.mark.parametrize("name", available_upsamplers())
def test_torch_export_records_the_eager_values_on_finite_and_non_finite_inputs(name):
    model, x = model_and_input(name)
    program = torch.export.export(model, (x,))
    torch.testing.assert_close(program.module()(x), model(x), rtol=1e-10, atol=1e-12)
    spiked = x.clone()
    spiked[0, 0, 1, 1], spiked[1, 3, 4, 5] = float("inf"), float("nan")  # one graph for both branches
    torch.testing.assert_close(program.module()(spiked), model(spiked), rtol=1e-10, atol=1e-12, equal_nan=True)


needs_onnx = pytest.mark.skipif(
    any(importlib.util.find_spec(name) is None for name in ("onnx", "onnxscript", "onnxruntime")),
    reason="ONNX export needs onnx and onnxscript, and its check onnxruntime (the dev extra installs them)")


@needs_onnx
@pytest.mark.slow
@pytest.mark.parametrize("name", ["max_unpool", "carafe", "dysample", "hin", "din_m2o_nl_ctx", "a2u", "fade",
                                  "fade_lite", "sapa", "sapa_g", "sapa_inner"])
def test_onnx_export_runs_in_onnxruntime_with_the_eager_values(name):
    import onnxruntime

    model, x = model_and_input(name, dtype=torch.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(model, (x,), dynamo=True, verbose=False)
    session = onnxruntime.InferenceSession(program.model_proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    torch.testing.assert_close(torch.from_numpy(got), model(x).detach(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["carafe", "fade", "sapa", "hin", "bilinear"])
def test_torchscript_is_refused_with_the_alternatives_named(name):
    model, _ = model_and_input(name, dtype=torch.float32)
    for target in (model, model.pair):  # the user's model holding the stage, and the stage itself
        with pytest.raises(TypeError, match=r"TorchScript.*torch\.compile.*torch\.export"):
            torch.jit.script(target)


def test_eager_mode_still_takes_the_fast_paths(monkeypatch):
    # The branch-free forms are for graph capture only: eager calls keep the compiled kernels.
    from indexnet_edu.ops import reassembly

    taken = []
    monkeypatch.setattr(reassembly, "_reassemble_unfolded", lambda *a: taken.append(a) or None)
    model, x = model_and_input("carafe", dtype=torch.float32)
    model(x)
    assert taken == []


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
@pytest.mark.parametrize("name", available_upsamplers())
def test_every_upsampler_keeps_the_dtype_of_its_module_and_input(name, dtype):
    # Half-precision kernels are normalised in float32 inside (softmax), but what a stage hands
    # on is in the model's dtype, as PyTorch's own layers do.
    model, x = model_and_input(name, dtype=dtype)
    pooled, state = model.pair.down(x)
    assert pooled.dtype == dtype
    out = model.pair.up(pooled, state)
    assert out.dtype == dtype and torch.isfinite(out).all()


@pytest.mark.slow
def test_sapa_trains_under_inductor_with_the_eager_gradients():
    # Inductor (torch 2.13, CPU) once turned the backward of a double Tensor.unfold in SAPA's
    # similarity into out-of-bounds writes (a heap crash); the im2col form compiles cleanly.
    torch._dynamo.reset()
    model, x = model_and_input("sapa", dtype=torch.float32)
    x.requires_grad_(True)
    compiled = torch.compile(model, fullgraph=True)
    for _ in range(2):
        got = torch.autograd.grad(compiled(x).square().sum(), [x, *model.parameters()])
    want = torch.autograd.grad(model(x).square().sum(), [x, *model.parameters()])
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-4)


def test_the_compiled_graph_calls_the_reassembly_operator_and_the_exported_one_standard_operators():
    from torch._dynamo.testing import EagerAndRecordGraphs

    torch._dynamo.reset()
    model, x = model_and_input("carafe", dtype=torch.float32)
    recorder = EagerAndRecordGraphs()
    torch.compile(model, fullgraph=True, backend=recorder)(x)
    assert "indexnet_edu.reassemble" in str(recorder.graphs[0].code)  # the fused kernels run inside
    exported = torch.export.export(model, (x,))
    assert "indexnet_edu" not in str(exported.graph)  # runs where this package is not installed


@pytest.mark.parametrize("padding", ["zeros", "replicate"])
def test_the_reassembly_operator_passes_torch_library_opcheck(implementation, padding):
    from indexnet_edu.ops import reassembly_op

    if not reassembly_op.AVAILABLE:
        pytest.skip("torch.library.custom_op needs PyTorch >= 2.4")
    generator = torch.Generator().manual_seed(0)
    y = torch.randn(2, 4, 3, 5, generator=generator, dtype=torch.float64, requires_grad=True)
    kernels = torch.rand(2, 2 * 9, 6, 10, generator=generator, dtype=torch.float64, requires_grad=True)
    torch.library.opcheck(reassembly_op.reassemble_op, (y, kernels, 3, 2, 2, padding, implementation))


@pytest.mark.parametrize("spike", [False, True])
def test_reassembly_gradients_equal_autograds(implementation, spike):
    from indexnet_edu.bench.naive import naive_reassemble
    from indexnet_edu.ops.reassembly import reassemble, reassembly_gradients

    generator = torch.Generator().manual_seed(1)
    y = torch.randn(2, 4, 3, 5, generator=generator, dtype=torch.float64, requires_grad=True)
    kernels = torch.rand(2, 2 * 9, 6, 10, generator=generator, dtype=torch.float64, requires_grad=True)
    if spike:  # a non-finite input where every kernel gives it zero weight
        with torch.no_grad():
            y[0, 0, 0, 0] = float("inf")
            kernels[0, :9].zero_()
    grad_out = torch.randn(2, 4, 6, 10, generator=generator, dtype=torch.float64)
    for padding in ("zeros", "replicate"):
        got = reassembly_gradients(grad_out, y.detach(), kernels.detach(), 3, 2, 2, padding, implementation)
        eager = reassemble(y, kernels, 3, 2, 2, padding, implementation)  # the eager backward
        want = torch.autograd.grad(eager, (y, kernels), grad_out)
        for g, w in zip(got, want):
            torch.testing.assert_close(g, w, equal_nan=True)
        if not spike:  # and the formula's
            naive = torch.autograd.grad(naive_reassemble(y, kernels, 3, 2, 2, padding), (y, kernels), grad_out)
            for g, w in zip(got, naive):
                torch.testing.assert_close(g, w)


@pytest.mark.slow
@pytest.mark.parametrize("build", ["light_hin", "light_sapa", "indexnet_m2o"])
def test_whole_models_compile_and_export_with_the_eager_values(build):
    from indexnet_edu.models import LightEncoderDecoder, indexnet_matting

    torch.manual_seed(0)
    if build == "indexnet_m2o":  # eval mode: clipping and keeping the trimap's known pixels included
        model, x = indexnet_matting("m2o", nonlinear=True, context=True).eval(), torch.rand(1, 4, 64, 64)
        x[:, 3] = torch.tensor([0.0, 0.5, 1.0])[torch.randint(0, 3, (64, 64))]
    else:
        model, x = LightEncoderDecoder(3, 1, build.split("_")[1], widths=(8, 16)).eval(), torch.rand(1, 3, 32, 32)
    expected = model(x)
    torch._dynamo.reset()
    torch.testing.assert_close(torch.compile(model, fullgraph=True, backend="aot_eager")(x), expected)
    torch.testing.assert_close(torch.export.export(model, (x,)).module()(x), expected)
