"""IndexNet matting weights in the authors' layout (github.com/poppinace/indexnet_matting,
``scripts/hlmobilenetv2.py``: ``hlMobileNetV2UNetDecoderIndexLearning`` with ASPP at output
stride 32, as ``scripts/demo.py`` builds the released model; the released
``indexnet_matting.pth.tar`` holds it under ``"state_dict"`` with DataParallel's ``module.``
prefix, both of which :func:`~indexnet_edu.released.load_released` removes).

Theirs → ours, module by module (the layers are built alike, so the rest of each key is kept):

| theirs | ours |
|---|---|
| ``layer0`` (stem conv-BN-ReLU6), ``layer1..7.{block}.conv.*`` | ``encoder.0..7`` |
| ``index{0,2,3,4,6}.indexnet`` (holistic: a bare conv, or conv-BN-ReLU6-conv) | ``index_blocks.{k}.predictor`` |
| ``index{k}.indexnet{1..4}.{layer}`` (depthwise O2O / M2O branches) | ``index_blocks.{k}.branches.{0..3}`` |
| ``dconv_pp.aspp1.atrous_conv`` (1×1) | ``aspp.branches.0`` |
| ``dconv_pp.aspp{2,3,4}.atrous_conv.{0,1 / 3,4}`` (dw 3×3, BN / 1×1, BN) | ``aspp.branches.{1,2,3}.{0,1 / 3.*}`` |
| ``dconv_pp.global_avg_pool.{1,2}`` | ``aspp.image_pool.1.{0,1}`` |
| ``dconv_pp.bottleneck_conv`` | ``aspp.project`` |
| ``decoder_layer{k}.dconv`` | ``decoder.{k}.fuse`` |
| ``pred`` | ``head`` |

A linear depthwise branch is a one-conv ``nn.Sequential`` there (``indexnet1.0.weight``) and a
bare conv here (``branches.0.weight``).
"""
from __future__ import annotations

import re

from ._keys import strip_wrapper_prefix

# their ASPP branch layer → ours: depthwise conv, BN, (ReLU6), 1×1 conv, BN
_ASPP_LAYER = {"0": "0", "1": "1", "3": "3.0", "4": "3.1"}
_ASPP_LAYER_BACK = {ours: theirs for theirs, ours in _ASPP_LAYER.items()}


def _is_nonlinear(module) -> bool:
    return bool(getattr(module, "nonlinear", True))


def _ours(key: str, module) -> str | None:
    """Our key for one of theirs (``None``: a key this layout does not have)."""
    rules = [
        (r"layer(\d)\.(.*)", lambda m: f"encoder.{m[1]}.{m[2]}"),
        (r"index(\d)\.indexnet\.(.*)", lambda m: f"index_blocks.{m[1]}.predictor.{m[2]}"),
        (r"index(\d)\.indexnet([1-4])\.(\d)\.(.*)", lambda m: _depthwise_branch(m, module)),
        (r"dconv_pp\.aspp1\.atrous_conv\.(.*)", lambda m: f"aspp.branches.0.{m[1]}"),
        (r"dconv_pp\.aspp([234])\.atrous_conv\.([0134])\.(.*)",
         lambda m: f"aspp.branches.{int(m[1]) - 1}.{_ASPP_LAYER[m[2]]}.{m[3]}"),
        (r"dconv_pp\.global_avg_pool\.([12])\.(.*)", lambda m: f"aspp.image_pool.1.{int(m[1]) - 1}.{m[2]}"),
        (r"dconv_pp\.bottleneck_conv\.(.*)", lambda m: f"aspp.project.{m[1]}"),
        (r"decoder_layer(\d)\.dconv\.(.*)", lambda m: f"decoder.{m[1]}.fuse.{m[2]}"),
        (r"pred\.(.*)", lambda m: f"head.{m[1]}"),
    ]
    for pattern, target in rules:
        match = re.fullmatch(pattern, key)
        if match:
            return target(match)
    return None


def _depthwise_branch(match, module) -> str:
    stage, branch, layer, rest = match[1], int(match[2]) - 1, match[3], match[4]
    if not _is_nonlinear(module) and layer == "0":
        return f"index_blocks.{stage}.branches.{branch}.{rest}"  # their one-conv Sequential, our bare conv
    return f"index_blocks.{stage}.branches.{branch}.{layer}.{rest}"  # (a nonlinear checkpoint into a linear
    #                                                                   model: reported as unexpected)


def convert(module, state_dict) -> dict:
    """The authors' IndexNet matting state dict → ours (:class:`~indexnet_edu.models.IndexNetMatting`).

    Raises ValueError naming the keys (theirs) that no part of the released model has.
    """
    converted, unknown = {}, []
    for key, value in strip_wrapper_prefix(state_dict).items():
        ours = _ours(key, module)
        if ours is None:
            unknown.append(key)
        else:
            converted[ours] = value
    if unknown:
        raise ValueError(f"keys the 'indexnet_matting' layout does not have: {', '.join(sorted(unknown)[:8])}"
                         + (f" (and {len(unknown) - 8} more)" if len(unknown) > 8 else ""))
    return converted


def their_key(module, ours: str) -> str:
    """The authors' name (without ``module.``) of one of our keys: the inverse of :func:`convert`."""
    parts = ours.split(".")
    head, rest = parts[0], parts[1:]
    if head == "encoder":
        return ".".join([f"layer{rest[0]}"] + rest[1:])
    if head == "index_blocks":
        stage, kind, tail = rest[0], rest[1], rest[2:]
        if kind == "predictor":
            return ".".join([f"index{stage}", "indexnet"] + tail)
        branch, tail = int(tail[0]) + 1, tail[1:]
        if not _is_nonlinear(module):
            tail = ["0"] + tail
        return ".".join([f"index{stage}", f"indexnet{branch}"] + tail)
    if head == "aspp":
        if rest[0] == "branches":
            branch, tail = int(rest[1]), rest[2:]
            if branch == 0:
                return ".".join(["dconv_pp.aspp1.atrous_conv"] + tail)
            nested = ".".join(tail[:2]) if tail[0] == "3" else tail[0]
            inner = tail[2:] if tail[0] == "3" else tail[1:]
            return ".".join([f"dconv_pp.aspp{branch + 1}.atrous_conv", _ASPP_LAYER_BACK.get(nested, nested)] + inner)
        if rest[0] == "image_pool":
            return ".".join(["dconv_pp.global_avg_pool", str(int(rest[2]) + 1)] + rest[3:])
        if rest[0] == "project":
            return ".".join(["dconv_pp.bottleneck_conv"] + rest[1:])
    if head == "decoder":
        return ".".join([f"decoder_layer{rest[0]}", "dconv"] + rest[2:])
    if head == "head":
        return ".".join(["pred"] + rest)
    return ours
