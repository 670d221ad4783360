"""Every upsampler the suite compares, built by name, so a comparison is a loop over names.

>>> from indexnet_edu import available_upsamplers, create_upsampler
>>> pair = create_upsampler("din_m2o_nl_ctx", channels=32)
>>> pooled, state = pair.down(x); restored = pair.up(pooled, state)

Index-network names: ``hin``, ``din_o2o``, ``din_m2o`` with optional suffixes ``_nl``
(nonlinear) and ``_ctx`` (context), plus the shared O2O families ``din_o2o_modelwise``
(one index function for every channel of every stage — build a whole model's stages with
:func:`create_upsamplers` to share it) and ``din_o2o_stagewise_shared`` (one per stage).
Plain ``din_o2o`` is the stagewise-unshared family.

The successors, each as its authors released it: ``a2u`` (Dai et al., CVPR 2021), ``fade`` /
``fade_lite`` / ``fade_nogate`` (Lu et al., ECCV 2022: FADE, FADE-Lite, and FADE's kernels without
its gate, the authors' ``SemiShiftUp``), ``sapa`` / ``sapa_g`` / ``sapa_inner`` (Lu et al.,
NeurIPS 2022: SAPA-B, SAPA-G and SAPA-I).
"""
from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Iterator, Sequence

from torch import nn

from .._checks import check_choice, check_positive_int
from .index_blocks import DepthwiseIndexBlock, HolisticIndexBlock, SharedDepthwiseIndexBlock
from .resamplers import (A2UResampler, DeconvResampler, IndexResampler, InterpolationResampler,
                         MaxUnpoolResampler, PixelShuffleResampler, Resampler, carafe_resampler,
                         dysample_resampler, fade_resampler, sapa_resampler)


@dataclass(frozen=True)
class UpsamplerSpec:
    """A registry entry.

    ``kernel_source`` says where the upsampling weights come from: "fixed" (no content),
    "decoder" (predicted from the low-resolution feature being upsampled), "encoder"
    (predicted from the high-resolution encoder feature), "encoder+decoder" (predicted from
    both, FADE and SAPA) or "learned" (content-independent learned weights).

    ``share`` says what one shared module (``make_shared(stride)``) serves: None (nothing is
    shared), "stage" (the channels of one stage) or "model" (every stage of a model built with
    :func:`create_upsamplers`). ``options`` are the operator's settings, read-only; an index
    network's name its index function (``index``: "holistic", "o2o", "m2o" or "maxpool"),
    ``nonlinear`` and ``context`` — what the full IndexNet model is built from.
    """

    name: str
    build: Callable[..., Resampler]
    description: str
    kernel_source: str
    make_shared: Callable[..., nn.Module] | None = None
    share: str | None = None
    options: Mapping = field(default_factory=lambda: MappingProxyType({}))


_REGISTRY: dict[str, UpsamplerSpec] = {}


KERNEL_SOURCES = ("fixed", "decoder", "encoder", "learned", "encoder+decoder")
SHARES = ("stage", "model")


def register_upsampler(name: str, build: Callable[..., Resampler], description: str, kernel_source: str,
                       make_shared: Callable[..., nn.Module] | None = None, share: str | None = None,
                       options: Mapping | None = None) -> None:
    """Add an upsampler; ``build(channels, stride, shared=None, **kwargs)`` returns a Resampler.

    Raises TypeError for a non-str name, a non-callable ``build``/``make_shared`` or ``options``
    that are not a mapping; ValueError for a name already taken, a ``kernel_source`` outside
    :data:`KERNEL_SOURCES`, a ``share`` outside :data:`SHARES`, or ``share`` and ``make_shared``
    given one without the other.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"upsampler name must be a non-empty str, got {name!r}")
    if not callable(build) or (make_shared is not None and not callable(make_shared)):
        raise TypeError("build (and make_shared, if given) must be callable")
    check_choice(kernel_source, "kernel_source", KERNEL_SOURCES)
    if share is not None:
        check_choice(share, "share", SHARES)
    if (share is None) != (make_shared is None):
        raise ValueError(f"share and make_shared go together: got share={share!r}, make_shared={make_shared!r}")
    if options is not None and not isinstance(options, Mapping):
        raise TypeError(f"options must be a mapping of setting names to values, got {type(options).__name__}")
    if name in _REGISTRY:
        raise ValueError(f"upsampler {name!r} is already registered")
    _REGISTRY[name] = UpsamplerSpec(name, build, description, kernel_source, make_shared, share,
                                    MappingProxyType(dict(options or {})))


@contextlib.contextmanager
def registered_upsampler(name: str, build: Callable[..., Resampler], description: str,
                         kernel_source: str) -> Iterator[UpsamplerSpec]:
    """Register an upsampler for the duration of a ``with`` block, then remove it again.

    The registry is global: a call such as :func:`~indexnet_edu.experiments.compare.compare_upsampler`
    trains a learner's module under its own name without leaving that name behind. Raises what
    :func:`register_upsampler` raises (a name already taken included).
    """
    register_upsampler(name, build, description, kernel_source)
    try:
        yield _REGISTRY[name]
    finally:
        _REGISTRY.pop(name, None)


def available_upsamplers() -> list[str]:
    """All registered names, in registration order."""
    return list(_REGISTRY)


def upsampler_spec(name: str) -> UpsamplerSpec:
    """The registry entry for ``name``; unknown names list the known ones."""
    if not isinstance(name, str):
        raise TypeError(f"upsampler name must be a str, got {type(name).__name__}")
    if name not in _REGISTRY:
        raise ValueError(f"unknown upsampler {name!r}; expected one of {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def create_upsampler(name: str, channels: int, stride: int = 2, **kwargs) -> Resampler:
    """Build one stage's resampler (``down``/``up`` pair) for ``channels`` channels."""
    spec = upsampler_spec(name)
    channels = check_positive_int(channels, "channels")
    stride = check_positive_int(stride, "stride")
    shared = spec.make_shared(stride, **kwargs) if spec.make_shared else None
    return spec.build(channels, stride, shared=shared, **kwargs)


def create_upsamplers(name: str, channels: Sequence[int], stride: int = 2, **kwargs) -> nn.ModuleList:
    """Build the resamplers of every stage of a model; modelwise families share one index function."""
    spec = upsampler_spec(name)
    if isinstance(channels, (str, bytes)) or not isinstance(channels, Sequence) or not channels:
        raise TypeError(f"channels must be a non-empty sequence of ints (one per stage), got {channels!r}")
    stride = check_positive_int(stride, "stride")
    shared = spec.make_shared(stride, **kwargs) if spec.share == "model" else None
    stages = []
    for width in channels:
        width = check_positive_int(width, "channels[i]")
        stage_shared = shared
        if spec.make_shared and stage_shared is None:
            stage_shared = spec.make_shared(stride, **kwargs)
        stages.append(spec.build(width, stride, shared=stage_shared, **kwargs))
    return nn.ModuleList(stages)


def _plain(cls, **fixed):
    def build(channels, stride, shared=None, **kwargs):
        return cls(channels, stride, **fixed, **kwargs)
    return build


register_upsampler("nearest", _plain(InterpolationResampler, mode="nearest"),
                   "nearest-neighbour copy (IU with I ≡ 1)", "fixed")
register_upsampler("bilinear", _plain(InterpolationResampler, mode="bilinear"),
                   "bilinear interpolation (fixed 3×3 reassembly)", "fixed")
register_upsampler("deconv", _plain(DeconvResampler),
                   "transposed convolution, kernel 2s", "learned")
register_upsampler("pixel_shuffle", _plain(PixelShuffleResampler),
                   "3×3 conv to C·s² then pixel shuffle (one-hot channel index)", "learned")
register_upsampler("max_unpool", _plain(MaxUnpoolResampler),
                   "max pooling / max unpooling (one-hot argmax index)", "encoder",
                   options={"index": "maxpool", "nonlinear": False, "context": False})
register_upsampler("carafe", _plain(carafe_resampler),
                   "CARAFE: softmax 5×5 kernels predicted from the decoder feature", "decoder")
register_upsampler("dysample", _plain(dysample_resampler),
                   "DySample: learned point sampling with grid_sample", "decoder")


def _index_build(kind: str, mode: str | None, nonlinear: bool, context: bool):
    def build(channels, stride, shared=None, **kwargs):
        if kind == "hin":
            block = HolisticIndexBlock(channels, stride, nonlinear, context, **kwargs)
        else:
            block = DepthwiseIndexBlock(channels, stride, mode, nonlinear, context, **kwargs)
        return IndexResampler(channels, stride, block)
    return build


_VARIANTS = {"": (False, False), "_nl": (True, False), "_ctx": (False, True), "_nl_ctx": (True, True)}
_FAMILIES = {"hin": ("hin", None, "holistic", "holistic index network (one index map for all channels)"),
             "din_o2o": ("din", "o2o", "o2o", "depthwise one-to-one index network (stagewise-unshared)"),
             "din_m2o": ("din", "m2o", "m2o", "depthwise many-to-one index network")}

for _family, (_kind, _mode, _index, _text) in _FAMILIES.items():
    for _suffix, (_nl, _ctx) in _VARIANTS.items():
        _extra = ", ".join(word for word, on in (("nonlinear", _nl), ("context", _ctx)) if on)
        register_upsampler(_family + _suffix, _index_build(_kind, _mode, _nl, _ctx),
                           _text + (f", {_extra}" if _extra else ""), "encoder",
                           options={"index": _index, "nonlinear": _nl, "context": _ctx})


def _shared_build(channels, stride, shared=None, **kwargs):
    if shared is None:
        shared = SharedDepthwiseIndexBlock(stride, **kwargs)
    return IndexResampler(channels, stride, shared)


register_upsampler("din_o2o_stagewise_shared", _shared_build,
                   "O2O index function shared by the channels of one stage", "encoder",
                   make_shared=SharedDepthwiseIndexBlock, share="stage")
register_upsampler("din_o2o_modelwise", _shared_build,
                   "O2O index function shared by every channel of every stage", "encoder",
                   make_shared=SharedDepthwiseIndexBlock, share="model")


# The successors: IndexNet's encoder-side guidance and CARAFE's content-aware kernels in one
# operator each (see a2u.py, fade.py, sapa.py for the equations and the authors' code followed).
register_upsampler("a2u", _plain(A2UResampler),
                   "A2U: second-order (affinity) kernels from the encoder feature, 6×6 downsampling and 3×3 reassembly",
                   "encoder")
register_upsampler("fade", _plain(fade_resampler),
                   "FADE: semi-shift kernels from encoder+decoder, 5×5 reassembly, gate to the encoder feature",
                   "encoder+decoder")
register_upsampler("fade_lite", _plain(fade_resampler, lite=True),
                   "FADE-Lite: FADE with k²-channel compressors and a depthwise semi-shift encoder",
                   "encoder+decoder")
register_upsampler("fade_nogate", _plain(fade_resampler, gate=False),
                   "FADE without its gate: the reassembly branch alone", "encoder+decoder")
register_upsampler("sapa", _plain(sapa_resampler),
                   "SAPA-B: 5×5 kernels = softmax of bilinear encoder–decoder similarity", "encoder+decoder")
register_upsampler("sapa_g", _plain(sapa_resampler, similarity="gated"),
                   "SAPA-G: 5×5 kernels = softmax of gated bilinear similarity (query mixes encoder and decoder)",
                   "encoder+decoder")
register_upsampler("sapa_inner", _plain(sapa_resampler, similarity="inner"),
                   "SAPA-I: 5×5 kernels = softmax of inner-product encoder–decoder similarity", "encoder+decoder")
