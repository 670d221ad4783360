"""indexnet_edu — learn what an index function is by touching one.

The folders are the layers, lower never importing higher: :mod:`.ops` (index maths as pure
functions: indexing, recipes, reassembly and its backends) → :mod:`.upsamplers` (one module per
operator, the registry, a learner's own module as an entry) → :mod:`.data`, :mod:`.models` and
:mod:`.widgets` (the playground's logic) → :mod:`.experiments` (tasks, training, sweeps, results,
statistics, ``compare_upsampler``) and :mod:`.bench` (which also times the widgets) →
:mod:`.gpu_programme` → :mod:`.lessons`. The names below are the library's public face;
everything else is imported by module path.
"""
from .ops.indexing import indexed_pool, indexed_upsample
from .ops.reassembly import carafe, reassemble
from .ops.recipes import average_index, bilinear_kernels, max_index, nearest_index, softmax_index
from .upsamplers.a2u import A2U
from .upsamplers.carafe import CARAFE
from .upsamplers.dysample import DySample
from .upsamplers.fade import FADE
from .upsamplers.index_blocks import DepthwiseIndexBlock, HolisticIndexBlock, SharedDepthwiseIndexBlock, normalise_index
from .upsamplers.registry import (UpsamplerSpec, available_upsamplers, create_upsampler, create_upsamplers,
                                  register_upsampler, upsampler_spec)
from .upsamplers.resamplers import Resampler
from .upsamplers.sapa import SAPA

__version__ = "0.1.0"

# Bring your own upsampler: loaded on first use (they pull in training and the shipped results).
_LAZY = {"compare_upsampler": "experiments.compare", "Comparison": "experiments.compare",
         "check_upsampler": "upsamplers.custom", "UpsamplerContractError": "upsamplers.custom"}


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
