"""IndexNet matting weights in the authors' layout (github.com/poppinace/indexnet_matting,
``scripts/hlmobilenetv2.py``, ``hlMobileNetV2UNetDecoderIndexLearning`` with ASPP, output stride 32;
the released checkpoint may carry DataParallel's ``module.`` prefix).

Theirs → ours, module by module (the layers themselves are built alike, so the rest of each key
is kept): ``layer0..7`` → ``encoder.0..7``; ``index{0,2,3,4,6}.indexnet`` (holistic) →
``index_blocks.{k}.predictor``; ``index{k}.indexnet{1..4}`` (depthwise) → ``index_blocks.{k}.branches.{0..3}``
(a linear branch is a one-conv ``nn.Sequential`` there, a bare conv here); ``dconv_pp`` (ASPP:
``aspp1..4.atrous_conv``, ``global_avg_pool``, ``bottleneck_conv``) → ``aspp`` (``branches.0..3``,
``image_pool.1``, ``project``); ``decoder_layer{k}.dconv`` → ``decoder.{k}.fuse``; ``pred`` → ``head``.
"""
from __future__ import annotations

import re

from ._keys import strip_wrapper_prefix

_ASPP_BRANCH = {"0": "0", "1": "1", "3": "3.0", "4": "3.1"}  # dw conv, BN, (ReLU6), 1×1 conv, BN


def _ours(key: str, module) -> str | None:
    rules = [
        (r"layer(\d)\.(.*)", lambda m: f"encoder.{m[1]}.{m[2]}"),
        (r"index(\d)\.indexnet\.(.*)", lambda m: f"index_blocks.{m[1]}.predictor.{m[2]}"),
        (r"index(\d)\.indexnet([1-4])\.(\d)\.(.*)", lambda m: _depthwise(m, module)),
        (r"dconv_pp\.aspp1\.atrous_conv\.([01])\.(.*)", lambda m: f"aspp.branches.0.{m[1]}.{m[2]}"),
        (r"dconv_pp\.aspp([234])\.atrous_conv\.([0134])\.(.*)",
         lambda m: f"aspp.branches.{int(m[1]) - 1}.{_ASPP_BRANCH[m[2]]}.{m[3]}"),
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


def _depthwise(match, module) -> str:
    stage, branch, layer, rest = match[1], int(match[2]) - 1, match[3], match[4]
    if getattr(module, "nonlinear", True):
        return f"index_blocks.{stage}.branches.{branch}.{layer}.{rest}"
    return f"index_blocks.{stage}.branches.{branch}.{rest}"  # their one-conv Sequential, our bare conv


def convert(module, state_dict) -> dict:
    """The authors' IndexNet matting state dict → ours (:class:`~indexnet_edu.models.IndexNetMatting`)."""
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
