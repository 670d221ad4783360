"""SAPA: similarity-aware point affiliation (Lu, Liu, Ye, Fu, Cao, NeurIPS 2022, arXiv 2209.12866).

Each high-resolution point p takes a kernel over the k×k low-resolution decoder neighbours q of
⌊p/s⌋, weighted by how similar the *encoder* feature at p is to each *decoder* neighbour:

    K_p(q)   = exp sim(E_p, D_q) / Σ_{q' ∈ N_k(⌊p/s⌋)} exp sim(E_p, D_q')      (softmax over k²)
    out(c,p) = Σ_{q ∈ N_k(⌊p/s⌋)} K_p(q) · D(c, q)                           (= :func:`reassemble`)

E is the encoder feature B×C×H×W (H = s·h), D the decoder feature B×C×h×w. Both are first
layer-normalised over channels at every pixel (LN, with affine weights). The paper's similarity
functions (inner product, bilinear, gated bilinear) give its variants:

* ``sapa`` — SAPA-B, bilinear: ``sim(e, d) = (θ·LN(e))ᵀ (φ·LN(d))``, θ, φ ∈ R^{d_e×C} (1×1
  convolutions without bias) into a common embedding of d_e channels (32 here);
* ``sapa_inner`` — SAPA-I, inner product: ``sim(e, d) = LN(e)ᵀ LN(d)`` (needs equal C, which this
  suite's encoder-decoder stages have).

The paper's third form, SAPA-G (a gated bilinear similarity), is not built here: its gate could
not be read from the sources available, and guessing it would not be SAPA.

Out-of-range neighbours follow CARAFE's "zeros" semantics: they have a zero embedding (so
similarity 0) and contribute a zero feature; the kernel is not renormalised. The kernels are
therefore the suite's reassembly kernels, and the output is exactly ``reassemble(D, K, k)``.

Parameters: ``4C`` (the two layer norms) for SAPA-I, ``4C + 2·C·d_e`` for SAPA-B. With C = 64,
d_e = 32 that is 256 and 4,352.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from ._checks import check_choice, check_odd_kernel, check_positive_int
from .graph_capture import NotScriptable
from .fade import check_guide
from .reassembly import reassemble

SIMILARITIES = ("bilinear", "inner")


def channel_layer_norm(x: torch.Tensor, norm: nn.LayerNorm) -> torch.Tensor:
    """Layer norm over the channels of every pixel of a B×C×H×W map."""
    return norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def neighbour_similarity(queries: torch.Tensor, keys: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """``sim[b, dy·k+dx, p] = Σ_c queries[b, c, p] · keys[b, c, ⌊p/s⌋ + (dy − r, dx − r)]``.

    queries: B×d×(s·h)×(s·w); keys: B×d×h×w (zero outside the map). Returns B×k²×(s·h)×(s·w) in
    the reassembly kernels' channel order. Memory: one k² similarity per output pixel.
    """
    batch, channels, height, width = keys.shape
    scale = queries.shape[-2] // height
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
        similarity: "bilinear" (SAPA-B) or "inner" (SAPA-I).
        embedding: d_e of SAPA-B (ignored by SAPA-I).

    Raises TypeError/ValueError for non-tensors, the wrong C, an encoder feature that is not s
    times the decoder's size, or bad hyper-parameters.
    """

    def __init__(self, channels: int, scale: int = 2, k_up: int = 5, similarity: str = "bilinear",
                 embedding: int = 32):
        super().__init__()
        self.channels = check_positive_int(channels, "channels")
        self.scale = check_positive_int(scale, "scale")
        self.k_up = check_odd_kernel(k_up, "k_up")
        self.similarity = check_choice(similarity, "similarity", SIMILARITIES)
        embedding = check_positive_int(embedding, "embedding")
        self.norm_encoder = nn.LayerNorm(channels)
        self.norm_decoder = nn.LayerNorm(channels)
        self.query = self.key = None
        if similarity == "bilinear":
            self.query = nn.Conv2d(channels, embedding, 1, bias=False)
            self.key = nn.Conv2d(channels, embedding, 1, bias=False)

    def similarities(self, encoder: torch.Tensor, decoder: torch.Tensor) -> torch.Tensor:
        """Similarity logits B×k²×(s·h)×(s·w) of every point to its k×k decoder neighbours."""
        check_guide(encoder, decoder, self.channels, self.scale, "SAPA")
        queries = channel_layer_norm(encoder, self.norm_encoder)
        keys = channel_layer_norm(decoder, self.norm_decoder)
        if self.query is not None:
            queries, keys = self.query(queries), self.key(keys)
        return neighbour_similarity(queries, keys, self.k_up)

    def kernels(self, encoder: torch.Tensor, decoder: torch.Tensor) -> torch.Tensor:
        """Softmax of :meth:`similarities` over the k² neighbours (each kernel sums to 1), computed
        in at least float32 and returned in the decoder's dtype."""
        sim = self.similarities(encoder, decoder)
        return torch.softmax(sim.to(torch.promote_types(sim.dtype, torch.float32)), dim=1).to(decoder.dtype)

    def forward(self, encoder: torch.Tensor, decoder: torch.Tensor) -> torch.Tensor:
        return reassemble(decoder, self.kernels(encoder, decoder), self.k_up, self.scale)


def sapa_parameter_count(channels: int, similarity: str = "bilinear", embedding: int = 32) -> int:
    """The docstring's formula: ``4C`` (SAPA-I) or ``4C + 2·C·d_e`` (SAPA-B)."""
    return 4 * channels + (2 * channels * embedding if similarity == "bilinear" else 0)
