"""indexnet_edu — learn what an index function is by touching one.

Layers (lower never imports higher): index maths (:mod:`indexing`, :mod:`recipes`,
:mod:`reassembly`) → building blocks (:mod:`index_blocks`, :mod:`carafe_module`,
:mod:`dysample`, :mod:`a2u`, :mod:`fade`, :mod:`sapa`, :mod:`resamplers`) → the upsampler
:mod:`registry` (and :mod:`custom_upsampler`, a learner's module as a registry entry) → data,
models, training, sweeps → :mod:`compare` (``compare_upsampler``: a learner's upsampler
against the shipped arms).
"""
from .a2u import A2U
from .carafe_module import CARAFE
from .dysample import DySample
from .fade import FADE
from .index_blocks import DepthwiseIndexBlock, HolisticIndexBlock, SharedDepthwiseIndexBlock, normalise_index
from .indexing import indexed_pool, indexed_upsample
from .reassembly import carafe, reassemble
from .recipes import average_index, bilinear_kernels, max_index, nearest_index, softmax_index
from .registry import (UpsamplerSpec, available_upsamplers, create_upsampler, create_upsamplers,
                       register_upsampler, upsampler_spec)
from .resamplers import Resampler
from .sapa import SAPA

__version__ = "0.1.0"

# Bring your own upsampler: loaded on first use (they pull in training and the shipped results).
_LAZY = {"compare_upsampler": "compare", "Comparison": "compare", "check_upsampler": "custom_upsampler",
         "UpsamplerContractError": "custom_upsampler"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "A2U", "CARAFE", "Comparison", "DySample", "FADE", "SAPA", "DepthwiseIndexBlock", "HolisticIndexBlock",
    "Resampler", "UpsamplerContractError", "check_upsampler", "compare_upsampler",
    "SharedDepthwiseIndexBlock", "UpsamplerSpec", "available_upsamplers", "average_index",
    "bilinear_kernels", "carafe", "create_upsampler", "create_upsamplers", "indexed_pool",
    "indexed_upsample", "max_index", "nearest_index", "normalise_index", "reassemble",
    "register_upsampler", "softmax_index", "upsampler_spec",
]
