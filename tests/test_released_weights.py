"""Weights in the authors' layouts load into FADE, FADE-Lite, SAPA-B/G and A2U, and the outputs then
equal a from-scratch reading of each released forward pass (written here from the authors'
public code, consuming their state dict directly: github.com/poppinace/fade, poppinace/sapa,
dongdong93/a2u_matting). Nothing is downloaded: the state dicts are random, in their key layout."""
import math

import pytest
import torch
import torch.nn.functional as F

from indexnet_edu.a2u import A2U
from indexnet_edu.fade import FADE
from indexnet_edu.reassembly import reassemble
from indexnet_edu.released import LAYOUTS, load_released
from indexnet_edu.sapa import SAPA

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


# -------------------------------------------------------------------------------------- DySample

def dysample_reference(state, x, scale=2, groups=4):
    """dysample.py's DySample (style "lp", static scope 0.25), from its state dict."""
    b, _, h, w = x.shape
    offset = F.conv2d(x, state["offset.weight"], state["offset.bias"]) * 0.25 + state["init_pos"]
    offset = offset.view(b, 2, -1, h, w)
    rows = torch.arange(h, dtype=x.dtype) + 0.5
    cols = torch.arange(w, dtype=x.dtype) + 0.5
    grid_x, grid_y = torch.meshgrid(cols, rows, indexing="xy")          # h×w each
    coords = torch.stack([grid_x, grid_y]).view(1, 2, 1, h, w)
    normaliser = torch.tensor([w, h], dtype=x.dtype).view(1, 2, 1, 1, 1)
    grid = F.pixel_shuffle(2 * (coords + offset) / normaliser - 1, scale)  # b×2×G×sh×sw
    grid = grid.permute(0, 2, 3, 4, 1).reshape(b * groups, scale * h, scale * w, 2)
    out = F.grid_sample(x.reshape(b * groups, -1, h, w), grid, mode="bilinear", align_corners=False,
                        padding_mode="border")
    return out.view(b, -1, scale * h, scale * w)


def dysample_init_pos(scale=2, groups=4):
    """Their sub-pixel base offsets, (coordinate, group, sub-pixel) channels: x = column, y = row."""
    steps = (torch.arange(scale, dtype=torch.float64) - (scale - 1) / 2) / scale
    x_offsets = steps.repeat(scale)                      # sub-pixel (i, j) → column offset steps[j]
    y_offsets = steps.repeat_interleave(scale)           # → row offset steps[i]
    return torch.cat([x_offsets.repeat(groups), y_offsets.repeat(groups)]).view(1, -1, 1, 1)


def test_dysample_loads_the_authors_layout_and_matches_their_forward():
    from indexnet_edu.dysample import DySample

    channels = 8
    state = {"offset.weight": randn(2 * 4 * 4, channels, 1, 1) * 0.5, "offset.bias": randn(2 * 4 * 4) * 0.5,
             "init_pos": dysample_init_pos()}
    x = randn(2, channels, 5, 6)
    module = load_released(DySample(channels).double(), state, layout="dysample")
    with torch.no_grad():
        assert torch.allclose(module(x), dysample_reference(state, x), atol=TOLERANCE, rtol=0)
    # without the permutation the offsets would land on the wrong groups and coordinates
    unpermuted = DySample(channels).double()
    unpermuted.load_state_dict({k: v for k, v in state.items() if k != "init_pos"})
    with torch.no_grad():
        assert not torch.allclose(unpermuted(x), dysample_reference(state, x), atol=1e-3)
    with pytest.raises(ValueError, match="does not have: scope.weight"):  # the dynamic-scope variant
        load_released(DySample(channels).double(), state | {"scope.weight": state["offset.weight"]},
                      layout="dysample")


# ------------------------------------------------------------------------------ IndexNet encoder

def official_inverted_residual(state, x, expand, dilation=1):
    """hlmobilenetv2.py's InvertedResidual at stride 1: zero-pad the INPUT for the dilated 3×3
    window, then (1×1 expansion, BN, ReLU6,) depthwise 3×3 without padding, BN, ReLU6, 1×1, BN."""
    def bn(t, i):
        return F.batch_norm(t, state[f"conv.{i}.running_mean"], state[f"conv.{i}.running_var"],
                            state[f"conv.{i}.weight"], state[f"conv.{i}.bias"], False, 0.0, 1e-5)
    out = F.pad(x, (dilation,) * 4)
    first = 0
    if expand != 1:
        out = F.relu6(bn(F.conv2d(out, state["conv.0.weight"]), 1))
        first = 3
    hidden = out.shape[1]
    out = F.relu6(bn(F.conv2d(out, state[f"conv.{first}.weight"], dilation=dilation, groups=hidden), first + 1))
    out = bn(F.conv2d(out, state[f"conv.{first + 3}.weight"]), first + 4)
    return x + out if x.shape[1] == out.shape[1] else out


@pytest.mark.parametrize("in_channels, out_channels, expand, dilation", [(16, 16, 6, 1), (16, 24, 6, 1),
                                                                          (32, 16, 1, 1), (24, 24, 6, 2)])
def test_the_indexnet_encoder_blocks_pad_their_input_as_the_release_does(in_channels, out_channels, expand, dilation):
    """With trained (here: random) BatchNorm statistics, padding before the expansion differs from
    padding inside the depthwise conv at the border; ours must equal the release everywhere."""
    from indexnet_edu.models.mobilenetv2 import InvertedResidual

    block = InvertedResidual(in_channels, out_channels, expand, dilation).double().eval()
    state = {}
    for key, value in block.state_dict().items():
        if key.endswith("running_var"):
            state[key] = 0.5 + torch.rand(value.shape, dtype=torch.float64)
        elif key.endswith("num_batches_tracked"):
            state[key] = value
        else:
            state[key] = randn(*value.shape) * (0.5 if key.endswith("weight") and value.ndim == 4 else 1.0)
    block.load_state_dict(state)
    x = randn(2, in_channels, 9, 9)
    with torch.no_grad():
        ours, theirs = block(x), official_inverted_residual(state, x, expand, dilation)
    assert torch.allclose(ours, theirs, atol=TOLERANCE, rtol=0)


# ---------------------------------------------------------------------------- IndexNet matting

def their_key(ours: str, nonlinear: bool) -> str:
    """Our IndexNetMatting key → the release's (written out here independently of the converter)."""
    parts = ours.split(".")
    if parts[0] == "encoder":
        return ".".join([f"layer{parts[1]}"] + parts[2:])
    if parts[0] == "index_blocks":
        stage, rest = parts[1], parts[2:]
        if rest[0] == "predictor":
            return ".".join([f"index{stage}", "indexnet"] + rest[1:])
        branch = int(rest[1]) + 1
        inner = rest[2:] if nonlinear else ["0"] + rest[2:]
        return ".".join([f"index{stage}", f"indexnet{branch}"] + inner)
    if parts[0] == "aspp":
        if parts[1] == "branches":
            branch, rest = int(parts[2]), parts[3:]
            if branch == 0:
                return ".".join(["dconv_pp.aspp1.atrous_conv"] + rest)
            layer = {"0": ["0"], "1": ["1"], "3": ["3" if rest[1] == "0" else "4"]}[rest[0]]
            tail = rest[1:] if rest[0] in "01" else rest[2:]
            return ".".join([f"dconv_pp.aspp{branch + 1}.atrous_conv"] + layer + tail)
        if parts[1] == "image_pool":
            return ".".join(["dconv_pp.global_avg_pool", str(int(parts[3]) + 1)] + parts[4:])
        return ".".join(["dconv_pp.bottleneck_conv"] + parts[2:])
    if parts[0] == "decoder":
        return ".".join([f"decoder_layer{parts[1]}", "dconv"] + parts[3:])
    return ".".join(["pred"] + parts[1:])


def official_indexnet_matting(state, x, kind, nonlinear, context):
    """hlMobileNetV2UNetDecoderIndexLearning (ASPP, output stride 32) in eval mode, read from its
    state dict, then the demo's clipping and the trimap's known pixels."""
    def bn(t, p):
        return F.batch_norm(t, state[f"{p}.running_mean"], state[f"{p}.running_var"], state[f"{p}.weight"],
                            state[f"{p}.bias"], False, 0.0, 1e-5)

    def conv_bn_relu6(t, p, padding=0, dilation=1, groups=1):
        return F.relu6(bn(F.conv2d(t, state[f"{p}.0.weight"], padding=padding, dilation=dilation, groups=groups),
                          f"{p}.1"))

    def layer(t, k):
        i = 0
        while f"layer{k}.{i}.conv.0.weight" in state:
            prefix = f"layer{k}.{i}."
            block = {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}
            t = official_inverted_residual(block, t, 6 if "conv.6.weight" in block else 1)
            i += 1
        return t

    size, pad = (4, 1) if context else (2, 0)

    def index(t, k):
        if kind == "holistic":
            p = f"index{k}.indexnet"
            if nonlinear:
                hidden = F.relu6(bn(F.conv2d(t, state[f"{p}.0.weight"], stride=2, padding=pad), f"{p}.1"))
                z = F.conv2d(hidden, state[f"{p}.3.weight"])
            else:
                z = F.conv2d(t, state[f"{p}.weight"], stride=2, padding=pad)
            y = torch.sigmoid(z)
            return F.pixel_shuffle(F.softmax(y, dim=1), 2), F.pixel_shuffle(y, 2)
        groups = t.shape[1] if kind == "o2o" else 1
        outs = []
        for j in range(1, 5):
            p = f"index{k}.indexnet{j}"
            out = F.conv2d(t, state[f"{p}.0.weight"], stride=2, padding=pad, groups=groups)
            if nonlinear:
                out = F.conv2d(F.relu6(bn(out, f"{p}.1")), state[f"{p}.3.weight"], groups=groups)
            outs.append(out.unsqueeze(2))
        y = torch.sigmoid(torch.cat(outs, dim=2))
        z = F.softmax(y, dim=2)
        b, c, _, h, w = y.shape
        return F.pixel_shuffle(z.reshape(b, c * 4, h, w), 2), F.pixel_shuffle(y.reshape(b, c * 4, h, w), 2)

    def pool(t, k):
        en, de = index(t, k)
        t = en * t
        return t, 4 * F.avg_pool2d(t, 2, 2), de

    l0, l0p, d0 = pool(conv_bn_relu6(x, "layer0", padding=1), 0)
    l1 = layer(l0p, 1)
    l2, l2p, d2 = pool(layer(l1, 2), 2)
    l3, l3p, d3 = pool(layer(l2p, 3), 3)
    l4, l4p, d4 = pool(layer(l3p, 4), 4)
    l5 = layer(l4p, 5)
    l6, l6p, d6 = pool(layer(l5, 6), 6)
    l7 = layer(l6p, 7)
    branches = [conv_bn_relu6(l7, "dconv_pp.aspp1.atrous_conv")]
    for j, d in zip((2, 3, 4), (2, 4, 8)):
        p = f"dconv_pp.aspp{j}.atrous_conv"
        t = F.relu6(bn(F.conv2d(l7, state[f"{p}.0.weight"], padding=d, dilation=d, groups=l7.shape[1]), f"{p}.1"))
        branches.append(F.relu6(bn(F.conv2d(t, state[f"{p}.3.weight"]), f"{p}.4")))
    g = F.relu6(bn(F.conv2d(F.adaptive_avg_pool2d(l7, 1), state["dconv_pp.global_avg_pool.1.weight"]),
                   "dconv_pp.global_avg_pool.2"))
    branches.append(F.interpolate(g, size=l7.shape[-2:], mode="nearest"))
    out = conv_bn_relu6(torch.cat(branches, dim=1), "dconv_pp.bottleneck_conv")
    for k, skip, de in ((6, l6, d6), (5, l5, None), (4, l4, d4), (3, l3, d3), (2, l2, d2), (1, l1, None), (0, l0, d0)):
        if de is not None:
            out = de * F.interpolate(out, size=skip.shape[-2:], mode="nearest")
        out = conv_bn_relu6(torch.cat([out, skip], dim=1), f"decoder_layer{k}.dconv", padding=2)
    alpha = F.conv2d(conv_bn_relu6(out, "pred.0", padding=2), state["pred.1.weight"], padding=2)
    alpha = alpha.clamp(0, 1)
    trimap = x[:, 3:4]
    return torch.where(trimap == 1, torch.ones_like(alpha), torch.where(trimap == 0, torch.zeros_like(alpha), alpha))


@pytest.mark.parametrize("kind, nonlinear, context", [("m2o", True, True), ("holistic", False, False),
                                                      ("o2o", True, False), ("o2o", False, True)])
def test_indexnet_matting_loads_the_release_layout_and_matches_its_forward(kind, nonlinear, context):
    from indexnet_edu.models import indexnet_matting

    source = indexnet_matting(kind, nonlinear, context).double()
    state = {}
    for key, value in source.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        if key.endswith("running_var"):
            value = 0.5 + torch.rand(value.shape, dtype=torch.float64)
        elif key.endswith("running_mean") or key.endswith("bias"):
            value = 0.1 * randn(*value.shape)
        elif value.ndim == 1:  # BatchNorm weights
            value = 1 + 0.1 * randn(*value.shape)
        else:
            value = value + 0.05 * randn(*value.shape)
        state["module." + their_key(key, nonlinear)] = value  # as saved from nn.DataParallel
    model = load_released(indexnet_matting(kind, nonlinear, context).double().eval(), state, layout="indexnet_matting")
    image = torch.rand(1, 3, 64, 64, dtype=torch.float64)
    trimap = torch.full((1, 1, 64, 64), 0.5, dtype=torch.float64)
    trimap[..., :16, :] = 0.0
    trimap[..., 48:, :] = 1.0
    x = torch.cat([image, trimap], dim=1)
    with torch.no_grad():
        ours = model(x)
        theirs = official_indexnet_matting({k[len("module."):]: v for k, v in state.items()}, x, kind, nonlinear,
                                           context)
    assert torch.allclose(ours, theirs, atol=TOLERANCE, rtol=0)
    assert 0 < ours[..., 16:48, :].std()  # the unknown band is predicted, not constant
    parameters = sum(v.numel() for k, v in state.items() if not k.endswith(("running_mean", "running_var")))
    assert sum(p.numel() for p in model.parameters()) == parameters


def test_an_indexnet_checkpoint_of_another_configuration_is_refused_by_name():
    from indexnet_edu.models import indexnet_matting

    state = {their_key(k, True): v for k, v in indexnet_matting("m2o", True, True).state_dict().items()
             if not k.endswith("num_batches_tracked")}
    with pytest.raises(ValueError, match="other shapes.*index_blocks"):
        load_released(indexnet_matting("o2o", True, True), state, layout="indexnet_matting")
    with pytest.raises(ValueError, match="does not have: refine"):
        load_released(indexnet_matting("m2o", True, True), state | {"refine.weight": torch.zeros(1)},
                      layout="indexnet_matting")
