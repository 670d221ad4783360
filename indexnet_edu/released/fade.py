"""FADE / FADE-Lite / SemiShiftUp weights in the authors' layout (github.com/poppinace/fade).

Two layouts are read: ``pytorch_implementation/FADE_L2H.py`` (``gate_generator.conv``,
``ker_generator.{compressor_en, compressor_de, content_encoder}``; FADE-Lite has the same keys)
and the mmcv-based ``FADE_H2L.py`` (``kernel_generator.{conv1_en, conv1_de}`` and the bare
parameters ``conv2_kernels``, ``conv2_bias`` of the shared content encoder).
"""
from __future__ import annotations

from ._keys import rename_prefixes

PREFIXES = {
    "gate_generator.conv": "gate",
    "ker_generator.compressor_en": "compress_encoder",
    "ker_generator.compressor_de": "compress_decoder",
    "ker_generator.content_encoder": "content_encoder",
    "kernel_generator.conv1_en": "compress_encoder",
    "kernel_generator.conv1_de": "compress_decoder",
    "kernel_generator.conv2_kernels": "content_encoder.weight",
    "kernel_generator.conv2_bias": "content_encoder.bias",
}


def convert(module, state_dict) -> dict:
    """The authors' FADE state dict → ours (:class:`~indexnet_edu.upsamplers.fade.FADE`)."""
    return rename_prefixes(state_dict, PREFIXES, "fade")
