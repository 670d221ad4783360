"""A2U weights in the authors' layout (github.com/dongdong93/a2u_matting, ``InterChannelUpDown``).

``bconv_UP.1`` / ``bconv_DP.1`` (the upsampling / downsampling mixing weights after global
pooling), ``bconv_U.1`` / ``bconv_V.1`` (the per-image filters after adaptive pooling; index 0 of
each ``nn.Sequential`` is the parameter-free pooling), ``bnu.0`` / ``bnv.0`` (the GroupNorms).
"""
from __future__ import annotations

from ._keys import rename_prefixes

PREFIXES = {"bconv_UP.1": "up_weights", "bconv_DP.1": "down_weights", "bconv_U.1": "u_filter",
            "bconv_V.1": "v_filter", "bnu.0": "u_norm", "bnv.0": "v_norm"}


def convert(module, state_dict) -> dict:
    """The authors' A2U state dict → ours (:class:`~indexnet_edu.upsamplers.a2u.A2U`)."""
    return rename_prefixes(state_dict, PREFIXES, "a2u")
