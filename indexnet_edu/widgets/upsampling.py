"""Upsampling explorer: one low-resolution input through eight upsamplers, as reassembly.

The input is ``y = max_pool(x, s)`` of an image ``x``; every upsampler maps it back to x's
size, and every one of them is a reassembly

    out(c, p) = Σ_{dy,dx} W_p(dy, dx) · y(c, ⌊p/s⌋ + (dy − r, dx − r))

with its own kernel ``W_p``: nearest (k=1, W ≡ 1), bilinear (k=3, fixed weights, replicate
border), max-unpool (k=1, the one-hot argmax gate from the encoder), IndexNet IU (k=1, the
decoder gate an index block predicts from the encoder's x) and CARAFE (k=5, softmax kernels
predicted from y itself, zeros border), and the successors whose kernels read both sides:
A2U (k=3, second-order kernels from x), FADE (k=5, semi-shift kernels from x and y; shown
without its gate, which would add x itself and is no reassembly of y) and SAPA (k=5, softmax
of the similarity between each point of x and its low-res neighbours in y; SAPA-I on 3×3 patch
features, since a one-channel pixel has no direction to compare). :func:`kernel_at` returns
the kernel that made one output pixel, with the neighbourhood it was applied to.
"""
from __future__ import annotations

import functools

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .._checks import check_choice, check_positive_int, check_seed
from ..upsamplers.a2u import A2U
from ..upsamplers.carafe import CARAFE
from ..upsamplers.fade import FADE
from ..ops.indexing import indexed_upsample
from ..ops.reassembly import carafe, pad_for_kernel, reassemble
from ..upsamplers.sapa import SAPA
from ..ops.recipes import bilinear_kernels, max_index, nearest_index
from .pooling import STRIDES, apply_index_block, check_image, pooling_indices

UPSAMPLERS = ("nearest", "bilinear", "max_unpool", "indexnet", "carafe", "a2u", "fade_nogate", "sapa_inner")
SUCCESSORS = ("a2u", "fade_nogate", "sapa_inner")  # registry names: one name per operator
#: SAPA in the explorer compares 3×3 patches: each pixel's feature is its neighbourhood.
PATCH = 3
STAND_IN_TEMPERATURE = 0.05


@dataclass(frozen=True)
class Reassembly:
    """Kernels of one upsampler: B×(G·k²)×H×W weights, their size k, groups G and border rule."""

    kernels: torch.Tensor
    kernel_size: int
    groups: int
    padding: str


@dataclass(frozen=True)
class UpsamplingView:
    """Everything the upsampling explorer draws. ``image`` is 1×C×H×W, ``low_res`` 1×C×h×w,
    ``outputs``/``errors`` map each name in :data:`UPSAMPLERS` to 1×C×H×W tensors."""

    image: torch.Tensor
    low_res: torch.Tensor
    stride: int
    outputs: dict
    errors: dict
    reassemblies: dict
    labels: dict


@dataclass(frozen=True)
class KernelAtPixel:
    """The kernel behind output pixel (row, col): ``kernel`` is C'×k×k (C' = 1 when shared by
    all channels), ``neighbourhood`` the C×k×k patch of the (padded) low-res input it weighs,
    ``centre`` the low-res pixel ⌊p/s⌋ and ``value`` the C output values."""

    kernel: np.ndarray
    neighbourhood: np.ndarray
    centre: tuple[int, int]
    value: np.ndarray


def default_carafe(channels: int, stride: int, seed: int = 0) -> CARAFE:
    """An untrained CARAFE (paper's k_up=5, k_enc=3; c_mid=8 to keep a control move under 100 ms): its near-zero
    encoder makes every kernel an almost uniform 5×5 average until it is trained."""
    seed = check_seed(seed, "seed")
    with torch.random.fork_rng(devices=[]):  # seeded weights, the caller's RNG untouched
        torch.manual_seed(seed)
        return CARAFE(channels, scale=stride, k_up=5, k_enc=3, c_mid=8).eval()


def patch_features(x: torch.Tensor, size: int = PATCH) -> torch.Tensor:
    """B×C×H×W → B×(C·size²)×H×W: every pixel's feature is its size×size neighbourhood
    (zeros outside), a parameter-free embedding a one-channel image can be compared in."""
    batch, channels, height, width = x.shape
    return F.unfold(x, size, padding=size // 2).view(batch, channels * size * size, height, width)


def default_successors(channels: int, stride: int, seed: int = 0) -> dict:
    """Untrained ``a2u`` (k=3), ``fade_nogate`` (FADE's kernels without its gate, k=5, c_mid=8
    to stay cheap) and a parameter-free ``sapa_inner`` (SAPA-I, k=5) on :func:`patch_features`,
    for C channels and this stride. A2U starts as its authors initialise it (its sigmoid caps every
    kernel entry at e/(e + 8) ≈ 0.254); FADE starts without content-encoder weights, so exactly
    uniform like an untrained CARAFE; SAPA-I is content-aware before any training."""
    seed = check_seed(seed, "seed")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        a2u, fade = A2U(channels, stride), FADE(channels, stride, c_mid=8, gate=False)
        with torch.no_grad():
            fade.content_encoder.weight.zero_()
            fade.content_encoder.bias.zero_()
        return {"a2u": a2u.eval(), "fade_nogate": fade.eval(),
                "sapa_inner": SAPA(channels * PATCH**2, stride, similarity="inner", method="shift").eval()}


@functools.lru_cache(maxsize=8)
def _shared_default_carafe(channels: int, stride: int):
    """:func:`default_carafe`, built once per (C, stride) for the explorer's untrained column (it
    only reads the module; callers that train one get a fresh module from default_carafe)."""
    return default_carafe(channels, stride)


@functools.lru_cache(maxsize=8)
def _shared_default_successors(channels: int, stride: int):
    """:func:`default_successors`, built once per (C, stride), read-only as above."""
    return default_successors(channels, stride)


def successor_kernels(image: torch.Tensor, low_res: torch.Tensor, modules: dict) -> dict:
    """``{name: B×k²×H×W kernels}`` of A2U, FADE and SAPA for encoder feature ``image``
    (B×C×H×W) and decoder feature ``low_res`` (B×C×h×w), differentiable in the modules'
    weights; ``modules`` as :func:`default_successors`. Raises ValueError for a missing name."""
    missing = [name for name in SUCCESSORS if name not in modules]
    if missing:
        raise ValueError(f"successor modules must include {', '.join(SUCCESSORS)}; missing {', '.join(missing)}")
    dtype = next(modules["a2u"].parameters()).dtype
    x, y = image.to(dtype), low_res.to(dtype)
    return {"a2u": modules["a2u"](x)[1], "fade_nogate": modules["fade_nogate"].kernels(x, y),
            "sapa_inner": modules["sapa_inner"].kernels(patch_features(x), patch_features(y))}


def successor_reassemblies(image: torch.Tensor, low_res: torch.Tensor, modules: dict) -> dict:
    """``{name: Reassembly}`` of :func:`successor_kernels` (no gradients)."""
    with torch.no_grad():
        kernels = successor_kernels(image, low_res, modules)
    return {name: Reassembly(kernels[name].to(image.dtype), modules[name].k_up, 1, "zeros") for name in SUCCESSORS}


def _carafe_reassembly(module: CARAFE, y: torch.Tensor) -> Reassembly:
    param = next(module.parameters())
    with torch.no_grad():
        kernels = module.kernels(y.to(param.dtype)).to(y.dtype)
    return Reassembly(kernels, module.k_up, module.groups, "zeros")


def explore_upsampling(image: torch.Tensor, stride: int = 2, index_block=None, carafe_module=None,
                       successor_modules=None, extra=None) -> UpsamplingView:
    """Max-pool ``image`` (1×C×H×W) by ``stride`` and upsample it back eight ways.

    ``index_block`` (a trained index block, x → (enc, dec)) supplies IndexNet's decoder gate;
    without one, a stand-in gate is used: the softmax index at T = 0.05 rescaled to window max 1.
    ``carafe_module`` (a CARAFE for C channels and this stride) defaults to an untrained one;
    ``successor_modules`` (``{"a2u", "fade_nogate", "sapa_inner"}`` as :func:`default_successors`) too.
    ``extra``: ``{name: stage}`` more upsamplers, each a stage with ``down``/``up`` for C channels and
    this stride (:func:`~indexnet_edu.upsamplers.custom.as_resampler` makes one of your module); they
    get outputs and errors, not kernels (:func:`kernel_at` is for reassemblies).
    """
    stride = check_positive_int(stride, "stride")
    check_choice(stride, "stride", STRIDES)
    check_image(image, stride)
    channels, height, width = image.shape[1:]
    low_res = F.max_pool2d(image, stride)
    h, w = low_res.shape[-2:]
    argmax = max_index(image, stride)
    if index_block is not None:
        _, gate = apply_index_block(index_block, image)
        gate = gate.to(image.dtype)
        gate_label = "IndexNet IU (trained block)"
    else:
        _, gate = pooling_indices(image, "softmax", stride, temperature=STAND_IN_TEMPERATURE)
        gate_label = f"IndexNet IU (stand-in gate: softmax T={STAND_IN_TEMPERATURE})"
    if carafe_module is None:
        carafe_module = _shared_default_carafe(channels, stride)
        carafe_label = "CARAFE (untrained: ≈ uniform 5×5)"
    else:
        carafe_label = "CARAFE"
    if getattr(carafe_module, "scale", stride) != stride:
        raise ValueError(f"carafe_module upsamples by {carafe_module.scale}, but stride={stride} was chosen")

    carafe_part = _carafe_reassembly(carafe_module, low_res)
    trained = successor_modules is not None
    if successor_modules is None:
        successor_modules = _shared_default_successors(channels, stride)
    for name, module in dict(successor_modules).items():
        if getattr(module, "scale", stride) != stride:
            raise ValueError(f"successor_modules[{name!r}] upsamples by {module.scale}, but stride={stride} was chosen")
    successors = successor_reassemblies(image, low_res, successor_modules)
    reassemblies = {
        "nearest": Reassembly(nearest_index(low_res, stride), 1, 1, "zeros"),
        "bilinear": Reassembly(bilinear_kernels(h, w, stride, dtype=image.dtype), 3, 1, "replicate"),
        "max_unpool": Reassembly(argmax, 1, channels, "zeros"),
        "indexnet": Reassembly(gate, 1, gate.shape[1], "zeros"),
        "carafe": carafe_part,
        **successors,
    }
    with torch.no_grad():
        outputs = {
            "nearest": F.interpolate(low_res, scale_factor=stride, mode="nearest"),
            "bilinear": F.interpolate(low_res, scale_factor=stride, mode="bilinear", align_corners=False),
            "max_unpool": F.max_unpool2d(low_res, F.max_pool2d(image, stride, return_indices=True)[1], stride),
            "indexnet": indexed_upsample(low_res, gate, stride),
            # CARAFE's forward is exactly this call on its kernels; reusing them halves the cost.
            "carafe": carafe(low_res, carafe_part.kernels, carafe_part.kernel_size, carafe_part.groups, stride),
            **{name: reassemble(low_res, part.kernels, part.kernel_size, stride) for name, part in successors.items()},
        }
        for name, stage in dict(extra or {}).items():
            if name in outputs:
                raise ValueError(f"extra upsampler {name!r} clashes with a built-in one; expected another name")
            out = stage.up(*stage.down(image))
            if out.shape != image.shape:
                raise ValueError(f"extra upsampler {name!r} returned {tuple(out.shape)}, expected {tuple(image.shape)}")
            outputs[name] = out.to(image.dtype)
    errors = {name: (out - image).abs() for name, out in outputs.items()}
    labels = {"nearest": "nearest (k=1, W≡1)", "bilinear": "bilinear (k=3, fixed W)",
              "max_unpool": "max-unpool (k=1, one-hot W)", "indexnet": gate_label, "carafe": carafe_label,
              "a2u": "a2u (k=3, from x)" + ("" if trained else "; untrained"),
              "fade_nogate": "fade_nogate (k=5, x+y)" + ("" if trained else "; untrained = uniform"),
              "sapa_inner": "sapa_inner (k=5, x·y of 3×3 patches)",
              **{name: f"{name} (yours)" for name in dict(extra or {})}}
    return UpsamplingView(image, low_res, stride, outputs, errors, reassemblies, labels)


def reassembled_output(view: UpsamplingView, name: str) -> torch.Tensor:
    """The output of upsampler ``name`` recomputed from its kernels with :func:`reassemble`."""
    check_choice(name, "name", UPSAMPLERS)
    part = view.reassemblies[name]
    return reassemble(view.low_res, part.kernels, part.kernel_size, view.stride, part.groups, part.padding)


def kernel_at(view: UpsamplingView, name: str, row: int, col: int) -> KernelAtPixel:
    """The reassembly kernel of upsampler ``name`` at output pixel (row, col)."""
    check_choice(name, "name", UPSAMPLERS)
    height, width = view.image.shape[-2:]
    if isinstance(row, bool) or isinstance(col, bool) or not (0 <= int(row) < height and 0 <= int(col) < width):
        raise ValueError(f"(row, col) must lie inside the {height}×{width} output, got ({row}, {col})")
    row, col = int(row), int(col)
    part = view.reassemblies[name]
    k = part.kernel_size
    kernel = part.kernels[0, :, row, col].reshape(part.groups, k, k)
    centre = (row // view.stride, col // view.stride)
    padded = pad_for_kernel(view.low_res, k, part.padding)
    neighbourhood = padded[0, :, centre[0]:centre[0] + k, centre[1]:centre[1] + k]
    value = view.outputs[name][0, :, row, col]
    return KernelAtPixel(kernel.numpy(), neighbourhood.numpy(), centre, value.numpy())
