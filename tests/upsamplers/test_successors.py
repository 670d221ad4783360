"""A2U, FADE and SAPA: shapes, gradients, the special cases their equations give, parameter
counts against the docstring formulas and against the totals the authors' READMEs publish for
their configurations, clear refusals. (Outputs against the authors' released forward passes,
with weights in their layout: tests/upsamplers/test_released_weights.py.)"""
import math

import pytest
import torch
import torch.nn.functional as F

import indexnet_edu as ie
from indexnet_edu.upsamplers.a2u import A2U, a2u_parameter_count, kernel_downsample
from indexnet_edu.upsamplers.fade import FADE, fade_parameter_count, mix
from indexnet_edu.lessons.fusion_views import box_upsample, special_case_errors
from indexnet_edu.upsamplers.sapa import SAPA, neighbour_similarity, sapa_parameter_count

SUCCESSORS = ["a2u", "fade", "fade_lite", "fade_nogate", "sapa", "sapa_g", "sapa_inner"]


def count(module):
    return sum(p.numel() for p in module.parameters())


def pair(batch=2, channels=6, size=5, scale=2, dtype=torch.float64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    decoder = torch.randn(batch, channels, size, size, generator=generator, dtype=dtype)
    encoder = torch.randn(batch, channels, scale * size, scale * size, generator=generator, dtype=dtype)
    return encoder, decoder


def test_the_registry_holds_the_successors_with_their_kernel_sources():
    assert set(SUCCESSORS) <= set(ie.available_upsamplers())
    assert ie.upsampler_spec("a2u").kernel_source == "encoder"
    for name in ["fade", "fade_lite", "fade_nogate", "sapa", "sapa_g", "sapa_inner"]:
        assert ie.upsampler_spec(name).kernel_source == "encoder+decoder"


@pytest.mark.parametrize("name", SUCCESSORS)
@pytest.mark.parametrize("stride", [2, 3])
def test_shapes_and_gradients_reach_every_parameter(name, stride):
    torch.manual_seed(0)
    resampler = ie.create_upsampler(name, 6, stride)
    x = torch.randn(2, 6, 4 * stride, 4 * stride, requires_grad=True)
    pooled, state = resampler.down(x)
    out = resampler.up(pooled, state)
    assert pooled.shape == (2, 6, 4, 4) and out.shape == x.shape
    out.square().mean().backward()
    assert x.grad.abs().sum() > 0
    for label, param in resampler.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, f"{name}: {label} got no gradient"


# ----------------------------------------------------------------------------------------- FADE

def closed_or_open(module, bias):
    with torch.no_grad():
        module.gate.weight.zero_()
        module.gate.bias.fill_(bias)  # sigmoid(±1e4) is exactly 1 or 0 in floating point
    return module


def test_fade_with_the_gate_closed_is_its_reassembly_branch_exactly():
    torch.manual_seed(1)
    module = closed_or_open(FADE(6).double(), -1e4)
    encoder, decoder = pair()
    branch = ie.reassemble(decoder, module.kernels(encoder, decoder), 5, 2)
    assert torch.equal(module(encoder, decoder), branch)
    nogate = FADE(6, gate=False).double()
    nogate.load_state_dict({k: v for k, v in module.state_dict().items() if not k.startswith("gate")})
    assert torch.equal(nogate(encoder, decoder), branch)


def test_fade_with_the_gate_open_passes_the_encoder_feature_exactly():
    torch.manual_seed(1)
    module = closed_or_open(FADE(6).double(), 1e4)
    encoder, decoder = pair()
    assert torch.equal(module(encoder, decoder), encoder)


def test_fade_gate_mixes_elementwise():
    encoder, reassembled = torch.ones(1, 2, 2, 2), torch.zeros(1, 2, 2, 2)
    gate = torch.tensor([[[[0.25, 1.0], [0.0, 0.5]]]])
    assert torch.equal(mix(encoder, reassembled, gate), gate.expand(1, 2, 2, 2))


@pytest.mark.parametrize("lite", [False, True])
def test_fade_without_content_encoder_weights_is_a_uniform_average_over_the_neighbourhood(lite):
    module = FADE(6, gate=False, lite=lite).double()
    with torch.no_grad():
        module.content_encoder.weight.zero_()
        module.content_encoder.bias.zero_()
    encoder, decoder = pair()
    assert torch.allclose(module(encoder, decoder), box_upsample(decoder, 5, 2), atol=1e-13, rtol=0)


def test_fade_semi_shift_kernels_without_the_encoder_share_one_kernel_per_low_res_pixel():
    """W_e = 0 leaves the decoder half of the semi-shift window, which moves once per s output
    pixels: the s×s outputs above one decoder pixel share a kernel (CARAFE's case without
    sub-pixel kernels). With the encoder half on, they differ."""
    torch.manual_seed(2)
    module = FADE(6).double()
    encoder, decoder = pair()
    both = module.kernels(encoder, decoder)
    assert not torch.allclose(both[..., 0::2, :], both[..., 1::2, :])
    with torch.no_grad():  # a zero encoder compression leaves only the shared content encoder's bias
        module.compress_encoder.weight.zero_()
        module.compress_encoder.bias.zero_()
    kernels = module.kernels(encoder, decoder)
    for i in range(2):
        for j in range(2):
            assert torch.allclose(kernels[..., i::2, j::2], kernels[..., 0::2, 0::2], atol=1e-15, rtol=0)


def test_fade_kernels_sum_to_one_and_the_gate_is_nearest_upsampled_from_the_decoder():
    torch.manual_seed(3)
    module = FADE(6).double()
    encoder, decoder = pair()
    assert torch.allclose(module.kernels(encoder, decoder).sum(1), torch.ones(2, 10, 10, dtype=torch.float64))
    gate = module.gate_map(decoder)
    assert gate.shape == (2, 1, 10, 10) and torch.equal(gate[..., 0::2, 0::2], gate[..., 1::2, 1::2])


@pytest.mark.parametrize("channels, k_up, c_mid, gate, lite", [(64, 5, 64, True, False), (64, 5, 64, False, False),
                                                              (8, 3, 16, True, False), (64, 5, 64, True, True),
                                                              (12, 3, 64, False, True)])
def test_fade_parameter_count_matches_its_formula(channels, k_up, c_mid, gate, lite):
    module = FADE(channels, k_up=k_up, c_mid=c_mid, gate=gate, lite=lite)
    assert count(module) == fade_parameter_count(channels, k_up, c_mid, gate, lite)
    # the numbers quoted in the module docstring
    assert (fade_parameter_count(64), fade_parameter_count(256), fade_parameter_count(64, lite=True)) == (
        22_746, 47_514, 3_540)


def millions(n: int, digits: int) -> float:
    return round(n / 1e6, digits)


def test_parameter_totals_equal_the_authors_published_ones_for_their_configurations():
    """FADE README (github.com/poppinace/fade): +0.12M in A2U matting (FADE at the four decoder
    stages, C = 256, 128, 64, 64), +0.29M in the SegFormer-B1 head (six FADEs at C = 256), CARAFE
    +0.44M there; SAPA README (github.com/poppinace/sapa): SAPA-B +0.1M in SegFormer-B1, +0.04M in
    A2U matting; A2U README (github.com/dongdong93/a2u_matting): +38K over its four modules at
    C = 64, 64, 128, 256 (the README counts convolutions: GroupNorm's 4C affine parameters aside)."""
    matting, segformer = (256, 128, 64, 64), (256,) * 6
    assert millions(sum(count(FADE(c)) for c in matting), 2) == 0.12
    assert millions(sum(count(FADE(c)) for c in segformer), 2) == 0.29
    assert millions(sum(count(ie.CARAFE(c)) for c in segformer), 2) == 0.44
    assert millions(sum(count(SAPA(c)) for c in segformer), 1) == 0.1
    assert millions(sum(count(SAPA(c)) for c in matting), 2) == 0.04
    a2u = [A2U(c) for c in (64, 64, 128, 256)]
    norms = sum(count(m.u_norm) + count(m.v_norm) for m in a2u)
    assert sum(count(m) for m in a2u) == 40_232 and round((40_232 - norms) / 1e3) == 38


# ----------------------------------------------------------------------------------------- SAPA

def test_neighbour_similarity_matches_a_direct_loop():
    generator = torch.Generator().manual_seed(4)
    queries = torch.randn(2, 3, 6, 8, generator=generator, dtype=torch.float64)
    keys = torch.randn(2, 3, 3, 4, generator=generator, dtype=torch.float64)
    sim = neighbour_similarity(queries, keys, 3)
    expected = torch.zeros(2, 9, 6, 8, dtype=torch.float64)
    for py in range(6):
        for px in range(8):
            for dy in range(3):
                for dx in range(3):
                    qy, qx = py // 2 + dy - 1, px // 2 + dx - 1
                    if 0 <= qy < 3 and 0 <= qx < 4:
                        expected[:, dy * 3 + dx, py, px] = (queries[:, :, py, px] * keys[:, :, qy, qx]).sum(1)
    assert torch.allclose(sim, expected, atol=1e-13, rtol=0)


def test_sapa_is_exactly_reassembly_with_its_similarity_kernels():
    torch.manual_seed(5)
    module = SAPA(6).double()
    encoder, decoder = pair()
    assert torch.equal(module(encoder, decoder), ie.reassemble(decoder, module.kernels(encoder, decoder), 5, 2))


@pytest.mark.parametrize("similarity", ["bilinear", "gated"])
def test_sapa_with_uniform_similarity_is_a_fixed_average_over_the_neighbourhood(similarity):
    module = SAPA(6, similarity=similarity).double()
    with torch.no_grad():
        for linear in (module.query, module.query_decoder):
            if linear is not None:
                linear.weight.zero_()
                linear.bias.zero_()
    encoder, decoder = pair()
    assert torch.allclose(module(encoder, decoder), box_upsample(decoder, 5, 2), atol=1e-13, rtol=0)


def test_sapa_inner_averages_when_the_encoder_point_is_featureless():
    """A constant-over-channels encoder point layer-normalises to 0: no affiliation, so SAPA-I
    gives the uniform kernel whatever the decoder holds."""
    module = SAPA(6, similarity="inner").double()
    _, decoder = pair()
    encoder = torch.full((2, 6, 10, 10), 3.0, dtype=torch.float64)
    assert torch.allclose(module(encoder, decoder), box_upsample(decoder, 5, 2), atol=1e-12, rtol=0)


def test_sapa_inner_affiliates_a_point_with_the_decoder_cluster_it_resembles():
    """Two decoder regions with orthogonal ±1 codes: an encoder point carrying one code puts
    almost all kernel mass on that region's neighbours (the boundary sharpness SAPA argues for)."""
    codes = torch.tensor([[1.0] * 8 + [-1.0] * 8, [1.0, -1.0] * 8], dtype=torch.float64)
    decoder = torch.empty(1, 16, 4, 4, dtype=torch.float64)
    decoder[0, :, :, :2] = codes[0].view(16, 1, 1)
    decoder[0, :, :, 2:] = codes[1].view(16, 1, 1)
    encoder = codes[1].view(1, 16, 1, 1).expand(1, 16, 8, 8).contiguous()
    kernels = SAPA(16, k_up=3, similarity="inner").double().kernels(encoder, decoder)
    # the output pixel (2, 3) sits above decoder pixel (1, 1): columns 0-1 are code 0, column 2 is code 1
    kernel = kernels[0, :, 2, 3].view(3, 3)
    assert kernel[:, 2].sum() > 0.999


def test_sapa_g_with_its_gate_open_is_sapa_b_and_shut_queries_with_the_decoder_feature():
    torch.manual_seed(9)
    sapa_b, sapa_g = SAPA(6).double(), SAPA(6, similarity="gated").double()
    assert set(sapa_g.load_state_dict(sapa_b.state_dict(), strict=False).missing_keys) == {
        "query_decoder.weight", "query_decoder.bias", "gate.weight", "gate.bias"}
    encoder, decoder = pair()
    with torch.no_grad():
        sapa_g.gate.weight.zero_()
        sapa_g.gate.bias.fill_(1e4)
    assert torch.equal(sapa_g(encoder, decoder), sapa_b(encoder, decoder))
    with torch.no_grad():  # shut: the query comes from the (raw, nearest-upsampled) decoder feature only
        sapa_g.gate.bias.fill_(-1e4)
    queries = F.linear(decoder.permute(0, 2, 3, 1), sapa_g.query_decoder.weight, sapa_g.query_decoder.bias)
    queries = queries.permute(0, 3, 1, 2).repeat_interleave(2, 2).repeat_interleave(2, 3)
    keys = F.linear(F.layer_norm(decoder.permute(0, 2, 3, 1), (6,), sapa_g.norm_decoder.weight,
                                 sapa_g.norm_decoder.bias), sapa_g.key.weight, sapa_g.key.bias).permute(0, 3, 1, 2)
    expected = torch.softmax(neighbour_similarity(queries, keys, 5), dim=1)
    assert torch.allclose(sapa_g.kernels(encoder, decoder), expected, atol=1e-13, rtol=0)


def test_sapa_out_of_range_neighbours_have_similarity_zero_even_with_key_biases():
    """The authors' kernel leaves an out-of-range similarity at 0 (not q·b_k)."""
    torch.manual_seed(10)
    module = SAPA(6).double()
    with torch.no_grad():
        module.key.bias.fill_(3.0)
    encoder, decoder = pair()
    sim = module.similarities(encoder, decoder)
    assert torch.equal(sim[:, 0, 0, 0], torch.zeros(2, dtype=torch.float64))  # the top-left neighbour of (0, 0)
    assert (sim[:, 12, 0, 0] != 0).all()


@pytest.mark.parametrize("channels, similarity, embedding",
                         [(64, "bilinear", 32), (64, "inner", 32), (8, "bilinear", 4), (64, "gated", 32),
                          (10, "gated", 3)])
def test_sapa_parameter_count_matches_its_formula(channels, similarity, embedding):
    module = SAPA(channels, similarity=similarity, embedding=embedding)
    assert count(module) == sapa_parameter_count(channels, similarity, embedding)
    assert (sapa_parameter_count(256), sapa_parameter_count(64, "inner")) == (17_472, 256)


# ------------------------------------------------------------------------------------------ A2U

def no_affinity(module):
    with torch.no_grad():
        module.u_filter.weight.zero_()
        module.u_filter.bias.zero_()
    return module


def test_a2u_without_affinity_downsamples_by_a_six_by_six_average_and_upsamples_by_a_uniform_box():
    module = no_affinity(A2U(6).double())
    encoder, decoder = pair()
    down_kernels, up_kernels = module(encoder)
    assert torch.allclose(module.downsample(encoder, down_kernels), F.avg_pool2d(F.pad(encoder, (2,) * 4), 6, 2),
                          atol=1e-14, rtol=0)
    assert torch.allclose(ie.reassemble(decoder, up_kernels, 3, 2), box_upsample(decoder, 3, 2), atol=1e-13, rtol=0)


def test_a2u_with_a_two_by_two_down_kernel_and_no_affinity_is_average_pooling():
    module = no_affinity(A2U(6, k_down=2).double())
    encoder, _ = pair()
    assert torch.allclose(module.downsample(encoder, module(encoder)[0]), F.avg_pool2d(encoder, 2), atol=1e-14, rtol=0)


def test_a2u_upsampling_kernel_entries_are_capped_by_the_sigmoid_before_the_softmax():
    """softmax(sigmoid(z)) over 9 entries: at most e/(e + 8) ≈ 0.254, however large z grows."""
    torch.manual_seed(11)
    module = A2U(64).double()
    with torch.no_grad():  # logits ±1e4·a: where the affinity a > 0 only the centre entry saturates at 1
        module.up_weights.weight.zero_()
        module.up_weights.bias.copy_(torch.tensor([1e4 if m == 4 else -1e4 for m in range(9) for _ in range(4)]))
    encoder = torch.randn(2, 64, 16, 16, dtype=torch.float64)
    with torch.no_grad():
        _, up_kernels = module(encoder)
    cap = math.e / (math.e + 8)
    assert up_kernels.max() <= cap + 1e-12 and float(up_kernels.max()) == pytest.approx(cap, abs=1e-9)
    assert torch.allclose(up_kernels.sum(1), torch.ones(2, 16, 16, dtype=torch.float64))


def test_a2u_kernels_are_predicted_from_each_input():
    """The second-order form's filters u, v and mixing weights come from the input itself
    (adaptive pooling): scaling the input changes them, not only the features they filter."""
    torch.manual_seed(12)
    module = A2U(32).double()
    encoder = torch.randn(1, 32, 16, 16, dtype=torch.float64)
    weights = [module.up_weights(F.adaptive_avg_pool2d(x, 1)) for x in (encoder, 2 * encoder)]
    assert not torch.allclose(weights[0], weights[1])
    assert module.affinity(encoder).shape == (1, 1, 8, 8)


def test_kernel_downsample_matches_a_direct_loop_for_even_and_odd_windows():
    generator = torch.Generator().manual_seed(13)
    for k, s, size in [(6, 2, 8), (3, 2, 6), (4, 2, 8), (5, 3, 9), (2, 2, 6)]:
        x = torch.randn(2, 3, size, size, generator=generator, dtype=torch.float64)
        kernels = torch.randn(2, k * k, size // s, size // s, generator=generator, dtype=torch.float64)
        expected = torch.zeros(2, 3, size // s, size // s, dtype=torch.float64)
        offset = (k - 1) // 2
        for row in range(size // s):
            for col in range(size // s):
                for i in range(k):
                    for j in range(k):
                        y, x_ = s * row - offset + i, s * col - offset + j
                        if 0 <= y < size and 0 <= x_ < size:
                            expected[:, :, row, col] += kernels[:, i * k + j, row, col, None] * x[:, :, y, x_]
        assert torch.allclose(kernel_downsample(x, kernels, k, s), expected, atol=1e-13, rtol=0), (k, s)


def test_a2u_group_norm_uses_the_authors_32_groups_where_the_width_allows():
    assert [A2U(c).u_norm.num_groups for c in (16, 48, 64, 256)] == [16, 16, 32, 32]


@pytest.mark.parametrize("channels, scale, k_up, k_down", [(64, 2, 3, 6), (8, 2, 5, 4), (16, 4, 3, 6)])
def test_a2u_parameter_count_matches_its_formula(channels, scale, k_up, k_down):
    assert count(A2U(channels, scale, k_up, k_down)) == a2u_parameter_count(channels, scale, k_up, k_down)
    assert a2u_parameter_count(64) == 5_066


# ------------------------------------------------------------------------------------ bad input

@pytest.mark.parametrize("name", SUCCESSORS)
def test_up_without_the_state_from_down_is_refused(name):
    resampler = ie.create_upsampler(name, 4)
    with pytest.raises(ValueError, match="state=None"):
        resampler.up(torch.randn(1, 4, 4, 4), None)


@pytest.mark.parametrize("name", ["fade", "fade_lite", "sapa", "sapa_g"])
def test_an_encoder_feature_of_the_wrong_size_is_refused_naming_both_shapes(name):
    resampler = ie.create_upsampler(name, 4)
    with pytest.raises(ValueError, match=r"encoder feature must be 1×4×8×8 .* got 1×4×6×6"):
        resampler.up(torch.randn(1, 4, 4, 4), torch.randn(1, 4, 6, 6))


@pytest.mark.parametrize("name", SUCCESSORS)
def test_the_wrong_channel_count_is_refused(name):
    resampler = ie.create_upsampler(name, 4)
    with pytest.raises(ValueError, match="4"):
        resampler.down(torch.randn(1, 3, 8, 8))


@pytest.mark.parametrize("build, error, match", [
    (lambda: FADE(4, k_up=4), ValueError, "k_up must be odd"),
    (lambda: FADE(4, gate="no"), TypeError, "gate must be True or False"),
    (lambda: SAPA(4, similarity="cosine"), ValueError, "similarity"),
    (lambda: SAPA(4, embedding=0), ValueError, "embedding"),
    (lambda: A2U(4, k_down=True), TypeError, "k_down"),
    (lambda: FADE(4, lite="yes"), TypeError, "lite must be True or False"),
    (lambda: ie.create_upsampler("a2u", 4, k_up=2), ValueError, "k_up must be odd"),
])
def test_bad_hyper_parameters_are_refused_clearly(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_the_lessons_special_case_table_is_exact_to_round_off():
    errors = special_case_errors()
    assert len(errors) == 8 and all(error < 1e-12 for error in errors.values()), errors


def test_box_upsample_is_the_mean_of_the_neighbourhood():
    y = torch.arange(9.0, dtype=torch.float64).view(1, 1, 3, 3)
    out = box_upsample(y, 3, 2)
    assert out.shape == (1, 1, 6, 6)
    assert out[0, 0, 2, 3] == y.mean() and out[0, 0, 0, 0] == (0 + 1 + 3 + 4) / 9


@pytest.mark.parametrize("preset", ["laptop", "full"])
@pytest.mark.parametrize("name", SUCCESSORS)
def test_the_laptop_and_gpu_presets_accept_the_successors(preset, name):
    from indexnet_edu.experiments.config import make_config

    config = make_config("matting_noskip", name, preset)
    assert config.upsampler == name and config.preset == preset


@pytest.mark.parametrize("name", SUCCESSORS)
def test_the_cost_benchmark_measures_the_successors(name):
    from indexnet_edu.bench import suite
    from indexnet_edu.bench.cost import cost_table

    row = suite.measure_upsampler(name, 8, 16, "cpu", repeats=1, memory=False)
    assert row["parameters"] == count(ie.create_upsampler(name, 8)) > 0 and row["flops"] > 0
    [cost] = cost_table(8, 16, names=[name])
    assert cost.parameters == row["parameters"] and cost.kernel_source == ie.upsampler_spec(name).kernel_source


@pytest.mark.parametrize("channels, size, k, scale", [(3, 6, 5, 2), (9, 8, 3, 2), (4, 6, 5, 3)])
def test_both_neighbour_gathering_methods_give_the_same_similarities_and_kernels(channels, size, k, scale):
    generator = torch.Generator().manual_seed(14)
    queries = torch.randn(2, channels, scale * size, scale * size, generator=generator, dtype=torch.float64)
    keys = torch.randn(2, channels, size, size, generator=generator, dtype=torch.float64)
    assert torch.allclose(neighbour_similarity(queries, keys, k, "shift"), neighbour_similarity(queries, keys, k),
                          atol=1e-12, rtol=0)
    module = SAPA(channels, scale, k, similarity="inner").double()
    fast = SAPA(channels, scale, k, similarity="inner", method="shift").double()
    assert torch.allclose(fast(queries, keys), module(queries, keys), atol=1e-12, rtol=0)
    with pytest.raises(ValueError, match="method"):
        SAPA(channels, method="loop")
