"""Second derivatives through reassembly (a gradient penalty, ``create_graph=True``): the
hand-written backwards must not give silent zeros. Checked with ``gradgradcheck`` in float64
for every CPU implementation, and against plain autograd of the same formula."""
from __future__ import annotations

import pytest
import torch

from indexnet_edu.bench.naive import naive_reassemble
from indexnet_edu.ops.reassembly import reassemble
from indexnet_edu.upsamplers.registry import create_upsampler

pytestmark = pytest.mark.usefixtures("one_thread")


def case(kernel_size=3, scale=2, groups=2, seed=0):
    generator = torch.Generator().manual_seed(seed)
    y = torch.randn(2, 4, 3, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    kernels = torch.randn(2, groups * kernel_size**2, scale * 3, scale * 4, generator=generator,
                          dtype=torch.float64, requires_grad=True)
    return y, kernels


@pytest.mark.parametrize("kernel_size, scale, padding", [(3, 2, "zeros"), (3, 2, "replicate"), (1, 3, "zeros")])
def test_gradgradcheck(implementation, padding, kernel_size, scale):
    y, kernels = case(kernel_size, scale)
    def function(y, kernels):
        return reassemble(y, kernels, kernel_size, scale, groups=2, padding=padding, implementation=implementation)

    assert torch.autograd.gradgradcheck(function, (y, kernels))


def gradient_penalty_grads(forward, y, kernels):
    """d/d(y, kernels) of ‖∂ Σ out² / ∂y‖²: the second derivative a gradient penalty takes."""
    out = forward(y, kernels)
    (grad_y,) = torch.autograd.grad(out.square().sum(), y, create_graph=True)
    return torch.autograd.grad(grad_y.square().sum(), (y, kernels))


@pytest.mark.parametrize("padding", ["zeros", "replicate"])
def test_a_gradient_penalty_matches_plain_autograd_of_the_formula(implementation, padding):
    y, kernels = case(5, 2)
    got = gradient_penalty_grads(lambda y, w: reassemble(y, w, 5, 2, 2, padding, implementation), y, kernels)
    want = gradient_penalty_grads(lambda y, w: naive_reassemble(y, w, 5, 2, 2, padding), y, kernels)
    assert want[1].abs().max() > 1  # a real second derivative, not a vanishing one
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-10)


def test_the_penalty_reaches_a_content_aware_modules_parameters():
    torch.manual_seed(0)
    model = create_upsampler("carafe", 8).double()
    x = torch.randn(1, 8, 8, 8, dtype=torch.float64, requires_grad=True)
    (grad_x,) = torch.autograd.grad(model(x).square().sum(), x, create_graph=True)
    grad_x.square().sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None for g in grads)
    assert sum(g.abs().sum() for g in grads) > 0  # the kernel predictor learns from the penalty


def test_first_derivatives_still_take_the_hand_written_backward(implementation, monkeypatch):
    # The differentiable backward (C·k²·s² times the input's memory) runs only under create_graph.
    from indexnet_edu.ops import reassembly

    monkeypatch.setattr(reassembly, "_differentiable_backward",
                        lambda *a: pytest.fail("create_graph=False took the differentiable backward"))
    y, kernels = case()
    reassemble(y, kernels, 3, 2, 2, implementation=implementation).sum().backward()
    assert y.grad is not None and kernels.grad is not None


def test_the_compiled_graphs_operator_refuses_a_second_derivative_by_name():
    from indexnet_edu.ops import reassembly_op

    if not reassembly_op.AVAILABLE:
        pytest.skip("torch.library.custom_op needs PyTorch >= 2.4")
    y, kernels = case()
    out = reassembly_op.reassemble_op(y, kernels, 3, 2, 2, "zeros", None)
    (grad_y,) = torch.autograd.grad(out.square().sum(), y, create_graph=True)
    with pytest.raises(RuntimeError, match="second derivatives through torch.ops.indexnet_edu.reassemble"):
        grad_y.square().sum().backward()
