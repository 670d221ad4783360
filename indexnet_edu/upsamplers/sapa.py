"""SAPA: similarity-aware point affiliation (Lu, Liu, Ye, Fu, Cao, NeurIPS 2022, arXiv 2209.12866).

Each high-resolution point p takes a kernel over the k×k low-resolution decoder neighbours q of
⌊p/s⌋, weighted by how similar the *encoder* feature at p is to each *decoder* neighbour:

    K_p(q)   = exp sim(p, q) / Σ_{q' ∈ N_k(⌊p/s⌋)} exp sim(p, q')      (softmax over k²)
    out(c,p) = Σ_{q ∈ N_k(⌊p/s⌋)} K_p(q) · D(c, q)                     (= :func:`reassemble`)

E is the encoder feature B×C×H×W (H = s·h), D the decoder feature B×C×h×w; both are first
layer-normalised over channels at every pixel (LN with affine weights), and the value reassembled
is the raw D. As the authors' released code (github.com/poppinace/sapa, ``SAPA.py`` and, for the
gated form, ``SAPAExp.py`` with ``q_mode="gate"``), with query/key projections that have biases:

* ``sapa`` — SAPA-B, bilinear: ``sim = (W_q LN(E_p) + b_q)ᵀ (W_k LN(D_q) + b_k)`` into d_e channels;
* ``sapa_g`` — SAPA-G, gated bilinear: the query mixes the encoder and the (raw, nearest-upsampled)
  decoder feature, ``q_p = g_p·(W_y LN(E_p) + b_y) + (1 − g_p)·(W_x D_⌊p/s⌋ + b_x)`` with the gate
  ``g = NN↑ sigmoid(w_g·LN(D) + b_g)``; the key as SAPA-B;
* ``sapa_inner`` — SAPA-I, inner product ``sim = LN(E_p)ᵀ LN(D_q)`` (the paper's parameter-free
  form, needs equal C; the released code has no switch for it).

Out-of-range neighbours follow the authors' CUDA kernels: their similarity is 0 (they stay in the
softmax) and they contribute a zero feature — CARAFE's "zeros" semantics, so the output is exactly
``reassemble(D, K, k)``. Initialisation as theirs: truncated normal (std 0.02) projections, zero biases.

Parameters (C channels, d_e embedding): SAPA-I ``4C``; SAPA-B ``4C + 2(C·d_e + d_e)``; SAPA-G
``4C + 3(C·d_e + d_e) + C + 1``. With d_e = 32 (what the authors' published parameter counts
imply): SAPA-B 17,472 at C = 256, six such in a SegFormer-B1 head 104,832 (their README: +0.1M),
their matting decoder (C = 256, 128, 64, 64) 35,072 (+0.04M).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from .._checks import check_choice, check_guide, check_odd_kernel, check_positive_int
from .fade import nearest_up
from ..ops.graph_capture import NotScriptable
from ..ops.reassembly import reassemble

SIMILARITIES = ("bilinear", "gated", "inner")


def channel_layer_norm(x: torch.Tensor, norm: nn.LayerNorm) -> torch.Tensor:
    """Layer norm over the channels of every pixel of a B×C×H×W map."""
    return norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def channel_linear(x: torch.Tensor, linear: nn.Linear) -> torch.Tensor:
    """A linear map of every pixel's channels: B×C×H×W → B×C'×H×W."""
    return linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


NEIGHBOUR_METHODS = ("unfold", "shift")


def neighbour_similarity(queries: torch.Tensor, keys: torch.Tensor, kernel_size: int,
                         method: str = "unfold") -> torch.Tensor:
    """``sim[b, dy·k+dx, p] = Σ_c queries[b, c, p] · keys[b, c, ⌊p/s⌋ + (dy − r, dx − r)]``.

    queries: B×d×(s·h)×(s·w); keys: B×d×h×w (zero outside the map). Returns B×k²×(s·h)×(s·w) in
    the reassembly kernels' channel order. ``method="unfold"`` gathers the k² neighbours once
    (im2col; autograd keeps the B×d×k²×h×w windows); ``"shift"`` loops over the k² offsets and
    keeps only views (for 2×32×64×64 queries, k = 5: 1.3 vs 7.3 MiB saved for the backward), and
    is several times faster for few channels on large maps (the widgets use it). The two agree to
    float round-off, not bit for bit, so training keeps "unfold", which made the shipped results.
    """
    batch, channels, height, width = keys.shape
    scale = queries.shape[-2] // height
    if method == "shift":
        radius = kernel_size // 2
        padded = F.pad(keys, (radius,) * 4).to(queries.dtype)
        # sub-pixel-major copies of the queries, so each product below runs over contiguous h×w planes
        grouped = rearrange(queries, "b c (h i) (w j) -> b c i j h w", i=scale, j=scale).contiguous()
        sim = queries.new_empty(batch, kernel_size**2, scale, scale, height, width)
        for dy in range(kernel_size):
            for dx in range(kernel_size):
                neighbour = padded[:, :, dy:dy + height, dx:dx + width][:, :, None, None]
                sim[:, dy * kernel_size + dx] = (grouped * neighbour).sum(dim=1)
        return rearrange(sim, "b k i j h w -> b k (h i) (w j)").contiguous()
    # im2col (F.unfold) rather than Tensor.unfold twice: Inductor (torch 2.13, CPU) miscompiles the
    # backward of the double unfold into out-of-bounds writes.
    windows = F.unfold(keys, kernel_size, padding=kernel_size // 2).view(batch, channels, kernel_size**2, height,
                                                                        width)  # B×d×k²×h×w
    grouped = rearrange(queries, "b c (h i) (w j) -> b c h i w j", i=scale, j=scale)
    sim = torch.einsum("bchiwj,bckhw->bkhiwj", grouped, windows.to(grouped.dtype))
    return rearrange(sim, "b k h i w j -> b k (h i) (w j)")


class SAPA(NotScriptable, nn.Module):
    """SAPA upsampler: ``forward(encoder, decoder)`` → B×C×(s·h)×(s·w).

    Args:
        channels: C of both features.
        scale: factor s.
        k_up: neighbourhood size k (odd; 5 as in the paper).
        similarity: "bilinear" (SAPA-B), "gated" (SAPA-G) or "inner" (SAPA-I).
        embedding: d_e of SAPA-B/G (ignored by SAPA-I).
        method: how :func:`neighbour_similarity` gathers the neighbours ("unfold" for training,
            "shift", faster on few channels and lighter under autograd); the same to round-off.

    Raises TypeError/ValueError for non-tensors, the wrong C, an encoder feature that is not s
    times the decoder's size, or bad hyper-parameters.
    """

    def __init__(self, channels: int, scale: int = 2, k_up: int = 5, similarity: str = "bilinear",
                 embedding: int = 32, method: str = "unfold"):
        super().__init__()
        self.channels = check_positive_int(channels, "channels")
        self.scale = check_positive_int(scale, "scale")
        self.k_up = check_odd_kernel(k_up, "k_up")
        self.similarity = check_choice(similarity, "similarity", SIMILARITIES)
        embedding = check_positive_int(embedding, "embedding")
        self.method = check_choice(method, "method", NEIGHBOUR_METHODS)
        self.norm_encoder = nn.LayerNorm(channels)
        self.norm_decoder = nn.LayerNorm(channels)
        self.query = self.key = self.query_decoder = self.gate = None
        if similarity != "inner":
            self.query = nn.Linear(channels, embedding)
            self.key = nn.Linear(channels, embedding)
        if similarity == "gated":
            self.query_decoder = nn.Linear(channels, embedding)
            self.gate = nn.Linear(channels, 1)
        for linear in self.modules():
            if isinstance(linear, nn.Linear):
                nn.init.trunc_normal_(linear.weight, std=0.02)
                nn.init.zeros_(linear.bias)

    def similarities(self, encoder: torch.Tensor, decoder: torch.Tensor) -> torch.Tensor:
        """Similarity logits B×k²×(s·h)×(s·w) of every point to its k×k decoder neighbours."""
        check_guide(encoder, decoder, self.channels, self.scale, "SAPA")
        queries = channel_layer_norm(encoder, self.norm_encoder)
        keys = channel_layer_norm(decoder, self.norm_decoder)
        if self.query is not None:
            queries = channel_linear(queries, self.query)
            if self.gate is not None:
                gate = nearest_up(torch.sigmoid(channel_linear(keys, self.gate)), self.scale)
                from_decoder = nearest_up(channel_linear(decoder, self.query_decoder), self.scale)
                queries = gate * queries + (1 - gate) * from_decoder
            keys = channel_linear(keys, self.key)
        return neighbour_similarity(queries, keys, self.k_up, self.method)

    def kernels(self, encoder: torch.Tensor, decoder: torch.Tensor) -> torch.Tensor:
        """Softmax of :meth:`similarities` over the k² neighbours (each kernel sums to 1), computed
        in at least float32 and returned in the decoder's dtype."""
        sim = self.similarities(encoder, decoder)
        return torch.softmax(sim.to(torch.promote_types(sim.dtype, torch.float32)), dim=1).to(decoder.dtype)

    def forward(self, encoder: torch.Tensor, decoder: torch.Tensor) -> torch.Tensor:
        return reassemble(decoder, self.kernels(encoder, decoder), self.k_up, self.scale)


def sapa_parameter_count(channels: int, similarity: str = "bilinear", embedding: int = 32) -> int:
    """The docstring's formulas: ``4C`` (SAPA-I), ``4C + 2(C·d_e + d_e)`` (SAPA-B),
    ``4C + 3(C·d_e + d_e) + C + 1`` (SAPA-G)."""
    projection = channels * embedding + embedding
    return 4 * channels + {"inner": 0, "bilinear": 2 * projection, "gated": 3 * projection + channels + 1}[similarity]
