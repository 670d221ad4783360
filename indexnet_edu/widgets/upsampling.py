"""Upsampling explorer: one low-resolution input through five upsamplers, as reassembly.

The input is ``y = max_pool(x, s)`` of an image ``x``; every upsampler maps it back to x's
size, and every one of them is a reassembly

    out(c, p) = Σ_{dy,dx} W_p(dy, dx) · y(c, ⌊p/s⌋ + (dy − r, dx − r))

with its own kernel ``W_p``: nearest (k=1, W ≡ 1), bilinear (k=3, fixed weights, replicate
border), max-unpool (k=1, the one-hot argmax gate from the encoder), IndexNet IU (k=1, the
decoder gate an index block predicts from the encoder's x) and CARAFE (k=5, softmax kernels
predicted from y itself, zeros border). :func:`kernel_at` returns the kernel that made one
output pixel, with the neighbourhood it was applied to.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .._checks import check_choice, check_nonnegative_int, check_positive_int, check_tensor
from ..carafe_module import CARAFE
from ..indexing import indexed_upsample
from ..reassembly import carafe, pad_for_kernel, reassemble
from ..recipes import bilinear_kernels, max_index, nearest_index
from .pooling import STRIDES, apply_index_block, pooling_indices

UPSAMPLERS = ("nearest", "bilinear", "max_unpool", "indexnet", "carafe")
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
    """An untrained CARAFE (paper's k_up=5, k_enc=3; c_mid=16 to stay cheap): its near-zero
    encoder makes every kernel an almost uniform 5×5 average until it is trained."""
    seed = check_nonnegative_int(seed, "seed")
    with torch.random.fork_rng(devices=[]):  # seeded weights, the caller's RNG untouched
        torch.manual_seed(seed)
        return CARAFE(channels, scale=stride, k_up=5, k_enc=3, c_mid=16).eval()


def _carafe_reassembly(module: CARAFE, y: torch.Tensor) -> Reassembly:
    param = next(module.parameters())
    with torch.no_grad():
        kernels = module.kernels(y.to(param.dtype)).to(y.dtype)
    return Reassembly(kernels, module.k_up, module.groups, "zeros")


def explore_upsampling(image: torch.Tensor, stride: int = 2, index_block=None, carafe_module=None) -> UpsamplingView:
    """Max-pool ``image`` (1×C×H×W) by ``stride`` and upsample it back five ways.

    ``index_block`` (a trained index block, x → (enc, dec)) supplies IndexNet's decoder gate;
    without one, a stand-in gate is used: the softmax index at T = 0.05 rescaled to window max 1.
    ``carafe_module`` (a CARAFE for C channels and this stride) defaults to an untrained one.
    """
    check_tensor(image, "image", ndim=4)
    stride = check_positive_int(stride, "stride")
    check_choice(stride, "stride", STRIDES)
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
        carafe_module = default_carafe(channels, stride)
        carafe_label = "CARAFE (untrained: ≈ uniform 5×5)"
    else:
        carafe_label = "CARAFE"
    if getattr(carafe_module, "scale", stride) != stride:
        raise ValueError(f"carafe_module upsamples by {carafe_module.scale}, but stride={stride} was chosen")

    carafe_part = _carafe_reassembly(carafe_module, low_res)
    reassemblies = {
        "nearest": Reassembly(nearest_index(low_res, stride), 1, 1, "zeros"),
        "bilinear": Reassembly(bilinear_kernels(h, w, stride, dtype=image.dtype), 3, 1, "replicate"),
        "max_unpool": Reassembly(argmax, 1, channels, "zeros"),
        "indexnet": Reassembly(gate, 1, gate.shape[1], "zeros"),
        "carafe": carafe_part,
    }
    with torch.no_grad():
        outputs = {
            "nearest": F.interpolate(low_res, scale_factor=stride, mode="nearest"),
            "bilinear": F.interpolate(low_res, scale_factor=stride, mode="bilinear", align_corners=False),
            "max_unpool": F.max_unpool2d(low_res, F.max_pool2d(image, stride, return_indices=True)[1], stride),
            "indexnet": indexed_upsample(low_res, gate, stride),
            # CARAFE's forward is exactly this call on its kernels; reusing them halves the cost.
            "carafe": carafe(low_res, carafe_part.kernels, carafe_part.kernel_size, carafe_part.groups, stride),
        }
    errors = {name: (out - image).abs() for name, out in outputs.items()}
    labels = {"nearest": "nearest (k=1, W≡1)", "bilinear": "bilinear (k=3, fixed W)",
              "max_unpool": "max-unpool (k=1, one-hot W)", "indexnet": gate_label, "carafe": carafe_label}
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
