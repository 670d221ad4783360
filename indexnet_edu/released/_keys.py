"""Renaming a state dict key by key: the shared step of every released-weights converter."""
from __future__ import annotations

from collections.abc import Mapping

import torch


def strip_wrapper_prefix(state_dict: Mapping[str, torch.Tensor]) -> dict:
    """Drop a ``module.`` prefix (a checkpoint saved from ``nn.DataParallel``) from every key."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"state_dict must be a mapping of names to tensors, got {type(state_dict).__name__}")
    if state_dict and all(key.startswith("module.") for key in state_dict):
        return {key[len("module."):]: value for key, value in state_dict.items()}
    return dict(state_dict)


def rename_prefixes(state_dict: Mapping[str, torch.Tensor], prefixes: Mapping[str, str], layout: str) -> dict:
    """``{ours: tensor}`` from ``{theirs: tensor}``: each key's longest matching prefix in
    ``prefixes`` (theirs → ours) is replaced. A key no prefix matches raises ValueError naming it
    and the layout, so a checkpoint of another operator is not half-loaded."""
    converted, unknown = {}, []
    ordered = sorted(prefixes.items(), key=lambda item: -len(item[0]))
    for key, value in strip_wrapper_prefix(state_dict).items():
        for theirs, ours in ordered:
            if key == theirs or key.startswith(theirs + "."):
                converted[ours + key[len(theirs):]] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise ValueError(f"keys the {layout!r} layout does not have: {', '.join(sorted(unknown))}; "
                         f"expected names under {', '.join(sorted(prefixes))}")
    return converted
