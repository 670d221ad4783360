"""indexnet_edu — learn what an index function is by touching one.

Layers (lower never imports higher): index maths (:mod:`indexing`, :mod:`recipes`,
:mod:`reassembly`) → building blocks (:mod:`index_blocks`, :mod:`carafe_module`,
:mod:`dysample`, :mod:`a2u`, :mod:`fade`, :mod:`sapa`, :mod:`resamplers`) → the upsampler
:mod:`registry`.
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

__all__ = [
    "A2U", "CARAFE", "DySample", "FADE", "SAPA", "DepthwiseIndexBlock", "HolisticIndexBlock", "Resampler",
    "SharedDepthwiseIndexBlock", "UpsamplerSpec", "available_upsamplers", "average_index",
    "bilinear_kernels", "carafe", "create_upsampler", "create_upsamplers", "indexed_pool",
    "indexed_upsample", "max_index", "nearest_index", "normalise_index", "reassemble",
    "register_upsampler", "softmax_index", "upsampler_spec",
]
