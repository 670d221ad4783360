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
from typing import NamedTuple

import torch
import torch.nn.functional as F
from einops import rearrange

from ._checks import all_finite, check_choice, check_odd_kernel, check_positive_int, check_tensor
from . import reassembly_op
from .graph_capture import is_exporting, is_tracing
from .kernels import numba_cpu, triton_cuda
from .kernels.layout import channels_first as _channels_first
from .kernels.layout import channels_last as _channels_last
from .kernels.layout import fold_padding_gradient
from .kernels.layout import pad_for_kernel  # noqa: F401  (public here: the widgets and the naive baseline use it)

PADDINGS = ("zeros", "replicate")
#: Ways to compute reassembly: "auto" picks Triton on CUDA, the fused numba kernel on CPU (each
#: when importable and the dtype is supported), else the PyTorch operator below.
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


#: Patch values gathered per step of the fast operator (16 MiB in float32): a few rows at a time.
_CHUNK_VALUES = 1 << 22


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
            (:mod:`indexnet_edu.kernels.numba_cpu`, float32/float64), "triton" the CUDA kernel
            (:mod:`indexnet_edu.kernels.triton_cuda`), "torch" the PyTorch operator below. All
            agree with the naive form to rounding.

    Returns:
        B×C×(s·h)×(s·w) (empty for an empty batch). Differentiable in ``y`` and ``kernels``
        (hand-written backwards: see :class:`_Reassembly` and :class:`_CompiledReassembly`);
        none of the implementations builds all k×k patches at once. Twice differentiable too
        (``create_graph=True``, a gradient penalty): the backward is then recomputed from the
        unfolded form, which does build the C·k²·s²·h·w patches.

    Under ``torch.compile`` the call is one custom operator (:mod:`indexnet_edu.reassembly_op`)
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
    if chosen in _BACKENDS:  # the compiled kernels pad (and fold the padding's gradient) themselves
        return _CompiledReassembly.apply(y, kernels, kernel_size, scale, groups, padding, chosen)
    padded = pad_for_kernel(y, kernel_size, padding)  # autograd folds the padding back
    return _Reassembly.apply(padded, kernels, kernel_size, scale, groups)


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
    if chosen in _BACKENDS:
        return _BACKENDS[chosen].backward(grad_out, y, kernels, kernel_size, scale, groups, padding)
    grad_padded, grad_kernels = _backward(grad_out, pad_for_kernel(y, kernel_size, padding), kernels, kernel_size,
                                          scale, groups, True, True)
    return fold_padding_gradient(grad_padded, kernel_size // 2, padding), grad_kernels


_BACKENDS = {"numba": numba_cpu, "triton": triton_cuda}
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


# ---------------------------------------------------------------------------------------------
# The fast operator.
#
# The textbook version (``indexnet_edu.bench.naive``) unfolds every k×k neighbourhood and
# nearest-upsamples it: C·k²·s²·h·w values, 100× the input for k=5, s=2. Here nothing is
# upsampled. The s×s output pixels above low-res pixel (row, x) each take a dot product of
# their own k² weights with the *same* k² neighbours, for every channel of their group.
# Batched over pixels that is a small matrix product per pixel,
#
#     out[pixel, (i j), c] = Σ_k W[pixel, (i j), k] · patches[pixel, k, c]
#                            (s² × k²)               (k² × C/G)
#
# done for a few low-res rows at a time (about _CHUNK_VALUES patch values), so the only
# temporaries are those rows of patches and of output, and the arithmetic runs in BLAS.
# Working channels-last makes every operand a plain strided matrix; one transpose at each
# end converts from and to B×C×H×W. Buffers are allocated once per call and refilled:
# fresh megabyte-sized allocations per step would cost more in page faults than the maths.
# The backward mirrors it: dL/dW = dL/dout · patchesᵀ, dL/dpatches = Wᵀ · dL/dout, and the
# patch gradients go back to where each neighbour was read with one ``index_add_`` per step
# (few operator calls matter: on a busy machine every parallel call waits for its threads).
# ---------------------------------------------------------------------------------------------


def _kernel_rows(kernels: torch.Tensor, kernel_size: int, scale: int, groups: int) -> torch.Tensor:
    """B×(G·k²)×(s·h)×(s·w) → h×(B·G)×w×s²×k², contiguous."""
    return rearrange(kernels, "b (g k) (h i) (w j) -> h (b g) w (i j) k", g=groups, k=kernel_size**2,
                     i=scale, j=scale).contiguous()


def _kernels_from_rows(rows: torch.Tensor, batch: int, scale: int) -> torch.Tensor:
    """Inverse of :func:`_kernel_rows`."""
    return rearrange(rows, "h (b g) w (i j) k -> b (g k) (h i) (w j)", b=batch, i=scale).contiguous()


def _row_windows(features: torch.Tensor, first_row: int, rows: int, kernel_size: int, width: int) -> torch.Tensor:
    """A view (no copy) of the k×k neighbourhoods of ``rows`` low-res rows from ``first_row``:
    (B·G)×hp×wp×c → rows×(B·G)×w×k×k×c."""
    batch_groups, padded_height, padded_width, channels = features.shape
    row_stride = padded_width * channels
    return features.as_strided(
        (rows, batch_groups, width, kernel_size, kernel_size, channels),
        (row_stride, padded_height * row_stride, channels, row_stride, channels, 1),
        features.storage_offset() + first_row * row_stride)


def _row_chunks(height: int, values_per_row: int):
    """(first row, number of rows) chunks holding about ``_CHUNK_VALUES`` patch values each.

    Several rows per chunk keep the number of (parallel) operator calls small: on a busy
    machine each call pays for gathering its threads, and hundreds of tiny calls pay often.
    """
    rows = max(1, min(height, _CHUNK_VALUES // max(1, values_per_row)))
    return [(first, min(rows, height - first)) for first in range(0, height, rows)]


def _patch_sources(shape, rows: int, kernel_size: int, width: int, device) -> torch.Tensor:
    """Flat pixel index into a (B·G)×hp×wp map of every entry of ``rows`` rows of patches
    (order rows×(B·G)×w×k×k, as :func:`_row_windows`), for the rows starting at row 0."""
    batch_groups, padded_height, padded_width, _ = shape
    r, n, x, dy, dx = (torch.arange(size, device=device).view([-1 if i == axis else 1 for i in range(5)])
                       for axis, size in enumerate((rows, batch_groups, width, kernel_size, kernel_size)))
    return (n * padded_height * padded_width + (r + dy) * padded_width + x + dx).reshape(-1)


def _to_channels_first(rows: torch.Tensor, batch: int) -> torch.Tensor:
    """h×s×(B·G)×w×s×c → B×(G·c)×(s·h)×(s·w)."""
    height, scale, batch_groups, width, _, channels = rows.shape
    if batch_groups == 1:  # a plain 2-D transpose: PyTorch's blocked fast path
        flat = rows.reshape(height * scale * width * scale, channels).t().contiguous()
        return flat.view(1, channels, height * scale, width * scale)
    return rearrange(rows, "h i (b g) w j c -> b (g c) (h i) (w j)", b=batch).contiguous()


def _to_rows(tensor: torch.Tensor, groups: int, scale: int) -> torch.Tensor:
    """B×(G·c)×(s·h)×(s·w) → h×s×(B·G)×w×s×c, contiguous (inverse of _to_channels_first)."""
    batch, channels, height, width = tensor.shape
    if batch * groups == 1:
        flat = tensor.reshape(channels, height * width).t().contiguous()
        return flat.view(height // scale, scale, 1, width // scale, scale, channels // groups)
    return rearrange(tensor, "b (g c) (h i) (w j) -> h i (b g) w j c", g=groups, i=scale,
                     j=scale).contiguous()


class _Layout(NamedTuple):
    """What the forward and backward passes both derive from their inputs."""

    features: torch.Tensor   # (B·G)×hp×wp×c, channels-last padded input
    weights: torch.Tensor    # h×(B·G)×w×s²×k², kernels by low-res row
    height: int
    width: int               # low-res h, w
    batch_groups: int
    per_group: int           # B·G and C/G
    area: int
    phases: int              # k² and s²
    chunks: list             # (first row, rows) steps
    most: int                # the largest number of rows in a step


def _layout(padded, kernels, kernel_size, scale, groups) -> _Layout:
    _, _, padded_height, padded_width = padded.shape
    height, width = padded_height - kernel_size + 1, padded_width - kernel_size + 1
    features = _channels_last(padded, groups)
    batch_groups, per_group = features.shape[0], features.shape[3]
    area = kernel_size**2
    chunks = _row_chunks(height, batch_groups * width * area * per_group)
    return _Layout(features, _kernel_rows(kernels, kernel_size, scale, groups), height, width, batch_groups,
                   per_group, area, scale * scale, chunks, max(rows for _, rows in chunks))


def _forward(padded, kernels, kernel_size, scale, groups):
    batch = padded.shape[0]
    features, weights, height, width, batch_groups, per_group, area, phases, chunks, most = \
        _layout(padded, kernels, kernel_size, scale, groups)
    patch_buffer = features.new_empty(most * batch_groups * width * area * per_group)
    product_buffer = features.new_empty(most * batch_groups * width * phases * per_group)
    out_rows = features.new_empty(height, scale, batch_groups, width, scale, per_group)
    for first, rows in chunks:
        pixels = rows * batch_groups * width
        patches = patch_buffer[:pixels * area * per_group].view(rows, batch_groups, width, kernel_size,
                                                                kernel_size, per_group)
        patches.copy_(_row_windows(features, first, rows, kernel_size, width))
        product = product_buffer[:pixels * phases * per_group].view(pixels, phases, per_group)
        torch.bmm(weights[first:first + rows].view(pixels, phases, area), patches.view(pixels, area, per_group),
                  out=product)
        out_rows[first:first + rows].copy_(
            rearrange(product, "(r n x) (i j) c -> r i n x j c", r=rows, n=batch_groups, i=scale))
    return _to_channels_first(out_rows, batch)


def _backward(grad_out, padded, kernels, kernel_size, scale, groups, need_features, need_kernels):
    batch, padded_width = padded.shape[0], padded.shape[3]
    features, weights, height, width, batch_groups, per_group, area, phases, chunks, most = \
        _layout(padded, kernels, kernel_size, scale, groups)
    grads = _to_rows(grad_out, groups, scale)                          # h×s×(BG)×w×s×c
    grad_buffer = features.new_empty(most * batch_groups * width * phases * per_group)
    patch_buffer = features.new_empty(most * batch_groups * width * area * per_group)
    grad_features = torch.zeros_like(features) if need_features else None
    grad_weights = torch.empty_like(weights) if need_kernels else None
    read_from = _patch_sources(features.shape, most, kernel_size, width, features.device) if need_features else None
    for first, rows in chunks:
        pixels = rows * batch_groups * width
        grad_rows = grad_buffer[:pixels * phases * per_group].view(pixels, phases, per_group)
        grad_rows.copy_(rearrange(grads[first:first + rows], "r i n x j c -> (r n x) (i j) c"))
        patches = patch_buffer[:pixels * area * per_group].view(pixels, area, per_group)
        if need_kernels:  # dL/dW = dL/dout · patchesᵀ
            patches.view(rows, batch_groups, width, kernel_size, kernel_size, per_group).copy_(
                _row_windows(features, first, rows, kernel_size, width))
            torch.bmm(grad_rows, patches.transpose(1, 2),
                      out=grad_weights[first:first + rows].view(pixels, phases, area))
        if need_features:  # dL/dpatches = Wᵀ · dL/dout (reusing the patch buffer), then added
            grad_patches = patches  # back to the k² places each neighbour was read from, in one call
            torch.bmm(weights[first:first + rows].view(pixels, phases, area).transpose(1, 2), grad_rows,
                      out=grad_patches)
            targets = read_from[:pixels * area] + first * padded_width
            grad_features.view(-1, per_group).index_add_(0, targets, grad_patches.view(-1, per_group))
    grad_padded = grad_kernels = None
    if need_features:
        grad_padded = _channels_first(grad_features, batch)
    if need_kernels:
        grad_kernels = _kernels_from_rows(grad_weights, batch, scale)
    return grad_padded, grad_kernels


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
    """Reassembly of an already padded map with a hand-written backward.

    forward(padded B×C×(h+k−1)×(w+k−1), kernels B×(G·k²)×(s·h)×(s·w)) → B×C×(s·h)×(s·w).
    backward: dL/dW = Σ_c dL/dout · patch and dL/dpatch = Σ_sub-pixels W · dL/dout, the
    latter added back to the k² places each patch entry was read from.
    """

    @staticmethod
    def forward(ctx, padded, kernels, kernel_size, scale, groups):
        ctx.save_for_backward(padded, kernels)
        ctx.geometry = (kernel_size, scale, groups)
        if padded.shape[0] == 0:  # an empty batch: an empty result, nothing to compute
            return kernels.new_zeros(0, padded.shape[1], *kernels.shape[2:])
        return _forward(padded, kernels, kernel_size, scale, groups)

    @staticmethod
    def backward(ctx, grad_out):
        padded, kernels = ctx.saved_tensors
        need_features, need_kernels = ctx.needs_input_grad[:2]
        if torch.is_grad_enabled() and padded.shape[0]:  # create_graph=True: a differentiable backward
            kernel_size, scale, groups = ctx.geometry
            grads = _differentiable_backward(
                grad_out, padded, kernels, (need_features, need_kernels),
                lambda p, w: _reassemble_unfolded(p, w, kernel_size, scale, groups))
            return (*grads, None, None, None)
        if padded.shape[0] == 0:
            return (torch.zeros_like(padded) if need_features else None,
                    torch.zeros_like(kernels) if need_kernels else None, None, None, None)
        grad_padded, grad_kernels = _backward(grad_out.contiguous(), padded, kernels, *ctx.geometry,
                                              need_features, need_kernels)
        return grad_padded, grad_kernels, None, None, None


class _CompiledReassembly(torch.autograd.Function):
    """Reassembly by a compiled kernel (numba on the CPU, Triton on CUDA), forward and backward.

    forward(y B×C×h×w, kernels B×(G·k²)×(s·h)×(s·w)) → B×C×(s·h)×(s·w); the kernel pads y itself
    and its backward returns dL/dy with the padding's gradient already folded back.
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
