"""Reassembly: one formula for IndexNet, CARAFE, nearest, bilinear and max-unpooling
(Wang et al., CARAFE, ICCV 2019; Lu et al., Index Networks, TPAMI 2022).

    out(c, p) = Σ_{dy,dx ∈ k×k} W_p(g(c), dy, dx) · y(c, ⌊p/s⌋ + (dy − r, dx − r)),  r = ⌊k/2⌋

``W`` is B×(G·k²)×(s·h)×(s·w) with channel ``g·k² + dy·k + dx`` (mmcv's order); group ``g``
covers channels ``[g·C/G, (g+1)·C/G)``. Neighbours outside the map are zero ("zeros", the
CARAFE semantics, kernels not renormalised) or the nearest valid pixel ("replicate").
"""
from __future__ import annotations

import contextlib
import os
from contextvars import ContextVar

import torch
import torch.nn.functional as F

from .._checks import all_finite, check_choice, check_odd_kernel, check_positive_int, check_tensor
from . import reassembly_op
from .graph_capture import is_exporting, is_tracing
from .kernels import numba_cpu, torch_blas, triton_cuda
from .kernels.layout import pad_for_kernel  # noqa: F401  (public here: the widgets and the naive baseline use it)

PADDINGS = ("zeros", "replicate")
#: Ways to compute reassembly: "auto" picks Triton on CUDA, the fused numba kernel on CPU (each
#: when importable and the dtype is supported), else the PyTorch backend (kernels.torch_blas).
IMPLEMENTATIONS = ("auto", "torch", "numba", "triton")
#: Environment variable naming the default implementation (unset: "auto").
IMPLEMENTATION_ENV = "INDEXNET_EDU_REASSEMBLY"
_CHOSEN_IN_BLOCK: ContextVar[str | None] = ContextVar("indexnet_edu_reassembly_implementation", default=None)


@contextlib.contextmanager
def use_implementation(implementation: str):
    """Within the ``with`` block, every :func:`reassemble`/:func:`carafe` call that names no
    implementation uses ``implementation`` (one of :data:`IMPLEMENTATIONS`) — for a whole model
    at once, e.g. ``with use_implementation("torch"): model(x)``. Scoped to the block (and to
    the thread or task, as a ``contextvars`` variable); the previous choice is restored after.

    Raises:
        ValueError: an unknown name.
    """
    check_choice(implementation, "implementation", IMPLEMENTATIONS)
    token = _CHOSEN_IN_BLOCK.set(implementation)
    try:
        yield
    finally:
        _CHOSEN_IN_BLOCK.reset(token)



def check_reassembly_args(y, kernels, kernel_size, scale, groups, padding):
    """Validate the arguments of :func:`reassemble`; returns the normalised ints."""
    check_tensor(y, "y", ndim=4)
    check_tensor(kernels, "kernels", ndim=4)
    kernel_size = check_odd_kernel(kernel_size)
    scale = check_positive_int(scale, "scale")
    groups = check_positive_int(groups, "groups")
    check_choice(padding, "padding", PADDINGS)
    batch, channels, height, width = y.shape
    if kernels.device != y.device:
        raise ValueError(f"y and kernels must be on the same device, got {y.device} and {kernels.device}")
    if channels % groups:
        raise ValueError(f"channels of y must be divisible by groups={groups}, got C={channels}")
    expected = (batch, groups * kernel_size**2, scale * height, scale * width)
    if tuple(kernels.shape) != expected:
        raise ValueError(
            "kernels must have shape B×(groups·k²)×(s·h)×(s·w) = "
            f"{'×'.join(map(str, expected))} (groups={groups}, k={kernel_size}, s={scale}), "
            f"got {'×'.join(map(str, kernels.shape))}"
        )
    return kernel_size, scale, groups


def reassemble(y: torch.Tensor, kernels: torch.Tensor, kernel_size: int, scale: int = 2,
               groups: int = 1, padding: str = "zeros", implementation: str | None = None) -> torch.Tensor:
    """Content-aware reassembly of a low-resolution map (CARAFE's reassembly, Wang et al., ICCV 2019).

    Args:
        y: B×C×h×w feature to upsample.
        kernels: B×(G·k²)×(s·h)×(s·w) reassembly weights, one k×k kernel per output pixel
            and group, channel order ``g·k² + dy·k + dx``.
        kernel_size: odd k.
        scale: upsampling factor s.
        groups: G; C must be divisible by G.
        padding: "zeros" (CARAFE) or "replicate" (needed for bilinear).
        implementation: one of :data:`IMPLEMENTATIONS`; None takes the one a surrounding
            :func:`use_implementation` block names, else ``$INDEXNET_EDU_REASSEMBLY``, else
            "auto" (see :func:`choose_implementation`). "numba" is the fused CPU kernel
            (:mod:`indexnet_edu.ops.kernels.numba_cpu`, float32/float64), "triton" the CUDA kernel
            (:mod:`indexnet_edu.ops.kernels.triton_cuda`), "torch" batched matrix products in PyTorch
            (:mod:`indexnet_edu.ops.kernels.torch_blas`, any device and dtype). All
            agree with the naive form to rounding.

    Returns:
        B×C×(s·h)×(s·w) (empty for an empty batch). Differentiable in ``y`` and ``kernels``
        (each backend's hand-written backward, through :class:`_Reassembly`);
        none of the implementations builds all k×k patches at once. Twice differentiable too
        (``create_graph=True``, a gradient penalty): the backward is then recomputed from the
        unfolded form, which does build the C·k²·s²·h·w patches.

    Under ``torch.compile`` the call is one custom operator (:mod:`indexnet_edu.ops.reassembly_op`)
    that runs the kernels above, forward and backward. Under ``torch.export`` (and so ONNX
    export) or ``torch.jit.trace`` the unfolded form is recorded whatever ``implementation``
    says: it has no data-dependent branch and no call outside PyTorch, so the exported graph
    holds standard operators only and gives the same values.

    Non-finite ``y``: a neighbour whose weight is exactly 0 is not read, so ±inf/NaN there
    contribute 0 (as in ``F.interpolate``, which never touches a pixel it gives no weight) —
    with the bilinear, nearest and one-hot kernels the result equals PyTorch's operator on
    inf/NaN inputs too. Such inputs take a slower unfold-based path.

    Raises:
        TypeError: a non-tensor or non-floating input.
        ValueError: wrong ranks or shapes, y with no channels or an empty h×w, C not divisible
            by ``groups``, y and kernels on different devices, an unknown ``padding`` or
            ``implementation``, or an implementation that cannot take these tensors (not
            installed, wrong device or dtype).
    """
    kernel_size, scale, groups = check_reassembly_args(y, kernels, kernel_size, scale, groups, padding)
    dtype = torch.promote_types(y.dtype, kernels.dtype)
    y, kernels = y.to(dtype), kernels.to(dtype)
    if is_tracing():
        if reassembly_op.AVAILABLE and not is_exporting():  # torch.compile: one opaque node, the fast kernels
            return reassembly_op.reassemble_op(y, kernels, kernel_size, scale, groups, padding, implementation)
        # export, jit.trace: one branch-free graph of standard operators, exact for non-finite y too
        return _reassemble_unfolded(pad_for_kernel(y, kernel_size, padding), kernels, kernel_size, scale, groups)
    chosen = choose_implementation(y, kernels, implementation)
    if not all_finite(y):
        return _reassemble_unfolded(pad_for_kernel(y, kernel_size, padding), kernels, kernel_size, scale, groups)
    # every backend pads y itself and folds the padding's gradient back
    return _Reassembly.apply(y, kernels, kernel_size, scale, groups, padding, chosen)


def reassembly_gradients(grad_out: torch.Tensor, y: torch.Tensor, kernels: torch.Tensor, kernel_size: int,
                         scale: int, groups: int, padding: str, implementation: str | None = None):
    """(dL/dy, dL/dkernels) of :func:`reassemble` for the upstream gradient ``grad_out``
    B×C×(s·h)×(s·w), by the backward of the implementation the forward would take (arguments
    already checked; y and kernels of one dtype). Used by the compiled graph's backward node."""
    grad_out = grad_out.contiguous()
    if y.shape[0] == 0:
        return torch.zeros_like(y), torch.zeros_like(kernels)
    chosen = choose_implementation(y, kernels, implementation)
    if not all_finite(y):  # the unfolded path, differentiated by autograd
        with torch.enable_grad():
            leaves = y.detach().requires_grad_(), kernels.detach().requires_grad_()
            out = _reassemble_unfolded(pad_for_kernel(leaves[0], kernel_size, padding), leaves[1], kernel_size,
                                       scale, groups)
            return torch.autograd.grad(out, leaves, grad_out)
    return _BACKENDS[chosen].backward(grad_out, y, kernels, kernel_size, scale, groups, padding)


_BACKENDS = {"torch": torch_blas, "numba": numba_cpu, "triton": triton_cuda}
_UNSUPPORTED = {
    "numba": "the fused CPU kernel needs numba (pip install numba) compiling (NUMBA_DISABLE_JIT unset), CPU "
             "tensors and float32/float64",
    "triton": "the Triton kernel needs triton, CUDA tensors (or TRITON_INTERPRET=1 on the CPU) and a "
              "float16/bfloat16/float32/float64 dtype",
}


def choose_implementation(y: torch.Tensor, kernels: torch.Tensor, implementation: str | None = None) -> str:
    """The implementation :func:`reassemble` uses for these tensors: "torch", "numba" or "triton".

    ``implementation`` None means: the one a surrounding :func:`use_implementation` block names,
    else ``$INDEXNET_EDU_REASSEMBLY``, else "auto". "auto" takes Triton on a CUDA device, the
    numba kernel on the CPU, when they can take the tensors, else "torch".

    Raises:
        ValueError: an unknown name, or a named implementation that cannot take these tensors.
    """
    if implementation is None:
        implementation = _CHOSEN_IN_BLOCK.get()
    if implementation is None:
        implementation = os.environ.get(IMPLEMENTATION_ENV) or "auto"
        if implementation not in IMPLEMENTATIONS:
            raise ValueError(f"${IMPLEMENTATION_ENV} must be one of {', '.join(IMPLEMENTATIONS)}, "
                             f"got {implementation!r}")
    check_choice(implementation, "implementation", IMPLEMENTATIONS)
    if implementation == "auto":
        if y.device.type == "cuda" and triton_cuda.supports(y, kernels):
            return "triton"
        if y.device.type == "cpu" and numba_cpu.supports(y, kernels):
            return "numba"
        return "torch"
    if implementation != "torch" and not _BACKENDS[implementation].supports(y, kernels):
        raise ValueError(f"implementation={implementation!r} cannot take {y.dtype} tensors on "
                         f"{y.device}: {_UNSUPPORTED[implementation]}")
    return implementation


def _reassemble_unfolded(padded, kernels, kernel_size, scale, groups):
    """Reassembly by unfolding every k×k neighbourhood, skipping zero-weight neighbours: the
    path for non-finite inputs (memory C·k²·s² times the low-res map, plain autograd)."""
    batch, channels, padded_height, padded_width = padded.shape
    height, width = padded_height - kernel_size + 1, padded_width - kernel_size + 1
    area = kernel_size**2
    patches = F.unfold(padded, kernel_size).view(batch, groups, channels // groups, area, height, width)
    patches = patches.repeat_interleave(scale, dim=4).repeat_interleave(scale, dim=5)
    weights = kernels.view(batch, groups, 1, area, scale * height, scale * width)
    unread = (weights == 0) & ~torch.isfinite(patches)
    safe = torch.where(unread, torch.zeros((), dtype=patches.dtype, device=patches.device), patches)
    return (weights * safe).sum(dim=3).reshape(batch, channels, scale * height, scale * width)


def carafe(y: torch.Tensor, kernels: torch.Tensor, kernel_size: int, groups: int = 1,
           scale: int = 2, implementation: str | None = None) -> torch.Tensor:
    """CARAFE's reassembly step: :func:`reassemble` with zeros padding (mmcv semantics)."""
    return reassemble(y, kernels, kernel_size, scale=scale, groups=groups, padding="zeros",
                      implementation=implementation)


def _differentiable_backward(grad_out, source, kernels, needs, unfolded_input):
    """(dL/dsource, dL/dkernels) recorded by autograd, for a backward that is itself
    differentiated (``create_graph=True``): the vector-Jacobian product of the unfolded form,
    ``unfolded_input(source)`` giving the padded map, so second derivatives are exact."""
    wanted = [tensor for tensor, need in zip((source, kernels), needs) if need]
    with torch.enable_grad():
        out = unfolded_input(source, kernels)
        grads = iter(torch.autograd.grad(out, wanted, grad_out, create_graph=True, allow_unused=True))
    return tuple(next(grads) if need else None for need in needs)


class _Reassembly(torch.autograd.Function):
    """Reassembly by one backend of :data:`_BACKENDS` (PyTorch, numba on the CPU, Triton on
    CUDA), forward and backward.

    forward(y B×C×h×w, kernels B×(G·k²)×(s·h)×(s·w)) → B×C×(s·h)×(s·w); the backend pads y itself
    and its backward returns dL/dy with the padding's gradient already folded back. A backward
    that is itself differentiated (``create_graph=True``) is recorded from the unfolded form.
    """

    @staticmethod
    def forward(ctx, y, kernels, kernel_size, scale, groups, padding, implementation):
        ctx.save_for_backward(y, kernels)
        ctx.geometry = (kernel_size, scale, groups, padding)
        ctx.implementation = implementation
        if y.shape[0] == 0:  # an empty batch: an empty result, nothing to compute
            return kernels.new_zeros(0, y.shape[1], *kernels.shape[2:])
        return _BACKENDS[implementation].forward(y, kernels, kernel_size, scale, groups, padding)

    @staticmethod
    def backward(ctx, grad_out):
        y, kernels = ctx.saved_tensors
        need_y, need_kernels = ctx.needs_input_grad[:2]
        if torch.is_grad_enabled() and y.shape[0]:  # create_graph=True: a differentiable backward
            kernel_size, scale, groups, padding = ctx.geometry
            grads = _differentiable_backward(
                grad_out, y, kernels, (need_y, need_kernels),
                lambda y, w: _reassemble_unfolded(pad_for_kernel(y, kernel_size, padding), w, kernel_size, scale,
                                                  groups))
            return (*grads, None, None, None, None, None)
        if y.shape[0] == 0:
            grad_y, grad_kernels = torch.zeros_like(y), torch.zeros_like(kernels)
        else:
            grad_y, grad_kernels = _BACKENDS[ctx.implementation].backward(grad_out, y, kernels, *ctx.geometry)
        return grad_y if need_y else None, grad_kernels if need_kernels else None, None, None, None, None, None
