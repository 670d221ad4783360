"""Weights in the authors' layouts load into IndexNet matting and DySample, and the outputs then
equal a from-scratch reading of each released forward pass.

The readings below are written here from the authors' public code (github.com/poppinace/
indexnet_matting: ``scripts/hlmobilenetv2.py``, ``hlaspp.py``, ``hlindex.py``, ``hldecoder.py``,
``hlconv.py``, ``demo.py``; github.com/tiny-smart/dysample: ``dysample.py``): functional code that
consumes their state dict directly, by their key names, with their padding and layer order. The
state dicts are built from the release's architecture (not from our modules), with random values
and random positive BatchNorm statistics. Nothing is downloaded.
"""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from indexnet_edu.upsamplers.dysample import DySample
from indexnet_edu.models import indexnet_matting
from indexnet_edu.models.mobilenetv2 import LAYER_DILATIONS, InvertedResidual
from indexnet_edu.released import AUTHOR_KEYS, LAYOUTS, convert_released, load_released

TOLERANCE = 1e-5
BN_SUFFIXES = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------ the release's state dict

# hlmobilenetv2.py: (expand ratio, input, output, blocks, stride, dilation) of layer1..layer7
RELEASE_SETTINGS = [[1, 32, 16, 1, 1, 1], [6, 16, 24, 2, 2, 1], [6, 24, 32, 3, 2, 1], [6, 32, 64, 4, 2, 1],
                    [6, 64, 96, 3, 1, 1], [6, 96, 160, 3, 2, 1], [6, 160, 320, 1, 1, 1]]
DOWNSAMPLING_LAYERS = (2, 3, 4, 6)       # built with downsample=True: their first block's dilation halves
INDEXED_LAYERS = {0: 32, 2: 24, 3: 32, 4: 64, 6: 160}
DECODER = {6: (320, 96), 5: (192, 64), 4: (128, 32), 3: (64, 24), 2: (48, 16), 1: (32, 32), 0: (64, 32)}


def release_block_dilations(output_stride: int = 32) -> list[list[int]]:
    """Each block's dilation as hlMobileNetV2UNetDecoderIndexLearning sets it: every stride goes to
    1; once the running stride (2 after layer0) has reached the output stride, the rate multiplies
    by the stride the layer would have had; a downsampling layer's first block takes half."""
    settings = [list(s) for s in RELEASE_SETTINGS]
    current, rate = 2, 1
    for setting in settings:
        stride = setting[4]
        if current == output_stride:
            rate *= stride
            setting[5] = rate
        else:
            current *= stride
    dilations = []
    for layer, (_, _, _, blocks, _, d) in enumerate(settings, start=1):
        first = (d // 2 if d > 1 else 1) if layer in DOWNSAMPLING_LAYERS else d
        dilations.append([first] + [d] * (blocks - 1))
    return dilations


def release_shapes(kind: str, nonlinear: bool, context: bool) -> dict:
    """{their key: shape} of hlMobileNetV2UNetDecoderIndexLearning (ASPP, output stride 32) — or, for
    ``kind="maxpool"``, of hlMobileNetV2UNetDecoder (same keys, no index blocks)."""
    shapes = {}

    def bn(prefix, channels):
        shapes.update({f"{prefix}.{suffix}": (channels,) for suffix in BN_SUFFIXES[:4]})
        shapes[f"{prefix}.num_batches_tracked"] = ()

    shapes["layer0.0.weight"] = (32, 4, 3, 3)
    bn("layer0.1", 32)
    for layer, (expand, inp, oup, blocks, _, _) in enumerate(RELEASE_SETTINGS, start=1):
        for block in range(blocks):
            p = f"layer{layer}.{block}.conv"
            cin = inp if block == 0 else oup
            hidden = round(cin * expand)
            if expand == 1:
                shapes[f"{p}.0.weight"] = (hidden, 1, 3, 3)
                bn(f"{p}.1", hidden)
                shapes[f"{p}.3.weight"] = (oup, hidden, 1, 1)
                bn(f"{p}.4", oup)
            else:
                shapes[f"{p}.0.weight"] = (hidden, cin, 1, 1)
                bn(f"{p}.1", hidden)
                shapes[f"{p}.3.weight"] = (hidden, 1, 3, 3)
                bn(f"{p}.4", hidden)
                shapes[f"{p}.6.weight"] = (oup, hidden, 1, 1)
                bn(f"{p}.7", oup)
    size = 4 if context else 2
    for stage, c in INDEXED_LAYERS.items() if kind != "maxpool" else ():
        if kind == "holistic":
            if nonlinear:
                shapes[f"index{stage}.indexnet.0.weight"] = (2 * c, c, size, size)
                bn(f"index{stage}.indexnet.1", 2 * c)
                shapes[f"index{stage}.indexnet.3.weight"] = (4, 2 * c, 1, 1)
            else:
                shapes[f"index{stage}.indexnet.weight"] = (4, c, size, size)
            continue
        per_group = 1 if kind == "o2o" else c
        for branch in range(1, 5):
            p = f"index{stage}.indexnet{branch}"
            shapes[f"{p}.0.weight"] = (c, per_group, size, size)
            if nonlinear:
                bn(f"{p}.1", c)
                shapes[f"{p}.3.weight"] = (c, per_group, 1, 1)
    shapes["dconv_pp.aspp1.atrous_conv.0.weight"] = (256, 320, 1, 1)
    bn("dconv_pp.aspp1.atrous_conv.1", 256)
    for j in (2, 3, 4):
        p = f"dconv_pp.aspp{j}.atrous_conv"
        shapes[f"{p}.0.weight"] = (320, 1, 3, 3)
        bn(f"{p}.1", 320)
        shapes[f"{p}.3.weight"] = (256, 320, 1, 1)
        bn(f"{p}.4", 256)
    shapes["dconv_pp.global_avg_pool.1.weight"] = (256, 320, 1, 1)
    bn("dconv_pp.global_avg_pool.2", 256)
    shapes["dconv_pp.bottleneck_conv.0.weight"] = (160, 1280, 1, 1)
    bn("dconv_pp.bottleneck_conv.1", 160)
    for k, (cin, cout) in DECODER.items():
        shapes[f"decoder_layer{k}.dconv.0.weight"] = (cout, cin, 5, 5)
        bn(f"decoder_layer{k}.dconv.1", cout)
    shapes["pred.0.0.weight"] = (1, 32, 5, 5)
    bn("pred.0.1", 1)
    shapes["pred.1.weight"] = (1, 1, 5, 5)
    return shapes


def random_release_state(kind: str, nonlinear: bool, context: bool, seed: int = 0, batches_tracked=True) -> dict:
    """Random values in the release's layout: convs He-normal (fan-out, as their init), BatchNorm
    weights near 1, biases and means small, variances positive."""
    g = generator(seed)
    state = {}
    for key, shape in release_shapes(kind, nonlinear, context).items():
        if key.endswith("num_batches_tracked"):
            if batches_tracked:
                state[key] = torch.tensor(1000)
            continue
        if key.endswith("running_var"):
            value = 0.5 + torch.rand(shape, generator=g, dtype=torch.float64)
        elif key.endswith(("running_mean", "bias")):
            value = 0.2 * torch.randn(shape, generator=g, dtype=torch.float64)
        elif len(shape) == 1:
            value = 1 + 0.2 * torch.randn(shape, generator=g, dtype=torch.float64)
        else:
            fan_out = shape[0] * shape[2] * shape[3]
            value = torch.randn(shape, generator=g, dtype=torch.float64) * (2.0 / fan_out) ** 0.5
        state[key] = value
    return state


def parameter_count(state: dict) -> int:
    return sum(v.numel() for k, v in state.items() if not k.endswith(("running_mean", "running_var",
                                                                       "num_batches_tracked")))


# ------------------------------------------------------------- the release's forward, read anew

def batch_norm(state, prefix, t):
    return F.batch_norm(t, state[f"{prefix}.running_mean"], state[f"{prefix}.running_var"],
                        state[f"{prefix}.weight"], state[f"{prefix}.bias"], False, 0.0, 1e-5)


def conv_bn(state, prefix, t, padding=0):
    """hlconv.py's conv_bn: conv (padding k//2 inside the conv), BN, ReLU6."""
    return F.relu6(batch_norm(state, f"{prefix}.1", F.conv2d(t, state[f"{prefix}.0.weight"], padding=padding)))


def release_inverted_residual(state, prefix, x, dilation=1):
    """InvertedResidual.forward at stride 1: fixed_padding of the INPUT (zeros, reach = dilation),
    then (1×1 expansion, BN, ReLU6,) depthwise 3×3 dilated with padding 0, BN, ReLU6, 1×1, BN;
    the residual adds the unpadded input when the widths agree."""
    effective = 3 + 2 * (dilation - 1)
    before = (effective - 1) // 2
    after = effective - 1 - before
    out = F.pad(x, (before, after, before, after))
    first = 0
    if f"{prefix}.conv.6.weight" in state:  # expand_ratio != 1
        out = F.relu6(batch_norm(state, f"{prefix}.conv.1", F.conv2d(out, state[f"{prefix}.conv.0.weight"])))
        first = 3
    depthwise = state[f"{prefix}.conv.{first}.weight"]
    out = F.conv2d(out, depthwise, dilation=dilation, groups=depthwise.shape[0])
    out = F.relu6(batch_norm(state, f"{prefix}.conv.{first + 1}", out))
    out = batch_norm(state, f"{prefix}.conv.{first + 4}", F.conv2d(out, state[f"{prefix}.conv.{first + 3}.weight"]))
    return x + out if x.shape[1] == out.shape[1] else out


def release_layer(state, layer, t, dilations):
    for block, dilation in enumerate(dilations):
        t = release_inverted_residual(state, f"layer{layer}.{block}", t, dilation)
    return t


def release_index(state, stage, t, kind, context):
    """hlindex.py: (encoder index, decoder index) at t's resolution."""
    padding = 1 if context else 0
    p = f"index{stage}.indexnet"
    if kind == "holistic":
        if f"{p}.weight" in state:
            logits = F.conv2d(t, state[f"{p}.weight"], stride=2, padding=padding)
        else:
            hidden = F.relu6(batch_norm(state, f"{p}.1", F.conv2d(t, state[f"{p}.0.weight"], stride=2,
                                                                    padding=padding)))
            logits = F.conv2d(hidden, state[f"{p}.3.weight"])
        y = torch.sigmoid(logits)
        return F.pixel_shuffle(F.softmax(y, dim=1), 2), F.pixel_shuffle(y, 2)
    groups = t.shape[1] if kind == "o2o" else 1
    branches = []
    for j in range(1, 5):
        out = F.conv2d(t, state[f"{p}{j}.0.weight"], stride=2, padding=padding, groups=groups)
        if f"{p}{j}.3.weight" in state:
            out = F.conv2d(F.relu6(batch_norm(state, f"{p}{j}.1", out)), state[f"{p}{j}.3.weight"], groups=groups)
        branches.append(out.unsqueeze(2))
    y = torch.sigmoid(torch.cat(branches, dim=2))
    z = F.softmax(y, dim=2)
    b, c, _, h, w = y.shape
    return F.pixel_shuffle(z.reshape(b, 4 * c, h, w), 2), F.pixel_shuffle(y.reshape(b, 4 * c, h, w), 2)


def release_aspp(state, t):
    """hlaspp.py at output stride 32: dilations 1, 2, 4, 8; the 3×3s pad inside (padding = dilation)."""
    outs = [conv_bn(state, "dconv_pp.aspp1.atrous_conv", t)]
    for j, d in zip((2, 3, 4), (2, 4, 8)):
        p = f"dconv_pp.aspp{j}.atrous_conv"
        out = F.conv2d(t, state[f"{p}.0.weight"], padding=d, dilation=d, groups=t.shape[1])
        out = F.relu6(batch_norm(state, f"{p}.1", out))
        outs.append(F.relu6(batch_norm(state, f"{p}.4", F.conv2d(out, state[f"{p}.3.weight"]))))
    pooled = F.conv2d(F.adaptive_avg_pool2d(t, 1), state["dconv_pp.global_avg_pool.1.weight"])
    pooled = F.relu6(batch_norm(state, "dconv_pp.global_avg_pool.2", pooled))
    outs.append(F.interpolate(pooled, size=t.shape[-2:], mode="nearest"))
    return conv_bn(state, "dconv_pp.bottleneck_conv", torch.cat(outs, dim=1))  # dropout: identity in eval


def release_prediction(state, x, kind, context):
    """The network's raw output (eval mode): hlMobileNetV2UNetDecoderIndexLearning.forward, or
    hlMobileNetV2UNetDecoder.forward (max pooling / max unpooling) for ``kind="maxpool"``."""
    dilations = release_block_dilations(32)

    def pool(t, stage):
        if kind == "maxpool":
            pooled, argmax = F.max_pool2d(t, 2, 2, return_indices=True)
            return t, pooled, lambda y: F.max_unpool2d(y, argmax, 2, 2, output_size=t.shape[-2:])
        encoder_index, decoder_index = release_index(state, stage, t, kind, context)
        weighted = encoder_index * t
        return weighted, 4 * F.avg_pool2d(weighted, 2, 2), \
            lambda y: decoder_index * F.interpolate(y, size=t.shape[-2:], mode="nearest")

    l0, l0p, up0 = pool(conv_bn(state, "layer0", x, padding=1), 0)
    l1 = release_layer(state, 1, l0p, dilations[0])
    l2, l2p, up2 = pool(release_layer(state, 2, l1, dilations[1]), 2)
    l3, l3p, up3 = pool(release_layer(state, 3, l2p, dilations[2]), 3)
    l4, l4p, up4 = pool(release_layer(state, 4, l3p, dilations[3]), 4)
    l5 = release_layer(state, 5, l4p, dilations[4])
    l6, l6p, up6 = pool(release_layer(state, 6, l5, dilations[5]), 6)
    l7 = release_layer(state, 7, l6p, dilations[6])
    out = release_aspp(state, l7)
    for k, skip, up in ((6, l6, up6), (5, l5, None), (4, l4, up4), (3, l3, up3), (2, l2, up2), (1, l1, None),
                        (0, l0, up0)):
        if up is not None:
            out = up(out)
        out = conv_bn(state, f"decoder_layer{k}.dconv", torch.cat([out, skip], dim=1), padding=2)
    out = conv_bn(state, "pred.0", out, padding=2)
    return F.conv2d(out, state["pred.1.weight"], padding=2)


def demo_alpha(prediction, trimap):
    """demo.py's post-processing: clip to [0, 1], keep the trimap outside its unknown (128) band."""
    unknown = (trimap == 0.5).to(prediction.dtype)
    return (1 - unknown) * trimap + unknown * prediction.clamp(0, 1)


def matting_input(seed=3, size=64):
    g = generator(seed)
    image = torch.randn(1, 3, size, size, generator=g, dtype=torch.float64)  # normalised RGB
    trimap = torch.full((1, 1, size, size), 0.5, dtype=torch.float64)
    trimap[..., : size // 4, :] = 0.0
    trimap[..., 3 * size // 4:, :] = 1.0
    return torch.cat([image, trimap], dim=1)


# ------------------------------------------------------------------------- IndexNet: encoder

def random_block(in_channels, out_channels, expand, dilation, seed=0):
    block = InvertedResidual(in_channels, out_channels, expand, dilation).double().eval()
    g = generator(seed)
    state = {}
    for key, value in block.state_dict().items():
        if key.endswith("running_var"):
            state[key] = 0.5 + torch.rand(value.shape, generator=g, dtype=torch.float64)
        elif key.endswith("num_batches_tracked"):
            state[key] = value
        else:
            state[key] = torch.randn(value.shape, generator=g, dtype=torch.float64) * 0.5
    block.load_state_dict(state)
    return block, state


@pytest.mark.parametrize("in_channels, out_channels, expand, dilation",
                         [(32, 16, 1, 1), (16, 24, 6, 1), (24, 24, 6, 1), (24, 24, 6, 2), (16, 16, 6, 3)])
def test_an_encoder_block_pads_its_input_before_the_expansion_as_the_release(in_channels, out_channels, expand,
                                                                              dilation):
    block, state = random_block(in_channels, out_channels, expand, dilation)
    x = torch.randn(2, in_channels, 9, 11, generator=generator(1), dtype=torch.float64)
    with torch.no_grad():
        ours = block(x)
    theirs = release_inverted_residual({f"b.{k}": v for k, v in state.items()}, "b", x, dilation)
    assert ours.shape == theirs.shape == (2, out_channels, 9, 11)
    assert torch.allclose(ours, theirs, atol=TOLERANCE, rtol=0)


def test_padding_inside_the_depthwise_conv_instead_changes_the_border_only():
    """Why the release's padding matters for its checkpoint: the expansion of a zero pad pixel is
    ReLU6(BN(0)), not 0, so 'same' padding in the depthwise conv differs — on the border ring only."""
    block, state = random_block(16, 24, 6, 1)
    x = torch.randn(1, 16, 10, 10, generator=generator(2), dtype=torch.float64)
    same_padding = InvertedResidual(16, 24, 6, 1).double().eval()
    same_padding.load_state_dict(state)
    same_padding.conv[3].padding = (1, 1)
    with torch.no_grad():
        difference = (block(x) - same_padding.conv(x)).abs()
    assert difference[..., 1:-1, 1:-1].max() < 1e-12
    assert difference.max() > 1e-2


def test_every_encoder_block_has_the_release_dilation_and_an_unpadded_depthwise_conv():
    model = indexnet_matting("m2o", True, True)
    stem = model.encoder[0][0]
    assert (stem.kernel_size, stem.stride, stem.padding) == ((3, 3), (1, 1), (1, 1))  # their conv_bn, stride → 1
    expected = release_block_dilations(32)
    assert expected == [[1] * n for *_, n, _, _ in RELEASE_SETTINGS]  # output stride 32: all 1
    assert [d for d in LAYER_DILATIONS] == [blocks[0] for blocks in expected]
    for layer, dilations in enumerate(expected, start=1):
        blocks = list(model.encoder[layer])
        assert [block.dilation for block in blocks] == dilations
        for block, dilation in zip(blocks, dilations):
            depthwise = [m for m in block.conv if isinstance(m, nn.Conv2d) and m.groups > 1]
            assert len(depthwise) == 1
            assert depthwise[0].padding == (0, 0) and depthwise[0].dilation == (dilation, dilation)
            assert depthwise[0].stride == (1, 1)
    # output stride 16 (not built here) would dilate layer6's later blocks and layer7
    assert release_block_dilations(16)[5:] == [[1, 2, 2], [2]]


# ------------------------------------------------------------------------- IndexNet: the model

CONFIGURATIONS = [("m2o", True, True), ("maxpool", False, False), ("holistic", False, False),
                  ("holistic", True, True), ("o2o", True, False), ("o2o", False, True)]


@pytest.mark.parametrize("kind, nonlinear, context", CONFIGURATIONS)
def test_indexnet_matting_loads_the_release_layout_and_matches_its_forward(kind, nonlinear, context):
    state = random_release_state(kind, nonlinear, context, batches_tracked=kind != "o2o")
    model = indexnet_matting(kind, nonlinear, context).double().eval()
    checkpoint = {"epoch": 30, "state_dict": {"module." + k: v for k, v in state.items()}}  # as the release
    load_released(model, checkpoint, layout="indexnet_matting")
    x = matting_input()
    raw = {}
    model.head.register_forward_hook(lambda module, inputs, output: raw.setdefault("prediction", output))
    with torch.no_grad():
        alpha = model(x)
    prediction = release_prediction(state, x, kind, context)
    assert torch.allclose(raw["prediction"], prediction, atol=TOLERANCE, rtol=0)
    assert torch.allclose(alpha, demo_alpha(prediction, x[:, 3:4]), atol=TOLERANCE, rtol=0)
    assert prediction[..., 16:48, :].std() > 1e-3  # the comparison is not between constants
    # the same parameter count as the release's state dict
    assert sum(p.numel() for p in model.parameters()) == parameter_count(state)


@pytest.mark.parametrize("kind, nonlinear, context, published", [("m2o", True, True, 5_953_515),
                                                                 ("maxpool", False, False, 3_753_259)])
def test_the_release_state_dict_has_the_published_parameter_count(kind, nonlinear, context, published):
    assert parameter_count(random_release_state(kind, nonlinear, context)) == published
    assert sum(p.numel() for p in indexnet_matting(kind, nonlinear, context).parameters()) == published


@pytest.mark.parametrize("kind, nonlinear, context", CONFIGURATIONS)
def test_the_authors_key_of_each_of_ours_converts_back_to_it(kind, nonlinear, context):
    model = indexnet_matting(kind, nonlinear, context)
    name = AUTHOR_KEYS["indexnet_matting"]
    theirs = {name(model, key) for key in model.state_dict()}
    assert theirs == set(release_shapes(kind, nonlinear, context))
    for key, value in model.state_dict().items():
        assert list(LAYOUTS["indexnet_matting"](model, {name(model, key): value})) == [key]


def test_a_missing_or_unknown_key_is_refused_in_the_authors_terms():
    model = indexnet_matting("m2o", True, True)
    state = random_release_state("m2o", True, True)
    lacking = {k: v for k, v in state.items() if k != "layer3.0.conv.3.weight"}
    with pytest.raises(ValueError,
                       match=r"missing layer3\.0\.conv\.3\.weight \(ours: encoder\.3\.0\.conv\.3\.weight\)"):
        load_released(model, lacking, layout="indexnet_matting")
    with pytest.raises(ValueError, match=r"does not have: refine\.weight"):
        load_released(model, state | {"refine.weight": torch.zeros(1)}, layout="indexnet_matting")
    with pytest.raises(ValueError, match="layout must be one of"):
        load_released(model, state, layout="indexnet")


def test_a_checkpoint_of_another_configuration_is_refused_by_its_own_names():
    o2o_state = {"module." + k: v for k, v in random_release_state("o2o", True, True).items()}
    with pytest.raises(ValueError, match=r"other shapes.*module\.index4\.indexnet1\.0\.weight "
                                         r"\(ours: index_blocks\.4\.branches\.0\.0\.weight\): "
                                         r"checkpoint \(64, 1, 4, 4\) vs module \(64, 64, 4, 4\)"):
        load_released(indexnet_matting("m2o", True, True), o2o_state, layout="indexnet_matting")
    nonlinear_state = random_release_state("o2o", True, False)
    with pytest.raises(ValueError, match=r"unexpected index0\.indexnet1\.1\.bias"):
        load_released(indexnet_matting("o2o", False, False), nonlinear_state, layout="indexnet_matting")
    with pytest.raises(ValueError, match=r"missing .*index0\.indexnet1\.0\.weight"):
        load_released(indexnet_matting("o2o", False, False), random_release_state("maxpool", False, False),
                      layout="indexnet_matting")


def test_a_failed_load_leaves_the_model_untouched():
    model = indexnet_matting("m2o", True, True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    state = random_release_state("m2o", True, True)
    del state["pred.1.weight"]
    with pytest.raises(ValueError, match=r"missing pred\.1\.weight \(ours: head\.1\.weight\)"):
        load_released(model, state, layout="indexnet_matting")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


# ------------------------------------------------------------------------------------ DySample

def release_init_pos(scale, groups):
    """dysample.py's _init_pos: base offsets (coordinate, group, sub-pixel); x (0) follows the
    sub-pixel column, y (1) its row."""
    h = (torch.arange(scale, dtype=torch.float64) - (scale - 1) / 2) / scale
    grid = torch.stack(torch.meshgrid(h, h, indexing="ij")).transpose(1, 2)
    return grid.repeat(1, groups, 1).reshape(1, -1, 1, 1)


def release_dysample(state, x, scale, groups):
    """dysample.py's DySample.forward_lp with the static scope (no ``scope`` conv): offsets ×0.25
    + init_pos, viewed (B, 2, G·s², H, W), pixel-shuffled, grid_sample with border padding."""
    b, _, h, w = x.shape
    offset = F.conv2d(x, state["offset.weight"], state["offset.bias"]) * 0.25 + state["init_pos"]
    offset = offset.view(b, 2, -1, h, w)
    along_w = torch.arange(w, dtype=x.dtype) + 0.5
    along_h = torch.arange(h, dtype=x.dtype) + 0.5
    coords = torch.stack(torch.meshgrid(along_w, along_h, indexing="ij")).transpose(1, 2)  # 2×h×w, (x, y)
    coords = coords.unsqueeze(1).unsqueeze(0)
    normaliser = torch.tensor([w, h], dtype=x.dtype).view(1, 2, 1, 1, 1)
    grid = F.pixel_shuffle(2 * (coords + offset) / normaliser - 1, scale)  # b×2×G×sh×sw
    grid = grid.permute(0, 2, 3, 4, 1).contiguous().flatten(0, 1)
    out = F.grid_sample(x.reshape(b * groups, -1, h, w), grid, mode="bilinear", align_corners=False,
                        padding_mode="border")
    return out.view(b, -1, scale * h, scale * w)


def random_dysample_state(channels, scale, groups, seed=0):
    g = generator(seed)
    out = 2 * groups * scale**2
    return {"offset.weight": 0.5 * torch.randn(out, channels, 1, 1, generator=g, dtype=torch.float64),
            "offset.bias": 0.5 * torch.randn(out, generator=g, dtype=torch.float64),
            "init_pos": release_init_pos(scale, groups)}


@pytest.mark.parametrize("channels, scale, groups", [(8, 2, 4), (6, 3, 2), (4, 2, 1), (12, 4, 4)])
def test_dysample_loads_the_authors_layout_and_matches_their_forward(channels, scale, groups):
    state = random_dysample_state(channels, scale, groups)
    module = load_released(DySample(channels, scale, groups).double(), state, layout="dysample")
    x = torch.randn(2, channels, 5, 7, generator=generator(4), dtype=torch.float64)
    with torch.no_grad():
        ours = module(x)
    theirs = release_dysample(state, x, scale, groups)
    assert ours.shape == theirs.shape == (2, channels, 5 * scale, 7 * scale)
    assert torch.allclose(ours, theirs, atol=TOLERANCE, rtol=0)
    assert sum(p.numel() for p in module.parameters()) == state["offset.weight"].numel() + state["offset.bias"].numel()


def test_dysample_needs_the_offset_channel_permutation():
    """Their channels are (coordinate, group, sub-pixel), ours (group, coordinate, sub-pixel):
    loaded as they are, the offsets would move the wrong groups along the wrong axes."""
    channels, scale, groups = 8, 2, 4
    state = random_dysample_state(channels, scale, groups)
    unpermuted = DySample(channels, scale, groups).double()
    unpermuted.load_state_dict({k: v for k, v in state.items() if k != "init_pos"})
    x = torch.randn(1, channels, 6, 6, generator=generator(5), dtype=torch.float64)
    with torch.no_grad():
        assert not torch.allclose(unpermuted(x), release_dysample(state, x, scale, groups), atol=1e-3)
    converted = convert_released(unpermuted, {"module." + k: v for k, v in state.items()}, layout="dysample")
    assert set(converted) == {"offset.weight", "offset.bias"}
    # their bias channel c·G·s² + g·s² + k lands at our g·2·s² + c·s² + k
    assert converted["offset.bias"][1 * 8 + 0 * 4 + 3] == state["offset.bias"][0 * 16 + 1 * 4 + 3]


def test_the_dysample_variants_not_built_here_are_refused_clearly():
    state = random_dysample_state(8, 2, 4)
    module = DySample(8).double()
    with pytest.raises(ValueError, match=r"scope\.weight.*dyscope=True"):
        load_released(module, state | {"scope.weight": state["offset.weight"], "scope.bias": state["offset.bias"]},
                      layout="dysample")
    pl_style = {"offset.weight": torch.zeros(8, 2, 1, 1), "offset.bias": torch.zeros(8),
                "init_pos": release_init_pos(2, 4)}
    with pytest.raises(ValueError, match="'pl' style"):
        load_released(module, pl_style, layout="dysample")
    with pytest.raises(ValueError, match="init_pos has 16 entries"):
        load_released(module, random_dysample_state(8, 2, 2) | {"offset.weight": state["offset.weight"],
                                                                  "offset.bias": state["offset.bias"]},
                      layout="dysample")
    with pytest.raises(ValueError, match=r"other shapes.*offset\.weight: checkpoint \(32, 16, 1, 1\)"):
        load_released(module, random_dysample_state(16, 2, 4), layout="dysample")
