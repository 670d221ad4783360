"""SAPA-B / SAPA-G weights in the authors' layout (github.com/poppinace/sapa).

``SAPA.py`` (SAPA-B): ``norm_y`` (encoder), ``norm_x`` (decoder), ``q``, ``k`` — ``nn.Linear``
layers on channels-last features, as ours. ``SAPAExp.py`` with ``q_mode="gate"`` (SAPA-G): ``qy``
(the encoder query), ``qx`` (the decoder query), ``gate``, ``k``.
"""
from __future__ import annotations

from ._keys import rename_prefixes

PREFIXES = {"norm_y": "norm_encoder", "norm_x": "norm_decoder", "q": "query", "qy": "query",
            "qx": "query_decoder", "gate": "gate", "k": "key"}


def convert(module, state_dict) -> dict:
    """The authors' SAPA state dict → ours (:class:`~indexnet_edu.upsamplers.sapa.SAPA`)."""
    return rename_prefixes(state_dict, PREFIXES, "sapa")
