"""Every upsampler by name behind one interface: down(x) -> (pooled, state), up(y, state)."""
import pytest
import torch

import indexnet_edu as ie

NAMES = ie.available_upsamplers()
REQUIRED = ["nearest", "bilinear", "deconv", "pixel_shuffle", "max_unpool", "carafe", "dysample", "hin",
            "din_o2o", "din_m2o", "din_o2o_modelwise", "din_o2o_stagewise_shared", "hin_nl_ctx", "din_m2o_nl_ctx"]


def test_the_registry_holds_every_operator_the_lessons_compare():
    assert set(REQUIRED) <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("stride", [2, 4])
def test_each_upsampler_pools_and_restores_the_shape(name, stride):
    torch.manual_seed(0)
    pair = ie.create_upsampler(name, 8, stride)
    x = torch.randn(2, 8, 16, 16)
    pooled, state = pair.down(x)
    assert pooled.shape == (2, 8, 16 // stride, 16 // stride)
    out = pair.up(pooled, state)
    assert out.shape == x.shape and torch.isfinite(out).all()


@pytest.mark.parametrize("name", NAMES)
def test_each_learned_upsampler_gets_gradients(name):
    torch.manual_seed(0)
    pair = ie.create_upsampler(name, 4)
    x = torch.randn(2, 4, 8, 8, requires_grad=True)
    pair(x).square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    for param in pair.parameters():
        assert param.grad is not None, f"{name}: a parameter got no gradient"


@pytest.mark.parametrize("name", NAMES)
def test_each_entry_says_where_its_kernels_come_from(name):
    spec = ie.upsampler_spec(name)
    assert spec.kernel_source in {"fixed", "learned", "encoder", "decoder", "encoder+decoder"}
    assert spec.description


def test_fixed_upsamplers_have_no_parameters_and_learned_ones_do():
    for name in ["nearest", "bilinear", "max_unpool"]:
        assert sum(p.numel() for p in ie.create_upsampler(name, 8).parameters()) == 0
    for name in ["deconv", "pixel_shuffle", "carafe", "dysample", "hin", "din_m2o"]:
        assert sum(p.numel() for p in ie.create_upsampler(name, 8).parameters()) > 0


def test_max_unpool_entry_is_segnet_pooling_and_unpooling():
    x = torch.randn(1, 3, 8, 8)
    pooled, state = ie.create_upsampler("max_unpool", 3).down(x)
    reference, positions = torch.nn.functional.max_pool2d(x, 2, return_indices=True)
    assert torch.equal(pooled, reference)
    restored = ie.create_upsampler("max_unpool", 3).up(pooled, state)
    assert torch.equal(restored, torch.nn.functional.max_unpool2d(reference, positions, 2))


def test_index_entries_pool_with_the_encoder_index_and_upsample_with_the_decoder_index():
    torch.manual_seed(0)
    pair = ie.create_upsampler("din_m2o_nl_ctx", 4).eval()
    x = torch.randn(1, 4, 8, 8)
    enc, dec = pair.block(x)
    pooled, state = pair.down(x)
    assert torch.allclose(pooled, ie.indexed_pool(x, enc))
    assert torch.equal(state, dec)


def test_registering_a_taken_name_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        ie.register_upsampler("nearest", lambda c, s, shared=None: None, "dup", "fixed")


def test_create_upsamplers_builds_one_stage_per_width():
    stages = ie.create_upsamplers("carafe", [8, 16])
    assert [stage.channels for stage in stages] == [8, 16]
    with pytest.raises(TypeError, match="non-empty sequence"):
        ie.create_upsamplers("carafe", 8)


@pytest.mark.parametrize("stride", [1, 2, 3, 4, 5])
def test_deconvolution_restores_exactly_s_times_the_size_for_odd_and_even_strides(stride):
    pair = ie.create_upsampler("deconv", 2, stride)
    assert pair.up(torch.randn(1, 2, 3, 4)).shape == (1, 2, 3 * stride, 4 * stride)


@pytest.mark.parametrize("name", ["din_o2o_modelwise", "din_o2o_stagewise_shared"])
def test_shared_o2o_families_honour_nonlinear_and_context(name):
    linear = ie.create_upsampler(name, 4)
    richer = ie.create_upsampler(name, 4, nonlinear=True, context=True)
    assert richer.block.per_channel.nonlinear and richer.block.per_channel.context
    assert sum(p.numel() for p in richer.parameters()) > sum(p.numel() for p in linear.parameters())
    stages = ie.create_upsamplers(name, [4, 8], nonlinear=True)
    assert all(stage.block.per_channel.nonlinear for stage in stages)
