"""Checks for the exercises of the training lessons (05–07).

Same contract as :mod:`indexnet_edu.lessons.exercises.core`: ``check_…(your_function)`` runs
your function on a few cases and compares it with the package's own answer; it returns True
when everything matches, raises AssertionError with the case and a hint when not, and
returns False after printing "not attempted yet" while your function is still a stub.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .core import _call, _run_check, show


def check_psnr(your_psnr) -> bool:
    """Exercise (05): ``your_psnr(pred, target)`` → 10·log10(1 / MSE) in dB for images in [0, 1]."""
    from ...experiments.metrics import psnr

    def cases():
        generator = torch.Generator().manual_seed(0)
        for noise in (0.01, 0.1, 0.3):
            target = torch.rand(3, 16, 16, generator=generator)
            pred = (target + noise * torch.randn(3, 16, 16, generator=generator)).clamp(0, 1)
            got, expected = float(_call(your_psnr, pred, target, case=f"noise {noise}")), psnr(pred, target)
            if not math.isclose(got, expected, rel_tol=1e-4):
                raise AssertionError(f"for noise {noise}: got {show(got)} dB, expected {show(expected)} dB. "
                                     "Hint: MSE is the mean over *all* elements; PSNR = 10·log10(1² / MSE).")

    return _run_check("check_psnr", cases)


def check_mean_std(your_mean_std) -> bool:
    """Exercise (05): ``your_mean_std(values)`` → (mean, std) as the sweep table reports them
    (the sample standard deviation, dividing by n − 1)."""
    def cases():
        for values in ([1.0, 3.0], [2.0, 2.0, 2.0], [0.5, 1.5, 4.0]):
            mean, std = (float(v) for v in _call(your_mean_std, list(values), case=f"values {values}"))
            expected = float(np.std(values, ddof=1))
            if not (math.isclose(mean, np.mean(values)) and math.isclose(std, expected, abs_tol=1e-12)):
                raise AssertionError(
                    f"for {values}: got ({show(mean)}, {show(std)}), expected ({show(np.mean(values))}, "
                    f"{show(expected)}). Hint: with a handful of seeds the table uses the sample std "
                    "(divide by n − 1, not n).")

    return _run_check("check_mean_std", cases)


def check_composite(your_composite) -> bool:
    """Exercise (06): ``your_composite(alpha, fg, bg)`` → the composited image α·F + (1 − α)·B (B×3×H×W)."""
    def cases():
        generator = torch.Generator().manual_seed(1)
        alpha = torch.rand(2, 1, 8, 8, generator=generator)
        fg, bg = torch.rand(2, 3, 8, 8, generator=generator), torch.rand(2, 3, 8, 8, generator=generator)
        got = torch.as_tensor(_call(your_composite, alpha, fg, bg, case="alpha 2×1×8×8, fg and bg 2×3×8×8"))
        expected = alpha * fg + (1 - alpha) * bg
        if tuple(got.shape) != tuple(expected.shape):
            raise AssertionError(f"shape {tuple(got.shape)}, expected {tuple(expected.shape)}: alpha (B×1×H×W) "
                                 "broadcasts over colour.")
        if not torch.allclose(got, expected, atol=1e-6):
            error = float((got - expected).abs().max())
            raise AssertionError(f"values differ (max |error| = {show(error)}). Hint: I = α·F + (1 − α)·B — "
                                 "alpha weights the foreground.")

    return _run_check("check_composite", cases)


def check_unknown_mask(your_unknown_mask) -> bool:
    """Exercise (06): ``your_unknown_mask(trimap)`` → bool map of the unknown band (trimap == 0.5)."""
    def cases():
        trimap = torch.tensor([[[0.0, 0.5, 1.0], [0.5, 0.5, 0.0]]])
        got = torch.as_tensor(_call(your_unknown_mask, trimap, case="a 1×2×3 trimap")).bool()
        expected = torch.tensor([[[False, True, False], [True, True, False]]])
        if tuple(got.shape) != tuple(expected.shape) or not torch.equal(got, expected):
            raise AssertionError(f"got {got.int().tolist()}, expected {expected.int().tolist()}. Hint: the metrics "
                                 "and the loss only look where the trimap is 0.5 (128 as uint8).")

    return _run_check("check_unknown_mask", cases)


def check_paired_differences(your_differences) -> bool:
    """Exercise (07): ``your_differences(arm, reference)`` → arm − reference per seed.

    Both arguments are dicts {seed: metric value}; the answer is the list of differences over
    the seeds both arms have, in ascending seed order.
    """
    def cases():
        arm = {3: 0.52, 0: 0.50, 1: 0.47, 2: 0.55}
        reference = {0: 0.48, 1: 0.49, 2: 0.50, 3: 0.49, 4: 0.51}
        got = [float(v) for v in _call(your_differences, dict(arm), dict(reference), case="seeds 0–3 vs 0–4")]
        expected = [arm[s] - reference[s] for s in sorted(set(arm) & set(reference))]
        if len(got) != len(expected) or not np.allclose(got, expected):
            raise AssertionError(f"got {[show(v) for v in got]}, expected {[show(v) for v in expected]}. Hint: pair "
                                 "the values by seed (the dicts are not in seed order) and skip seeds only one arm has.")

    return _run_check("check_paired_differences", cases)


def check_majority_baseline(your_baseline) -> bool:
    """Exercise (07): ``your_baseline(masks)`` → every pixel labelled with the most frequent class (B×H×W)."""
    def cases():
        masks = torch.tensor([[[0, 0, 1], [2, 0, 1]], [[1, 1, 1], [0, 1, 2]]])
        got = torch.as_tensor(_call(your_baseline, masks.clone(), case="masks of shape (2, 2, 3)"))
        expected = torch.ones_like(masks)
        if tuple(got.shape) != tuple(masks.shape) or not torch.equal(got.long(), expected):
            raise AssertionError(f"got {got.tolist()}, expected all ones. Hint: count over the whole batch "
                                 "(class 0: 4 pixels, 1: 6, 2: 2) and give every pixel the winner.")

    return _run_check("check_majority_baseline", cases)
