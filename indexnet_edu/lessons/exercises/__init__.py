"""The lessons' exercises: one check per exercise, the registry, and the answers on request.

A lesson ships every exercise as a stub (``raise NotImplementedError``); its check says "not
attempted yet" until you write the function, then compares it with the package's own answer
(the contract is in :mod:`.core`). Stuck? ``show_solution("softmax_pool")`` prints one worked
answer from :mod:`.solutions`.

>>> from indexnet_edu.lessons import exercises
>>> exercises.check_average_index(my_average_index)   # doctest: +SKIP
>>> exercises.show_solution("average_index")           # doctest: +SKIP
"""
from __future__ import annotations

import inspect
from typing import Callable

from . import solutions
from .capstone import check_gated_bilinear
from .core import NotAttempted
from .cost import check_naive_values, check_offset_loop, check_reassembly_flops
from .fusion import check_a2u_kernel_cap, check_sapa_inner_kernels
from .foundations import (check_average_index, check_encoder_index_bounds, check_index_block_parameter_count,
                          check_index_normalisation, check_max_unpool, check_min_pool_index,
                          check_nearest_as_reassembly, check_softmax_pool)
from .playground import (check_deconv_overlap, check_pixel_shuffle_by_index, check_temperature_for_weight,
                         check_window_max_gate)
from .training import (check_composite, check_majority_baseline, check_mean_std, check_paired_differences, check_psnr,
                       check_unknown_mask)

EXERCISES: dict[str, list[str]] = {
    "00_start_here": ["check_average_index"],
    "01_upsampling_is_indexing": ["check_min_pool_index", "check_nearest_as_reassembly", "check_softmax_pool",
                                  "check_max_unpool"],
    "02_index_playground": ["check_window_max_gate", "check_temperature_for_weight"],
    "03_index_networks": ["check_index_block_parameter_count", "check_index_normalisation",
                          "check_encoder_index_bounds"],
    "04_indexnet_vs_carafe": ["check_pixel_shuffle_by_index", "check_deconv_overlap"],
    "05_delivering_spatial_information": ["check_psnr", "check_mean_std"],
    "06_deep_image_matting": ["check_composite", "check_unknown_mask"],
    "07_regions_vs_details": ["check_paired_differences", "check_majority_baseline"],
    "08_cost_of_upsampling": ["check_naive_values", "check_reassembly_flops", "check_offset_loop"],
    "09_fusing_encoder_and_decoder": ["check_sapa_inner_kernels", "check_a2u_kernel_cap"],
    "10_bring_your_own_upsampler": ["check_gated_bilinear"],
}
"""Lesson notebook → the checks its exercises use, in the order the lesson asks them."""

CHECKS: dict[str, Callable] = {name: globals()[name] for names in EXERCISES.values() for name in names}
"""Every check by name."""


def solution(name: str) -> Callable:
    """The worked answer for the exercise ``name`` (``"psnr"`` or ``"check_psnr"``).

    Raises ValueError naming the known exercises when ``name`` is not one of them.
    """
    if not isinstance(name, str):
        raise TypeError(f"expected the exercise's name as a str (e.g. 'psnr'), got {type(name).__name__}")
    key = name.removeprefix("check_")
    if f"check_{key}" not in CHECKS:
        known = ", ".join(sorted(check.removeprefix("check_") for check in CHECKS))
        raise ValueError(f"no exercise called {name!r}; the exercises are: {known}")
    return getattr(solutions, key)


def show_solution(name: str) -> None:
    """Print the source of one worked answer (see :func:`solution`); it passes its check."""
    print(inspect.getsource(solution(name)))


__all__ = ["CHECKS", "EXERCISES", "NotAttempted", "show_solution", "solution", *CHECKS]
