"""A2U, FADE and SAPA (issue 13): shapes, gradients, the special cases their equations give,
parameter counts against the docstring formulas, clear refusals.

The papers' own per-operator parameter counts could not be read from the sources available
here, so counts are checked against the formulas only (each derived from the layers)."""
import pytest
import torch
import torch.nn.functional as F

import indexnet_edu as ie
from indexnet_edu.a2u import A2U, a2u_parameter_count
from indexnet_edu.fade import FADE, fade_parameter_count, mix
from indexnet_edu.lessons.fusion_views import box_upsample, special_case_errors
from indexnet_edu.sapa import SAPA, neighbour_similarity, sapa_parameter_count

SUCCESSORS = ["a2u", "fade", "fade_nogate", "sapa", "sapa_inner"]


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
    for name in ["fade", "fade_nogate", "sapa", "sapa_inner"]:
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


def test_fade_without_kernel_weights_is_a_uniform_average_over_the_neighbourhood():
    module = FADE(6, gate=False).double()
    with torch.no_grad():
        module.from_encoder.weight.zero_()
        module.from_decoder.weight.zero_()
    encoder, decoder = pair()
    assert torch.allclose(module(encoder, decoder), box_upsample(decoder, 5, 2), atol=1e-13, rtol=0)


def test_fade_semi_shift_kernels_without_the_encoder_share_one_kernel_per_low_res_pixel():
    """W_e = 0 leaves the decoder half of the semi-shift window, which moves once per s output
    pixels: the s×s outputs above one decoder pixel share a kernel (CARAFE's case without
    sub-pixel kernels). With the encoder half on, they differ."""
    torch.manual_seed(2)
    module = FADE(6).double()
    encoder, decoder = pair()
    with torch.no_grad():
        module.from_decoder.weight.normal_()
        module.from_encoder.weight.normal_()
    both = module.kernels(encoder, decoder)
    assert not torch.allclose(both[..., 0::2, :], both[..., 1::2, :])
    with torch.no_grad():
        module.from_encoder.weight.zero_()
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


@pytest.mark.parametrize("channels, k_up, c_mid, gate", [(64, 5, 64, True), (64, 5, 64, False), (8, 3, 16, True)])
def test_fade_parameter_count_matches_its_formula(channels, k_up, c_mid, gate):
    assert count(FADE(channels, k_up=k_up, c_mid=c_mid, gate=gate)) == fade_parameter_count(channels, k_up, c_mid, gate)
    assert fade_parameter_count(64) == 37_210  # the number quoted in the module docstring


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


def test_sapa_with_uniform_similarity_is_a_fixed_average_over_the_neighbourhood():
    module = SAPA(6).double()
    with torch.no_grad():
        module.query.weight.zero_()
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


@pytest.mark.parametrize("channels, similarity, embedding",
                         [(64, "bilinear", 32), (64, "inner", 32), (8, "bilinear", 4)])
def test_sapa_parameter_count_matches_its_formula(channels, similarity, embedding):
    module = SAPA(channels, similarity=similarity, embedding=embedding)
    assert count(module) == sapa_parameter_count(channels, similarity, embedding)
    assert (sapa_parameter_count(64), sapa_parameter_count(64, "inner")) == (4_352, 256)


# ------------------------------------------------------------------------------------------ A2U

def test_a2u_without_affinity_pools_by_average_and_upsamples_by_a_uniform_box():
    module = A2U(6).double()
    with torch.no_grad():
        module.q_pointwise.weight.zero_()
    encoder, decoder = pair()
    pool_index, kernels = module(encoder)
    assert torch.allclose(module.pool(encoder, pool_index), F.avg_pool2d(encoder, 2), atol=1e-14, rtol=0)
    assert torch.allclose(ie.reassemble(decoder, kernels, 3, 2), box_upsample(decoder, 3, 2), atol=1e-13, rtol=0)


def test_a2u_kernels_are_second_order_in_the_encoder_feature():
    torch.manual_seed(6)
    module = A2U(6).double()
    with torch.no_grad():
        module.q_pointwise.weight.normal_()
    encoder, _ = pair()
    assert torch.allclose(module.logits(3 * encoder), 9 * module.logits(encoder), atol=1e-11, rtol=1e-12)
    assert torch.allclose(module.logits(-encoder), module.logits(encoder), atol=1e-12, rtol=0)


def test_a2u_with_a_one_by_one_kernel_is_nearest_upsampling():
    torch.manual_seed(7)
    resampler = ie.create_upsampler("a2u", 6, k_up=1).double()
    x = torch.randn(2, 6, 8, 8, dtype=torch.float64)
    pooled, kernels = resampler.down(x)
    assert torch.equal(resampler.up(pooled, kernels), F.interpolate(pooled, scale_factor=2, mode="nearest"))


def test_a2u_pooling_index_sums_to_one_in_every_window():
    torch.manual_seed(8)
    module = A2U(6, scale=3)
    with torch.no_grad():
        module.q_pointwise.weight.normal_()
    pool_index, kernels = module(torch.randn(2, 6, 9, 9))
    assert torch.allclose(F.avg_pool2d(pool_index, 3) * 9, torch.ones(2, 1, 3, 3), atol=1e-5)
    assert torch.allclose(kernels.sum(1), torch.ones(2, 9, 9), atol=1e-5)


@pytest.mark.parametrize("channels, scale, k_up, rank", [(64, 2, 3, 1), (8, 2, 5, 2), (16, 4, 3, 1)])
def test_a2u_parameter_count_matches_its_formula(channels, scale, k_up, rank):
    assert count(A2U(channels, scale, k_up, rank)) == a2u_parameter_count(channels, scale, k_up, rank)
    assert a2u_parameter_count(64) == 5_632


# ------------------------------------------------------------------------------------ bad input

@pytest.mark.parametrize("name", SUCCESSORS)
def test_up_without_the_state_from_down_is_refused(name):
    resampler = ie.create_upsampler(name, 4)
    with pytest.raises(ValueError, match="state=None"):
        resampler.up(torch.randn(1, 4, 4, 4), None)


@pytest.mark.parametrize("name", ["fade", "sapa"])
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
    (lambda: A2U(4, rank=True), TypeError, "rank"),
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
    from indexnet_edu.train import make_config

    config = make_config("matting_noskip", name, preset)
    assert config.upsampler == name and config.preset == preset


@pytest.mark.parametrize("name", SUCCESSORS)
def test_the_cost_benchmark_measures_the_successors(name):
    from indexnet_edu.bench import suite
    from indexnet_edu.lessons.comparison import cost_table

    row = suite.measure_upsampler(name, 8, 16, "cpu", repeats=1, memory=False)
    assert row["parameters"] == count(ie.create_upsampler(name, 8)) > 0 and row["flops"] > 0
    [cost] = cost_table(8, 16, names=[name])
    assert cost.parameters == row["parameters"] and cost.kernel_source == ie.upsampler_spec(name).kernel_source
