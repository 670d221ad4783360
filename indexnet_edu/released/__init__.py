"""Loading weights saved by the authors' own code into this suite's modules (no downloads).

>>> from indexnet_edu.released import load_released
>>> load_released(FADE(256), torch.load("their_fade.pth"), layout="fade")

Each layout's converter renames (and, where the layouts differ, reorders) the authors' state dict
into ours; :func:`load_released` then loads it strictly. Layouts: :data:`LAYOUTS`.
"""
from __future__ import annotations

import importlib
from collections.abc import Mapping

import torch
from torch import nn

#: layout name → the module (in this package) whose ``convert(module, state_dict)`` reads it.
LAYOUTS = {
    "indexnet_matting": "indexnet_matting",  # poppinace/indexnet_matting, hlmobilenetv2
    "dysample": "dysample",                  # tiny-smart/dysample
    "fade": "fade",                          # poppinace/fade: FADE, FADE-Lite, SemiShiftUp
    "sapa": "sapa",                          # poppinace/sapa: SAPA-B, SAPA-G
    "a2u": "a2u",                            # dongdong93/a2u_matting: InterChannelUpDown
}


def convert_released(module: nn.Module, state_dict: Mapping[str, torch.Tensor], *, layout: str) -> dict:
    """The authors' ``state_dict`` renamed into ``module``'s keys (nothing loaded)."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    converter = importlib.import_module(f".{LAYOUTS[layout]}", __name__)
    return converter.convert(module, state_dict)


def _listed(keys: list, shown: int = 8) -> str:
    return ", ".join(keys[:shown]) + (f" (and {len(keys) - shown} more)" if len(keys) > shown else "")


def load_released(module: nn.Module, state_dict: Mapping[str, torch.Tensor], *, layout: str) -> nn.Module:
    """Load the authors' ``state_dict`` (their key names and shapes) into ``module``, strictly.

    Returns ``module``. Raises TypeError for a non-module or a non-mapping, ValueError for an
    unknown layout, a key the layout does not have, keys ``module`` expects but the checkpoint
    lacks (named as this suite's keys), or a shape mismatch (both shapes named).
    """
    converted = convert_released(module, state_dict, layout=layout)
    expected = module.state_dict()
    # BatchNorm's step counter is bookkeeping (older PyTorch and synchronised BatchNorm never saved it)
    for key in set(expected) - set(converted):
        if key.endswith("num_batches_tracked"):
            converted[key] = expected[key]
    missing = sorted(set(expected) - set(converted))
    unexpected = sorted(set(converted) - set(expected))
    if missing or unexpected:
        parts = [f"missing {_listed(missing)}" if missing else "",
                 f"unexpected {_listed(unexpected)}" if unexpected else ""]
        raise ValueError(f"the {layout!r} checkpoint does not fit this {type(module).__name__}: "
                         + "; ".join(part for part in parts if part))
    wrong = [f"{key}: checkpoint {tuple(converted[key].shape)} vs module {tuple(expected[key].shape)}"
             for key in expected if tuple(converted[key].shape) != tuple(expected[key].shape)]
    if wrong:
        raise ValueError(f"the {layout!r} checkpoint has other shapes than this {type(module).__name__} "
                         f"(built with other channels or hyper-parameters?): {'; '.join(wrong)}")
    module.load_state_dict(converted, strict=True)
    return module
