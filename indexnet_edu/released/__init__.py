"""Loading weights saved by the authors' own code into this suite's modules (no downloads).

>>> from indexnet_edu.released import load_released
>>> load_released(FADE(256), torch.load("their_fade.pth"), layout="fade")
>>> load_released(indexnet_matting("m2o", True, True), torch.load("indexnet_matting.pth.tar"),
...               layout="indexnet_matting")

Each layout's converter (one module of this package, one function ``convert(module,
state_dict)``) renames, and where the layouts differ reorders, the authors' state dict into
ours; :func:`load_released` then loads it strictly. Adding a layout is one entry in
:data:`LAYOUTS` (and, optionally, one in :data:`AUTHOR_KEYS` so that a key the checkpoint
lacks is named as the authors name it).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import nn

from . import a2u, dysample, fade, indexnet_matting, sapa

Converter = Callable[[nn.Module, Mapping[str, torch.Tensor]], dict]

#: layout name → converter: ``(our module, their state dict) → our state dict``.
LAYOUTS: dict[str, Converter] = {
    "indexnet_matting": indexnet_matting.convert,  # poppinace/indexnet_matting, hlmobilenetv2
    "dysample": dysample.convert,                  # tiny-smart/dysample, style "lp"
    "fade": fade.convert,                          # poppinace/fade: FADE, FADE-Lite, SemiShiftUp
    "sapa": sapa.convert,                          # poppinace/sapa: SAPA-B, SAPA-G
    "a2u": a2u.convert,                            # dongdong93/a2u_matting: InterChannelUpDown
}

#: layout name → ``(our module, our key) → the authors' key`` (for error messages only).
#: A layout without one names a key its checkpoint lacks by this suite's name.
AUTHOR_KEYS: dict[str, Callable[[nn.Module, str], str]] = {
    "indexnet_matting": indexnet_matting.their_key,
}


def unwrap_checkpoint(checkpoint: Mapping) -> Mapping:
    """The state dict inside a training checkpoint (``{"state_dict": ..., "epoch": ...}``, as the
    IndexNet release ``indexnet_matting.pth.tar`` is saved), or ``checkpoint`` itself."""
    if not isinstance(checkpoint, Mapping):
        raise TypeError(f"state_dict must be a mapping of names to tensors, got {type(checkpoint).__name__}")
    inner = checkpoint.get("state_dict")
    return inner if isinstance(inner, Mapping) else checkpoint


def _converter(module: nn.Module, layout: str) -> Converter:
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    return LAYOUTS[layout]


def convert_released(module: nn.Module, state_dict: Mapping[str, torch.Tensor], *, layout: str) -> dict:
    """The authors' ``state_dict`` renamed into ``module``'s keys (nothing loaded)."""
    return _converter(module, layout)(module, unwrap_checkpoint(state_dict))


def _listed(keys: list, shown: int = 8) -> str:
    return ", ".join(keys[:shown]) + (f" (and {len(keys) - shown} more)" if len(keys) > shown else "")


def _their_names(module: nn.Module, state_dict: Mapping, layout: str) -> dict:
    """our key → the checkpoint's own key, by converting one entry at a time (error path only)."""
    convert, names = LAYOUTS[layout], {}
    for key, value in state_dict.items():
        try:
            names.update(dict.fromkeys(convert(module, {key: value}), key))
        except (ValueError, RuntimeError):
            pass
    return names


def load_released(module: nn.Module, state_dict: Mapping[str, torch.Tensor], *, layout: str) -> nn.Module:
    """Load the authors' ``state_dict`` (their key names and shapes) into ``module``, strictly.

    ``state_dict`` may be a training checkpoint holding it under ``"state_dict"``, and its keys may
    carry ``nn.DataParallel``'s ``module.`` prefix. Returns ``module``.

    Raises:
        TypeError: ``module`` is not an ``nn.Module`` or ``state_dict`` not a mapping.
        ValueError: an unknown ``layout``; a key the layout does not have; keys the checkpoint
            lacks or has in excess for this module; shapes that differ. Keys are named as the
            authors name them, with ours beside where they differ
            (``missing index4.indexnet1.3.weight (ours: index_blocks.4.branches.0.3.weight)``);
            shapes as (checkpoint, module). A layout without an :data:`AUTHOR_KEYS` entry names
            the keys its checkpoint lacks by our names.
    """
    convert = _converter(module, layout)
    state_dict = unwrap_checkpoint(state_dict)
    converted = convert(module, state_dict)
    expected = module.state_dict()
    # BatchNorm's step counter is bookkeeping (older PyTorch and synchronised BatchNorm never saved it)
    for key in set(expected) - set(converted):
        if key.endswith("num_batches_tracked"):
            converted[key] = expected[key]
    missing = sorted(set(expected) - set(converted))
    unexpected = sorted(set(converted) - set(expected))
    wrong = [key for key in expected if key in converted and tuple(converted[key].shape) != tuple(expected[key].shape)]
    if not (missing or unexpected or wrong):
        module.load_state_dict(converted, strict=True)
        return module

    theirs = _their_names(module, state_dict, layout)
    author_key = AUTHOR_KEYS.get(layout)

    def named(key: str, their_key: str) -> str:
        return key if their_key == key else f"{their_key} (ours: {key})"

    parts = []
    if missing:
        parts.append("missing " + _listed(sorted(named(key, author_key(module, key)) if author_key else key
                                                 for key in missing)))
    if unexpected:
        parts.append("unexpected " + _listed(sorted(named(key, theirs.get(key, key)) for key in unexpected)))
    if wrong:
        parts.append("other shapes (built with other channels or hyper-parameters?): " + "; ".join(
            f"{named(key, theirs.get(key, key))}: checkpoint {tuple(converted[key].shape)} "
            f"vs module {tuple(expected[key].shape)}" for key in wrong))
    raise ValueError(f"the {layout!r} checkpoint does not fit this {type(module).__name__}: " + "; ".join(parts))
