"""Checks for the exercises of the training lessons (05–07).

Each ``check_...(your_function)`` runs your function on a few cases, compares it with the
package's own answer, and raises AssertionError with a hint when they differ. It returns
True when everything matches.
"""
from __future__ import annotations

import math

import numpy as np
import torch


def _fail(message: str):
    raise AssertionError(message)


def check_psnr(your_psnr) -> bool:
    """Exercise (05): ``your_psnr(pred, target)`` → 10·log10(1 / MSE) in dB for images in [0, 1]."""
    from .metrics import psnr

    generator = torch.Generator().manual_seed(0)
    for noise in (0.01, 0.1, 0.3):
        target = torch.rand(3, 16, 16, generator=generator)
        pred = (target + noise * torch.randn(3, 16, 16, generator=generator)).clamp(0, 1)
        got, expected = float(your_psnr(pred, target)), psnr(pred, target)
        if not math.isclose(got, expected, rel_tol=1e-4):
            _fail(f"for noise {noise}: got {got:.4f} dB, expected {expected:.4f} dB. "
                  "Hint: MSE is the mean over *all* elements; PSNR = 10·log10(1² / MSE).")
    return True


def check_mean_std(your_mean_std) -> bool:
    """Exercise (05): ``your_mean_std(values)`` → (mean, std) as the sweep table reports them."""
    for values in ([1.0, 3.0], [2.0, 2.0, 2.0], [0.5, 1.5, 4.0]):
        mean, std = (float(v) for v in your_mean_std(list(values)))
        if not (math.isclose(mean, np.mean(values)) and math.isclose(std, np.std(values), abs_tol=1e-12)):
            _fail(f"for {values}: got ({mean:.4g}, {std:.4g}), expected ({np.mean(values):.4g}, "
                  f"{np.std(values):.4g}). Hint: the table uses the population std (divide by n, not n-1).")
    return True


def check_composite(your_composite) -> bool:
    """Exercise (06): ``your_composite(alpha, fg, bg)`` → the composited image (B×3×H×W)."""
    generator = torch.Generator().manual_seed(1)
    alpha = torch.rand(2, 1, 8, 8, generator=generator)
    fg, bg = torch.rand(2, 3, 8, 8, generator=generator), torch.rand(2, 3, 8, 8, generator=generator)
    got = your_composite(alpha, fg, bg)
    expected = alpha * fg + (1 - alpha) * bg
    if tuple(got.shape) != tuple(expected.shape):
        _fail(f"shape {tuple(got.shape)}, expected {tuple(expected.shape)}: alpha (B×1×H×W) broadcasts over colour.")
    if not torch.allclose(got, expected, atol=1e-6):
        _fail("values differ. Hint: I = α·F + (1 − α)·B — alpha weights the foreground.")
    return True


def check_unknown_mask(your_unknown_mask) -> bool:
    """Exercise (06): ``your_unknown_mask(trimap)`` → bool map of the unknown band (trimap == 0.5)."""
    trimap = torch.tensor([[[0.0, 0.5, 1.0], [0.5, 0.5, 0.0]]])
    got = torch.as_tensor(your_unknown_mask(trimap)).bool()
    expected = torch.tensor([[[False, True, False], [True, True, False]]])
    if tuple(got.shape) != tuple(expected.shape) or not torch.equal(got, expected):
        _fail(f"got {got.int().tolist()}, expected {expected.int().tolist()}. Hint: the metrics and the loss only "
              "look where the trimap is 0.5 (128 as uint8).")
    return True


def check_ranking(your_ranking) -> bool:
    """Exercise (07): ``your_ranking(means, higher_is_better)`` → names sorted best first."""
    means = {"bilinear": 0.3, "carafe": 0.5, "hin": 0.1}
    for higher, expected in ((True, ["carafe", "bilinear", "hin"]), (False, ["hin", "bilinear", "carafe"])):
        got = list(your_ranking(dict(means), higher))
        if got != expected:
            _fail(f"higher_is_better={higher}: got {got}, expected {expected}. Hint: SAD is an error (lower is "
                  "better), mIoU a score (higher is better).")
    return True


def check_majority_baseline(your_baseline) -> bool:
    """Exercise (07): ``your_baseline(masks)`` → every pixel labelled with the most frequent class (B×H×W)."""
    masks = torch.tensor([[[0, 0, 1], [2, 0, 1]], [[1, 1, 1], [0, 1, 2]]])
    got = torch.as_tensor(your_baseline(masks))
    expected = torch.ones_like(masks)
    if tuple(got.shape) != tuple(masks.shape) or not torch.equal(got.long(), expected):
        _fail(f"got {got.tolist()}, expected all ones. Hint: count over the whole batch "
              "(class 0: 4 pixels, 1: 6, 2: 2) and give every pixel the winner.")
    return True
