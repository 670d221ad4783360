"""Weights in the authors' layouts load into FADE, FADE-Lite, SAPA-B/G and A2U, and the outputs then
equal a from-scratch reading of each released forward pass (written here from the authors'
public code, consuming their state dict directly: github.com/poppinace/fade, poppinace/sapa,
dongdong93/a2u_matting). Nothing is downloaded: the state dicts are random, in their key layout.
IndexNet matting and DySample: tests/upsamplers/test_released_weights_indexnet.py."""
import math

import pytest
import torch
import torch.nn.functional as F

from indexnet_edu.upsamplers.a2u import A2U
from indexnet_edu.upsamplers.fade import FADE
from indexnet_edu.ops.reassembly import reassemble
from indexnet_edu.released import LAYOUTS, load_released
from indexnet_edu.upsamplers.sapa import SAPA

TOLERANCE = 1e-5


def randn(*shape, seed=[0]):
    seed[0] += 1
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed[0]), dtype=torch.float64)


def nearest2(t):
    return F.interpolate(t, scale_factor=2, mode="nearest")


def naive_carafe(x, kernels, k, scale=2):
    """Reassembly as the CUDA/unfold CARAFE: each output pixel mixes the k×k low-res neighbours of
    ⌊p/s⌋, out-of-range neighbours read as 0."""
    r = k // 2
    h, w = x.shape[-2:]
    padded = F.pad(x, (r, r, r, r))
    out = torch.zeros(x.shape[0], x.shape[1], scale * h, scale * w, dtype=x.dtype)
    for dy in range(k):
        for dx in range(k):
            neighbour = padded[:, :, dy:dy + h, dx:dx + w]
            up = neighbour.repeat_interleave(scale, 2).repeat_interleave(scale, 3)
            out += kernels[:, dy * k + dx].unsqueeze(1) * up
    return out


# ------------------------------------------------------------------------------------------ FADE

def fade_state(channels, lite=False, k=5, c_mid=64, gate=True):
    area = k * k
    mid = area if lite else c_mid
    state = {"ker_generator.compressor_en.weight": randn(mid, channels, 1, 1),
             "ker_generator.compressor_en.bias": randn(mid),
             "ker_generator.compressor_de.weight": randn(mid, channels, 1, 1),
             "ker_generator.content_encoder.weight": randn(area, 1 if lite else mid, 3, 3) * 0.3,
             "ker_generator.content_encoder.bias": randn(area)}
    if gate:
        state |= {"gate_generator.conv.weight": randn(1, channels, 1, 1), "gate_generator.conv.bias": randn(1)}
    return state


def as_h2l(state):
    """The same weights in FADE_H2L.py's names (its shared content encoder as bare parameters)."""
    names = {"ker_generator.compressor_en": "kernel_generator.conv1_en",
             "ker_generator.compressor_de": "kernel_generator.conv1_de",
             "ker_generator.content_encoder.weight": "kernel_generator.conv2_kernels",
             "ker_generator.content_encoder.bias": "kernel_generator.conv2_bias"}
    out = {}
    for key, value in state.items():
        for old, new in names.items():
            if key.startswith(old):
                key = new + key[len(old):]
                break
        out[key] = value
    return out


def fade_h2l_reference(state, en, de, k=5, gate=True):
    """FADE_H2L.py: the encoder half of the semi-shift conv as four shifted paddings and a stride-2
    conv, the decoder half at low resolution, both with the shared weights and bias."""
    compressed_en = F.conv2d(en, state["kernel_generator.conv1_en.weight"], state["kernel_generator.conv1_en.bias"])
    compressed_de = F.conv2d(de, state["kernel_generator.conv1_de.weight"])
    weight, bias = state["kernel_generator.conv2_kernels"], state["kernel_generator.conv2_bias"]
    shifted = [F.conv2d(F.pad(compressed_en, pad), weight, bias, stride=2)
               for pad in ((1, 0, 1, 0), (0, 1, 1, 0), (1, 0, 0, 1), (0, 1, 0, 1))]
    low = F.conv2d(compressed_de, weight, bias, padding=1)
    batch, _, h, w = de.shape
    logits = torch.empty(batch, k * k, 2 * h, 2 * w, dtype=de.dtype)
    for sub, part in enumerate(shifted):  # sub-pixel (i, j) = divmod(sub, 2)
        logits[:, :, sub // 2::2, sub % 2::2] = part + low
    out = naive_carafe(de, F.softmax(logits, dim=1), k)
    if not gate:
        return out
    g = torch.sigmoid(nearest2(F.conv2d(de, state["gate_generator.conv.weight"], state["gate_generator.conv.bias"])))
    return g * en + (1 - g) * out


def fade_lite_reference(state, en, de, k=5):
    """FADE_L2H.py's FADELite: k²-channel compressors, depthwise 3×3 content encoder."""
    conv = lambda t: F.conv2d(t, state["ker_generator.content_encoder.weight"],
                              state["ker_generator.content_encoder.bias"], padding=1, groups=k * k)
    enc = F.conv2d(en, state["ker_generator.compressor_en.weight"], state["ker_generator.compressor_en.bias"])
    dec = F.conv2d(de, state["ker_generator.compressor_de.weight"])
    kernels = F.softmax(conv(enc) + nearest2(conv(dec)), dim=1)
    g = torch.sigmoid(nearest2(F.conv2d(de, state["gate_generator.conv.weight"], state["gate_generator.conv.bias"])))
    return g * en + (1 - g) * naive_carafe(de, kernels, k)


@pytest.mark.parametrize("gate", [True, False])
def test_fade_loads_both_authors_layouts_and_matches_their_forward(gate):
    channels = 16
    state = fade_state(channels, gate=gate)
    en, de = randn(2, channels, 12, 12), randn(2, channels, 6, 6)
    expected = fade_h2l_reference(as_h2l(state), en, de, gate=gate)
    for layout_state in (state, as_h2l(state), {"module." + k: v for k, v in state.items()}):
        module = load_released(FADE(channels, gate=gate).double(), layout_state, layout="fade")
        with torch.no_grad():
            assert torch.allclose(module(en, de), expected, atol=TOLERANCE, rtol=0)
        assert sum(p.numel() for p in module.parameters()) == sum(v.numel() for v in state.values())


def test_fade_lite_loads_and_matches_the_authors_forward():
    channels = 8
    state = fade_state(channels, lite=True)
    en, de = randn(1, channels, 10, 14), randn(1, channels, 5, 7)  # not square: their L2H code handles it
    module = load_released(FADE(channels, lite=True).double(), state, layout="fade")
    with torch.no_grad():
        assert torch.allclose(module(en, de), fade_lite_reference(state, en, de), atol=TOLERANCE, rtol=0)


def test_a_fade_checkpoint_does_not_load_into_fade_lite_and_says_why():
    with pytest.raises(ValueError, match="other shapes.*compress_encoder.weight"):
        load_released(FADE(8, lite=True), fade_state(8), layout="fade")
    with pytest.raises(ValueError, match="missing gate.bias, gate.weight"):
        load_released(FADE(8), fade_state(8, gate=False), layout="fade")
    with pytest.raises(ValueError, match="does not have: carafe.weight"):
        load_released(FADE(8), fade_state(8) | {"carafe.weight": torch.zeros(1)}, layout="fade")


# ------------------------------------------------------------------------------------------ SAPA

def sapa_state(channels, embedding=32, gated=False):
    state = {"norm_y.weight": 1 + 0.1 * randn(channels), "norm_y.bias": 0.1 * randn(channels),
             "norm_x.weight": 1 + 0.1 * randn(channels), "norm_x.bias": 0.1 * randn(channels),
             "k.weight": randn(embedding, channels) * 0.3, "k.bias": randn(embedding) * 0.3}
    queries = ("qy", "qx") if gated else ("q",)
    for name in queries:
        state |= {f"{name}.weight": randn(embedding, channels) * 0.3, f"{name}.bias": randn(embedding) * 0.3}
    if gated:
        state |= {"gate.weight": randn(1, channels), "gate.bias": randn(1)}
    return state


def sapa_reference(state, y, x, k=5, scale=2):
    """SAPA.py / SAPAExp.py (q_mode "gate") with the CUDA ``sim`` and ``atn`` kernels read as loops:
    an out-of-range neighbour has similarity 0 and adds nothing."""
    channels = x.shape[1]
    last = lambda t: t.permute(0, 2, 3, 1)
    linear = lambda t, name: F.linear(t, state[f"{name}.weight"], state[f"{name}.bias"])
    y_, x_raw = last(y), last(x)
    y_ = F.layer_norm(y_, (channels,), state["norm_y.weight"], state["norm_y.bias"], 1e-5)
    x_ = F.layer_norm(x_raw, (channels,), state["norm_x.weight"], state["norm_x.bias"], 1e-5)
    if "gate.weight" in state:
        up = lambda t: t.repeat_interleave(scale, 1).repeat_interleave(scale, 2)
        gate = up(torch.sigmoid(linear(x_, "gate")))
        q = gate * linear(y_, "qy") + (1 - gate) * linear(up(x_raw), "qx")
    else:
        q = linear(y_, "q")
    key = linear(x_, "k")
    batch, height, width, _ = q.shape
    h, w = key.shape[1:3]
    sim = torch.zeros(batch, height, width, k * k, dtype=q.dtype)
    for p in range(height):
        for r in range(width):
            for kk in range(k * k):
                kh, kw = p // scale - k // 2 + kk // k, r // scale - k // 2 + kk % k
                if 0 <= kh < h and 0 <= kw < w:
                    sim[:, p, r, kk] = (q[:, p, r] * key[:, kh, kw]).sum(-1)
    attn = F.softmax(sim, dim=-1)
    out = torch.zeros(batch, height, width, channels, dtype=q.dtype)
    for p in range(height):
        for r in range(width):
            for kk in range(k * k):
                kh, kw = p // scale - k // 2 + kk // k, r // scale - k // 2 + kk % k
                if 0 <= kh < h and 0 <= kw < w:
                    out[:, p, r] += attn[:, p, r, kk, None] * x_raw[:, kh, kw]
    return out.permute(0, 3, 1, 2)


@pytest.mark.parametrize("similarity", ["bilinear", "gated"])
def test_sapa_loads_the_authors_layout_and_matches_their_forward(similarity):
    channels = 6
    state = sapa_state(channels, embedding=4, gated=similarity == "gated")
    y, x = randn(2, channels, 8, 6), randn(2, channels, 4, 3)
    module = load_released(SAPA(channels, similarity=similarity, embedding=4).double(), state, layout="sapa")
    with torch.no_grad():
        assert torch.allclose(module(y, x), sapa_reference(state, y, x), atol=TOLERANCE, rtol=0)
    assert sum(p.numel() for p in module.parameters()) == sum(v.numel() for v in state.values())


def test_a_sapa_b_checkpoint_does_not_pass_for_sapa_g():
    with pytest.raises(ValueError, match="missing .*gate.weight"):
        load_released(SAPA(6, similarity="gated", embedding=4), sapa_state(6, embedding=4), layout="sapa")


# ------------------------------------------------------------------------------------------- A2U

def a2u_state(channels, k_up=3, k_down=6):
    return {"bconv_UP.1.weight": randn(4 * k_up**2, channels, 1, 1), "bconv_UP.1.bias": randn(4 * k_up**2),
            "bconv_DP.1.weight": randn(k_down**2, channels, 1, 1), "bconv_DP.1.bias": randn(k_down**2),
            "bconv_U.1.weight": randn(1, channels, 1, 1), "bconv_U.1.bias": randn(1),
            "bconv_V.1.weight": randn(1, channels, 1, 1), "bconv_V.1.bias": randn(1),
            "bnu.0.weight": 1 + 0.1 * randn(channels), "bnu.0.bias": 0.1 * randn(channels),
            "bnv.0.weight": 1 + 0.1 * randn(channels), "bnv.0.bias": 0.1 * randn(channels)}


def a2u_reference(state, x, k_up=3, k_enc=6):
    """InterChannelUpDown (share=True, d=1, one group), image by image as the authors' loop."""
    n, c, h, w = x.shape
    conv1 = lambda t, name: F.conv2d(t, state[f"{name}.1.weight"], state[f"{name}.1.bias"])
    p_u = conv1(F.adaptive_avg_pool2d(x, 1), "bconv_UP").view(n, -1, 1, 1, 1)
    p_d = conv1(F.adaptive_avg_pool2d(x, 1), "bconv_DP").view(n, -1, 1, 1, 1)
    u = conv1(F.adaptive_avg_pool2d(x, k_enc), "bconv_U").view(n, -1, k_enc, k_enc)
    v = conv1(F.adaptive_avg_pool2d(x, k_enc), "bconv_V").view(n, -1, k_enc, k_enc)
    pad = int((k_enc - 1) / 2)
    norm = lambda t, name: F.leaky_relu(F.group_norm(t, 32, state[f"{name}.0.weight"], state[f"{name}.0.bias"]))
    outs_u, outs_d = [], []
    for i in range(n):
        out1 = F.conv2d(x[i].unsqueeze(1), u[i][0].view(1, 1, k_enc, k_enc), stride=2, padding=pad)
        out2 = F.conv2d(x[i].unsqueeze(1), v[i][0].view(1, 1, k_enc, k_enc), stride=2, padding=pad)
        out1 = norm(out1.view(1, c, h // 2, w // 2), "bnu").view(c, 1, h // 2, w // 2)
        out2 = norm(out2.view(1, c, h // 2, w // 2), "bnv").view(c, 1, h // 2, w // 2)
        affinity = (out1 * out2).sum(dim=0, keepdim=True) / math.sqrt(c)
        outs_u.append(F.conv2d(affinity, p_u[i].view(-1, 1, 1, 1)))
        outs_d.append(F.conv2d(affinity, p_d[i].view(-1, 1, 1, 1)))
    up = F.pixel_shuffle(torch.cat(outs_u).view(n, -1, h // 2, w // 2), 2)
    return F.softmax(torch.cat(outs_d).view(n, -1, h // 2, w // 2), dim=1), F.softmax(torch.sigmoid(up), dim=1)


def bidownsample_reference(x, masks, k):
    """The authors' bidownsample_naive (even k): window rows 2l − (k − 2)/2 … 2l + k/2, zeros outside."""
    n, c, height, width = x.shape
    out = torch.zeros(n, c, height // 2, width // 2, dtype=x.dtype)
    for row in range(height // 2):
        for col in range(width // 2):
            for iy in range(2 * row - (k - 2) // 2, 2 * row + k // 2 + 1):
                for ix in range(2 * col - (k - 2) // 2, 2 * col + k // 2 + 1):
                    if 0 <= iy < height and 0 <= ix < width:
                        entry = (iy - 2 * row + (k - 2) // 2) * k + ix - 2 * col + (k - 2) // 2
                        out[:, :, row, col] += masks[:, entry, row, col, None] * x[:, :, iy, ix]
    return out


def test_a2u_loads_the_authors_layout_and_matches_their_kernels_and_operators():
    channels = 64  # their GroupNorm has 32 groups
    state = a2u_state(channels)
    x, y = randn(2, channels, 12, 12), randn(2, channels, 6, 6)
    module = load_released(A2U(channels).double(), state, layout="a2u")
    expected_down, expected_up = a2u_reference(state, x)
    with torch.no_grad():
        down, up = module(x)
        assert torch.allclose(down, expected_down, atol=TOLERANCE, rtol=0)
        assert torch.allclose(up, expected_up, atol=TOLERANCE, rtol=0)
        assert torch.allclose(module.downsample(x, down), bidownsample_reference(x, expected_down, 6),
                              atol=TOLERANCE, rtol=0)
        assert torch.allclose(reassemble(y, up, 3, 2), naive_carafe(y, expected_up, 3), atol=TOLERANCE, rtol=0)
    assert sum(p.numel() for p in module.parameters()) == sum(v.numel() for v in state.values()) == 5_066


def test_every_layout_is_documented_and_an_unknown_one_is_refused():
    assert {"fade", "sapa", "a2u", "indexnet_matting", "dysample"} <= set(LAYOUTS)
    with pytest.raises(ValueError, match="layout must be one of"):
        load_released(FADE(4), {}, layout="carafe")
    with pytest.raises(TypeError, match="torch.nn.Module"):
        load_released({}, {}, layout="fade")
    with pytest.raises(TypeError, match="mapping"):
        load_released(FADE(4), [1, 2], layout="fade")
