"""DySample weights in the authors' layout (github.com/tiny-smart/dysample, ``dysample.py``,
``style="lp"`` without ``dyscope`` — the static-scope linear-projection variant this suite builds).

Their state dict holds ``offset.weight`` / ``offset.bias`` (a 1×1 conv, C → 2·G·s²) and the buffer
``init_pos`` (the sub-pixel base positions, a constant our module computes). Their offset channels
are ordered (coordinate, group, sub-pixel) — ``view(B, 2, G·s², H, W)`` — ours (group, coordinate,
sub-pixel); the converter permutes the conv's output channels accordingly.
"""
from __future__ import annotations

import torch

from ._keys import rename_prefixes


def convert(module, state_dict) -> dict:
    """The authors' DySample state dict → ours (:class:`~indexnet_edu.dysample.DySample`)."""
    state = rename_prefixes(state_dict, {"offset": "offset", "init_pos": "init_pos"}, "dysample")
    state.pop("init_pos", None)  # a constant of (s, G), recomputed by our module
    groups, scale = module.groups, module.scale
    converted = {}
    for key, value in state.items():
        if key.startswith("offset.") and value.shape[0] == 2 * groups * scale**2:
            rest = value.shape[1:]
            value = value.reshape(2, groups, scale**2, *rest).transpose(0, 1).reshape(value.shape)
        converted[key] = value
    return converted
