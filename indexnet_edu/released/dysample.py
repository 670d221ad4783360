"""DySample weights in the authors' layout (github.com/tiny-smart/dysample, ``dysample.py``,
``style="lp"`` without ``dyscope`` — the linear-projection, static-scope variant this suite builds).

Their state dict holds ``offset.weight`` / ``offset.bias`` (a 1×1 conv, C → 2·G·s²) and the buffer
``init_pos`` (the sub-pixel base offsets, a constant of (s, G) that our module computes itself).

Channel order. Theirs reads the conv's output as ``view(B, 2, G·s², H, W)`` and pixel-shuffles the
last factor, so channel = ``coordinate·G·s² + group·s² + i·s + j`` (coordinate 0 = x, the column;
(i, j) = the sub-pixel's row and column). Ours rearranges ``"b (g two i j) h w"``, channel =
``group·2·s² + coordinate·s² + i·s + j``. The converter moves the conv's output channels (weight
rows and bias) from theirs to ours: ``(two, g, s²) → (g, two, s²)``.
"""
from __future__ import annotations

import torch

from ._keys import strip_wrapper_prefix

KEYS = ("offset.weight", "offset.bias", "init_pos")


def coordinate_major_to_group_major(value: torch.Tensor, groups: int, scale: int) -> torch.Tensor:
    """Reorder dim 0 of ``value`` (2·G·s² output channels) from (coordinate, group, sub-pixel)
    to (group, coordinate, sub-pixel)."""
    rest = value.shape[1:]
    return value.reshape(2, groups, scale**2, *rest).transpose(0, 1).reshape(value.shape)


def convert(module, state_dict) -> dict:
    """The authors' DySample state dict → ours (:class:`~indexnet_edu.upsamplers.dysample.DySample`).

    Raises ValueError for the variants not built here (``dyscope=True``'s ``scope`` conv; the
    ``"pl"`` style, whose offset conv has 2·G outputs) and for keys DySample does not have.
    """
    state = strip_wrapper_prefix(state_dict)
    groups, scale = module.groups, module.scale
    if any(key.startswith("scope.") for key in state):
        raise ValueError("keys the 'dysample' layout does not have: scope.weight, scope.bias — the dynamic-scope "
                         "variant (dyscope=True) is not built here; our DySample has the static scope 0.25")
    unknown = sorted(set(state) - set(KEYS))
    if unknown:
        raise ValueError(f"keys the 'dysample' layout does not have: {', '.join(unknown)}; expected {', '.join(KEYS)}")
    converted = {}
    for key, value in state.items():
        if key == "init_pos":  # a constant of (s, G): only checked, recomputed by our module
            if value.numel() != 2 * groups * scale**2:
                raise ValueError(f"init_pos has {value.numel()} entries, DySample(scale={scale}, groups={groups}) "
                                 f"has 2·G·s² = {2 * groups * scale**2}: a checkpoint of another scale or groups")
            continue
        if value.shape[0] == 2 * groups * scale**2:
            value = coordinate_major_to_group_major(value, groups, scale)
        elif value.shape[0] == 2 * groups and scale > 1:
            raise ValueError(f"{key} has 2·G = {value.shape[0]} output channels: the 'pl' style (pixel-shuffle "
                             "first), not built here; ours is 'lp' (2·G·s² outputs)")
        converted[key] = value  # other shapes: reported by load_released against the module
    return converted
