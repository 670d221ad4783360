"""Lesson 09 (fusing encoder and decoder): A2U, FADE and SAPA beside IndexNet and CARAFE.

* :func:`lineage_markdown` — what each successor takes from IndexNet (encoder-side,
  high-resolution guidance) and from CARAFE (content-aware k×k reassembly kernels), with its
  parameter count measured from the registry.
* :func:`fit_successors` — fit the upsampling explorer's CARAFE, A2U, FADE and SAPA-I modules
  to bring one image back from its max-pooled copy, so their kernels show something learned.
* :func:`edge_pixel` and :func:`kernels_figure` — the kernels behind one output pixel, side by side.
* :func:`successor_contrasts` — each arm against a reference in the shipped results, paired by seed.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .._checks import check_nonnegative_int, check_positive_int, check_positive_real, check_seed, check_tensor
from ..ops.reassembly import reassemble
from ..upsamplers.registry import create_upsampler, upsampler_spec
from ..widgets.upsampling import (SUCCESSORS, UpsamplingView, default_carafe, default_successors, kernel_at,
                                  successor_kernels)

#: The successors' registry names, as the shipped laptop results hold them.
ARMS = ("a2u", "fade", "fade_lite", "fade_nogate", "sapa", "sapa_g", "sapa_inner")

#: (what it takes from IndexNet, what it takes from CARAFE, what is new) per registry name.
LINEAGE = {
    "hin": ("a gate per high-res pixel, predicted from the encoder feature", "—", "(IndexNet itself: k = 1)"),
    "carafe": ("—", "softmax k×k kernels reassembling the decoder feature", "(CARAFE itself: from the decoder)"),
    "a2u": ("upsampling and 6×6 downsampling kernels predicted from the encoder feature in down()",
            "a 3×3 reassembly kernel instead of a 1×1 gate", "second-order (pairwise-affinity) generator, "
            "predicted per image"),
    "fade": ("the encoder feature in the kernel generator, and a gate that passes encoder detail",
             "5×5 softmax reassembly of the decoder feature", "semi-shift convolution over both features"),
    "fade_lite": ("as FADE", "5×5 softmax reassembly of the decoder feature",
                  "FADE with k²-channel compressors and a depthwise semi-shift encoder"),
    "fade_nogate": ("the encoder feature in the kernel generator", "5×5 softmax reassembly of the decoder feature",
                    "FADE's ablation without the gate"),
    "sapa": ("the encoder point as the query (high-res guidance)", "5×5 softmax reassembly of the decoder feature",
             "kernel = similarity of the encoder point to its decoder neighbours"),
    "sapa_g": ("a query mixing the encoder point and the decoder feature by a gate",
               "5×5 softmax reassembly of the decoder feature", "gated bilinear similarity"),
    "sapa_inner": ("the encoder point as the query", "5×5 softmax reassembly of the decoder feature",
                   "parameter-free similarity (only two layer norms)"),
}


def lineage_markdown(names=tuple(LINEAGE), channels: int = 64) -> str:
    """A markdown table: kernel source, the inheritance columns of :data:`LINEAGE` and the
    parameters of one stage at ``channels`` channels (counted from ``create_upsampler``)."""
    channels = check_positive_int(channels, "channels")
    lines = [f"| name | kernel from | from IndexNet | from CARAFE | new | params (C={channels}) |",
             "|---|---|---|---|---|---|"]
    for name in names:
        if name not in LINEAGE:
            raise ValueError(f"no lineage entry for {name!r}; expected some of {', '.join(LINEAGE)}")
        params = sum(p.numel() for p in create_upsampler(name, channels).parameters())
        index, carafe, new = LINEAGE[name]
        lines.append(f"| {name} | {upsampler_spec(name).kernel_source} | {index} | {carafe} | {new} | {params:,} |")
    return "\n".join(lines)


def fit_successors(image: torch.Tensor, stride: int = 2, steps: int = 100, lr: float = 1e-2, seed: int = 0):
    """Fit the upsampling explorer's CARAFE (:func:`~indexnet_edu.widgets.upsampling.default_carafe`)
    and its A2U, FADE and SAPA-I (:func:`~indexnet_edu.widgets.upsampling.default_successors`)
    to reconstruct ``image`` (1×C×H×W) from ``max_pool(image, stride)`` by reassembly with their
    own kernels (Adam, mean squared error, each module on its own, ``steps`` steps).

    Returns ``(modules, losses)``: ``modules`` maps "carafe", "a2u", "fade_nogate", "sapa_inner" to the fitted
    modules (eval mode), ``losses[name]`` is the loss per step. The caller's RNG is left as it was.
    """
    check_tensor(image, "image", ndim=4)
    stride = check_positive_int(stride, "stride")
    steps = check_positive_int(steps, "steps")
    lr = check_positive_real(lr, "lr", allow_inf=False)
    seed = check_seed(seed, "seed")
    channels = image.shape[1]
    modules = {"carafe": default_carafe(channels, stride, seed), **default_successors(channels, stride, seed)}
    low_res = F.max_pool2d(image, stride)
    losses = {name: [] for name in modules}
    optimisers = {name: torch.optim.Adam(module.parameters(), lr=lr) for name, module in modules.items()}
    for module in modules.values():
        module.train()
    for _ in range(steps):
        kernels = {"carafe": modules["carafe"].kernels(low_res), **successor_kernels(image, low_res, modules)}
        for name, module in modules.items():
            loss = F.mse_loss(reassemble(low_res, kernels[name], module.k_up, stride), image)
            optimisers[name].zero_grad()
            loss.backward()
            optimisers[name].step()
            losses[name].append(float(loss.detach()))
    return {name: module.eval() for name, module in modules.items()}, losses


def edge_pixel(image: torch.Tensor, margin: int = 4) -> tuple[int, int]:
    """(row, col) of the strongest edge (largest central-difference gradient of the channel
    mean), at least ``margin`` pixels from the border."""
    check_tensor(image, "image", ndim=4)
    margin = check_nonnegative_int(margin, "margin")
    gray = image[0].mean(0)
    height, width = gray.shape
    if height <= 2 * margin + 2 or width <= 2 * margin + 2:
        raise ValueError(f"image must be larger than 2·margin+2 = {2 * margin + 2} on each side, "
                         f"got {height}×{width}")
    dy = gray[2:, 1:-1] - gray[:-2, 1:-1]
    dx = gray[1:-1, 2:] - gray[1:-1, :-2]
    strength = (dy**2 + dx**2)[margin - 1:height - margin - 1, margin - 1:width - margin - 1]
    flat = int(torch.argmax(strength))
    return flat // strength.shape[1] + margin, flat % strength.shape[1] + margin


def _display_name(view: UpsamplingView, name: str) -> str:
    """The registry name, or what the IndexNet column really is when no trained block was given."""
    if name == "indexnet" and "stand-in" in view.labels.get("indexnet", ""):
        return "stand-in gate"
    return name


def kernels_figure(view: UpsamplingView, row: int, col: int, names=("indexnet", "carafe") + SUCCESSORS,
                   crop: int = 16):
    """The upsamplers at one pixel, sized for the book's page column (:mod:`indexnet_edu.figure_sizes`:
    7.1 in wide, text ≥ 9 pt, 12 panels at most with the default names): the top
    half holds the input and each output in a crop×crop window around (row, col), the pixel
    marked; the bottom half the kernel behind that pixel (channel mean), centred on ⌊p/s⌋,
    weights printed. Three panels a row. Object API only. Returns the Figure."""
    from matplotlib.figure import Figure

    from ..figure_sizes import FIGURE_WIDTH_IN, MIN_FONT_PT
    from ..widgets.snapshots import _draw_kernel

    crop = check_positive_int(crop, "crop")
    names = list(names)
    kernels = {name: kernel_at(view, name, row, col) for name in names}
    height, width = view.image.shape[-2:]
    top, left = min(max(0, row - crop // 2), max(0, height - crop)), min(max(0, col - crop // 2), max(0, width - crop))
    columns = 3
    picture_rows = -(-(len(names) + 1) // columns)
    kernel_rows = -(-(len(names) + 1) // columns)
    fig = Figure(figsize=(FIGURE_WIDTH_IN, 2.45 * (picture_rows + kernel_rows)))
    axes = fig.subplots(picture_rows + kernel_rows, columns, squeeze=False)
    for axis in axes.flat:
        axis.set_axis_off()
    pictures = [("input", view.image)] + [(f"{_display_name(view, name)}\nmean error {float(view.errors[name].mean()):.3f}",
                                           view.outputs[name]) for name in names]
    for axis, (title, picture) in zip(axes[:picture_rows].flat, pictures):
        window = picture[0, :, top:top + crop, left:left + crop].mean(0).numpy()
        axis.imshow(window, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        axis.plot([col - left], [row - top], "s", mfc="none", mec="red", ms=9)
        axis.set_title(title, fontsize=9)
    kernel_axes = list(axes[picture_rows:].flat)
    kernel_axes[0].text(0.5, 0.5, f"the kernel at\npixel ({row}, {col}),\ncentred on ⌊p/s⌋\n(brighter = more weight)",
                        ha="center", va="center", fontsize=9, transform=kernel_axes[0].transAxes)
    side = max(at.kernel.shape[-1] for at in kernels.values())
    for axis, name in zip(kernel_axes[1:], names):
        axis.set_axis_on()
        _draw_kernel(axis, kernels[name].kernel.mean(axis=0), side=side, fontsize=MIN_FONT_PT)
        axis.set_title(f"{_display_name(view, name)} (k={kernels[name].kernel.shape[-1]})", fontsize=9)
    fig.tight_layout()
    return fig


def machine_gaps(table, other, tasks, arm: str = "bilinear") -> dict:
    """``{task: (largest |gap|, largest |gap| / |other|)}`` between the same seeds of ``arm`` in two
    result tables (trained on different machines), on each task's primary metric. Raises ValueError
    when the tables share no seed of ``arm`` on a task."""
    from ..experiments.tasks import task_spec

    gaps = {}
    for task in tasks:
        metric = task_spec(task).primary_metric
        ours, theirs = table.per_seed(task, arm, metric), other.per_seed(task, arm, metric)
        seeds = sorted(set(ours) & set(theirs))
        if not seeds:
            raise ValueError(f"the two tables share no seed of {task}/{arm}")
        gaps[task] = (max(abs(ours[s] - theirs[s]) for s in seeds),
                      max(abs(ours[s] - theirs[s]) / abs(theirs[s]) for s in seeds))
    return gaps


def successor_contrasts(table, tasks, arms=ARMS, reference: str = "bilinear") -> list:
    """``table.contrast(task, arm, reference)`` on each task's primary metric, for every arm the
    table holds; raises ValueError (from the table) when the reference is missing."""
    return [table.contrast(task, arm, reference) for task in tasks for arm in arms if (task, arm) in table.values]


def kernel_concentration(view: UpsamplingView, name: str, row: int, col: int) -> float:
    """The largest weight of ``name``'s kernel at (row, col): 1/k² for a uniform kernel, 1 for one-hot."""
    return float(np.max(kernel_at(view, name, row, col).kernel.mean(axis=0)))


def box_upsample(y: torch.Tensor, kernel_size: int, scale: int) -> torch.Tensor:
    """Uniform k×k average of the low-res neighbourhood (zeros outside), by PyTorch's convolution."""
    weight = torch.full((y.shape[1], 1, kernel_size, kernel_size), 1.0 / kernel_size**2, dtype=y.dtype)
    averaged = F.conv2d(y, weight, padding=kernel_size // 2, groups=y.shape[1])
    return averaged.repeat_interleave(scale, dim=2).repeat_interleave(scale, dim=3)


def special_case_errors(channels: int = 6, size: int = 6, seed: int = 0) -> dict:
    """Max |error| (float64) of the limiting cases the equations give, each against an
    independent computation (PyTorch's own operators or the definition):

    * ``fade gate closed = reassembly branch``, ``fade gate open = encoder feature``;
    * ``fade without content-encoder weights = uniform 5×5 average``;
    * ``sapa uniform similarity = uniform 5×5 average`` (zero query projection);
    * ``sapa_g gate open = sapa`` (the gated query is the encoder query alone);
    * ``a2u without affinity: downsampling = 6×6 average``, ``upsampling = uniform 3×3 average``;
    * ``a2u without affinity, 2×2 down kernel = average pooling``.
    """
    from ..upsamplers.a2u import A2U
    from ..upsamplers.fade import FADE
    from ..upsamplers.sapa import SAPA

    channels = check_positive_int(channels, "channels")
    size = check_positive_int(size, "size")
    generator = torch.Generator().manual_seed(check_seed(seed, "seed"))
    decoder = torch.randn(2, channels, size, size, generator=generator, dtype=torch.float64)
    encoder = torch.randn(2, channels, 2 * size, 2 * size, generator=generator, dtype=torch.float64)
    errors = {}

    def worst(a, b):
        return float((a - b).abs().max())

    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        fade = FADE(channels).double()
        fade.gate.weight.zero_()
        fade.gate.bias.fill_(-1e4)  # sigmoid(−1e4) is exactly 0 in floating point
        branch = reassemble(decoder, fade.kernels(encoder, decoder), 5, 2)
        errors["fade gate closed = reassembly branch"] = worst(fade(encoder, decoder), branch)
        fade.gate.bias.fill_(1e4)
        errors["fade gate open = encoder feature"] = worst(fade(encoder, decoder), encoder)
        fade.content_encoder.weight.zero_()
        fade.content_encoder.bias.zero_()
        fade.gate.bias.fill_(-1e4)
        errors["fade without content-encoder weights = uniform 5×5 average"] = worst(
            fade(encoder, decoder), box_upsample(decoder, 5, 2))
        sapa = SAPA(channels).double()
        sapa.query.weight.zero_()
        sapa.query.bias.zero_()
        errors["sapa uniform similarity = uniform 5×5 average"] = worst(sapa(encoder, decoder),
                                                                       box_upsample(decoder, 5, 2))
        sapa_b, sapa_g = SAPA(channels).double(), SAPA(channels, similarity="gated").double()
        sapa_g.load_state_dict(sapa_b.state_dict(), strict=False)
        sapa_g.gate.weight.zero_()
        sapa_g.gate.bias.fill_(1e4)
        errors["sapa_g gate open = sapa"] = worst(sapa_g(encoder, decoder), sapa_b(encoder, decoder))
        a2u = A2U(channels).double()
        a2u.u_filter.weight.zero_()
        a2u.u_filter.bias.zero_()
        down_kernels, up_kernels = a2u(encoder)
        errors["a2u without affinity: downsampling = 6×6 average"] = worst(
            a2u.downsample(encoder, down_kernels), F.avg_pool2d(F.pad(encoder, (2, 2, 2, 2)), 6, 2))
        errors["a2u without affinity: upsampling = uniform 3×3 average"] = worst(
            reassemble(decoder, up_kernels, 3, 2), box_upsample(decoder, 3, 2))
        small = A2U(channels, k_down=2).double()
        small.v_filter.weight.zero_()
        small.v_filter.bias.zero_()
        errors["a2u without affinity, 2×2 down kernel = average pooling"] = worst(
            small.downsample(encoder, small(encoder)[0]), F.avg_pool2d(encoder, 2))
    return errors
