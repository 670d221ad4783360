"""One worked answer for every exercise of the lessons, out of the notebooks' sight.

A lesson ships its exercises as stubs; when you are stuck (or done and curious), print an
answer with ``indexnet_edu.lessons.exercises.show_solution("psnr")``. Each function is named
after its check without the ``check_`` prefix (``check_psnr`` → :func:`psnr`), and the tests
run every check against the answer here, so each one is known to pass.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange

from ...ops.indexing import indexed_pool, indexed_upsample
from ...ops.recipes import max_index

# --- Lesson 00 ---------------------------------------------------------------------------------


def average_index(x, stride):
    return torch.full_like(x[:, :1], 1.0 / stride**2)  # one holistic map, weights 1/s² sum to 1


# --- Lesson 01 ---------------------------------------------------------------------------------


def min_pool_index(x, stride):
    return max_index(-x, stride)  # the smallest value is the largest of -x


def nearest_as_reassembly(h, w, scale):
    kernels = torch.zeros(1, 9, scale * h, scale * w)
    kernels[:, 4] = 1.0  # channel dy·3 + dx = 4 is offset (0, 0): the pixel's own low-res pixel
    return kernels


def softmax_pool(x, stride, temperature):
    windows = rearrange(x, "b c (h s1) (w s2) -> b c h w (s1 s2)", s1=stride, s2=stride)
    return (torch.softmax(windows / temperature, dim=-1) * windows).sum(-1)


def max_unpool(x, stride):
    index = max_index(x, stride)
    return indexed_upsample(indexed_pool(x, index, stride), index, stride)


# --- Lesson 02 ---------------------------------------------------------------------------------


def window_max_gate(index, stride):
    peak = F.interpolate(F.max_pool2d(index, stride), scale_factor=stride, mode="nearest")
    return torch.where(peak > 0, index / peak.clamp_min(1e-300), torch.zeros_like(index))


def temperature_for_weight(gap, weight):
    return gap / math.log(weight / (1 - weight))  # solve weight = 1 / (1 + exp(-gap / T)) for T


# --- Lesson 03 ---------------------------------------------------------------------------------


def index_block_parameter_count(kind, channels, context):
    k = 4 if context else 2  # the index convolution's kernel at stride 2
    per_conv = {"hin": channels * 4 * k * k,         # one conv C → s² = 4 channels
                "o2o": 4 * channels * k * k,         # four branches, each C → C with groups = C
                "m2o": 4 * channels * channels * k * k}  # four branches, each C → C, groups = 1
    return per_conv[kind]


def index_normalisation(logits, stride):
    dec = torch.sigmoid(logits)                      # B×C×s²×h×w
    enc = torch.softmax(dec, dim=2)                  # softmax of the sigmoid, over the s² sub-positions
    place = "b c (s1 s2) h w -> b c (h s1) (w s2)"
    return rearrange(enc, place, s1=stride, s2=stride), rearrange(dec, place, s1=stride, s2=stride)


def encoder_index_bounds(stride):
    n = stride**2
    return 1 / (1 + (n - 1) * math.e), math.e / (math.e + n - 1)


# --- Lesson 04 ---------------------------------------------------------------------------------


def pixel_shuffle_by_index(x, r):
    return rearrange(x, "b (c i j) h w -> b c (h i) (w j)", i=r, j=r)


def deconv_overlap(kernel_size, stride, length):
    counts = torch.zeros((length - 1) * stride + kernel_size, dtype=torch.int64)
    for i in range(length):
        counts[i * stride:i * stride + kernel_size] += 1  # input i writes its k taps here
    return counts


# --- Lessons 05–07 -----------------------------------------------------------------------------


def psnr(pred, target):
    mse = ((pred - target) ** 2).mean()
    return 10 * torch.log10(1 / mse)


def mean_std(values):
    values = torch.tensor(values, dtype=torch.float64)
    return values.mean().item(), values.std(unbiased=True).item()  # the sample std, as the sweep table


def composite(alpha, fg, bg):
    return alpha * fg + (1 - alpha) * bg


def unknown_mask(trimap):
    return trimap == 0.5


def paired_differences(arm, reference):
    return [arm[seed] - reference[seed] for seed in sorted(set(arm) & set(reference))]


def majority_baseline(masks):
    return torch.full_like(masks, int(torch.bincount(masks.flatten()).argmax()))


# --- Lesson 08 ---------------------------------------------------------------------------------


def naive_values(channels, height, width, kernel_size, scale):
    return channels * kernel_size**2 * scale**2 * height * width


def reassembly_flops(channels, height, width, kernel_size, scale):
    return 2 * channels * kernel_size**2 * scale**2 * height * width


def offset_loop(y, kernels, kernel_size, scale):
    r = kernel_size // 2
    padded = F.pad(y, (r, r, r, r))
    height, width = y.shape[2:]
    out = y.new_zeros(y.shape[0], y.shape[1], scale * height, scale * width)
    for dy in range(kernel_size):
        for dx in range(kernel_size):
            window = padded[:, :, dy:dy + height, dx:dx + width]
            weight = kernels[:, dy * kernel_size + dx][:, None]
            out += weight * F.interpolate(window, scale_factor=scale, mode="nearest")
    return out


# --- Lesson 09 ---------------------------------------------------------------------------------


def sapa_inner_kernels(encoder, decoder, k):
    batch, channels, height, width = decoder.shape
    scale = encoder.shape[-2] // height
    queries = F.layer_norm(encoder.permute(0, 2, 3, 1), (channels,)).permute(0, 3, 1, 2)
    keys = F.layer_norm(decoder.permute(0, 2, 3, 1), (channels,)).permute(0, 3, 1, 2)
    neighbours = F.unfold(keys, k, padding=k // 2).view(batch, channels, k * k, height, width)
    neighbours = neighbours.repeat_interleave(scale, dim=3).repeat_interleave(scale, dim=4)  # parent of each p
    similarity = torch.einsum("bchw,bckhw->bkhw", queries, neighbours)
    return torch.softmax(similarity, dim=1)


def a2u_kernel_cap(k):
    return math.e / (math.e + k * k - 1)  # one sigmoid → 1, the other k² − 1 → 0, then the softmax


# --- Lesson 10 ---------------------------------------------------------------------------------


def gated_bilinear(channels, stride):
    class GatedBilinear(torch.nn.Module):
        """Bilinear upsampling of the decoder feature y, mixed per pixel with the encoder feature x."""

        def __init__(self, channels, stride):
            super().__init__()
            self.stride = stride
            self.gate = torch.nn.Conv2d(channels, 1, kernel_size=1)  # one gate per high-res pixel, from x

        def forward(self, y, x):
            up = F.interpolate(y, scale_factor=self.stride, mode="bilinear", align_corners=False)
            g = torch.sigmoid(self.gate(x))  # B×1×H×W, broadcast over the channels
            return g * x + (1 - g) * up

    return GatedBilinear(channels, stride)  # the suite calls gated_bilinear(channels, stride) like a class
