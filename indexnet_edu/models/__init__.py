"""Models built from the registry's resamplers and the index blocks.

* :class:`LightEncoderDecoder` — the small encoder-decoder every comparison uses; only the
  down/up-sampling operator changes with the upsampler name.
* :func:`indexnet_matting` — the full IndexNet matting model (MobileNetV2 encoder, ASPP,
  seven-block index-guided decoder) with the official parameter counts.
"""
from .indexnet_matting import INDEX_KINDS, IndexNetMatting, indexnet_matting, keep_known_pixels
from .light import LightEncoderDecoder

__all__ = ["LightEncoderDecoder", "IndexNetMatting", "indexnet_matting", "keep_known_pixels", "INDEX_KINDS"]
