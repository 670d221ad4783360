"""The light encoder-decoder and the full IndexNet matting model."""
import pytest
import torch

from indexnet_edu.models import LightEncoderDecoder, indexnet_matting, keep_known_pixels
from indexnet_edu.upsamplers.registry import available_upsamplers

pytestmark = pytest.mark.usefixtures("one_thread")


def count(model):
    return sum(p.numel() for p in model.parameters())


def test_indexnet_maxpool_baseline_has_official_parameter_count():
    assert count(indexnet_matting("maxpool")) == 3_753_259


def test_indexnet_m2o_nonlinear_context_has_official_parameter_count():
    assert count(indexnet_matting("m2o", nonlinear=True, context=True)) == 5_953_515


def test_index_blocks_add_exactly_their_own_parameters():
    # Linear HIN without context adds 16·C per pooled stage, C ∈ {32, 24, 32, 64, 160}.
    extra = count(indexnet_matting("holistic")) - count(indexnet_matting("maxpool"))
    assert extra == 16 * (32 + 24 + 32 + 64 + 160)


@pytest.mark.parametrize("index", ["maxpool", "holistic", "o2o", "m2o"])
def test_indexnet_output_is_one_channel_at_input_resolution(index):
    model = indexnet_matting(index).eval()
    with torch.no_grad():
        out = model(torch.rand(1, 4, 32, 32))
    assert out.shape == (1, 1, 32, 32)


def test_indexnet_keeps_trimap_known_pixels_at_inference():
    torch.manual_seed(0)
    x = torch.rand(1, 4, 32, 32)
    x[:, 3] = 0.5
    x[:, 3, :10] = 1.0
    x[:, 3, -10:] = 0.0
    with torch.no_grad():
        alpha = indexnet_matting("m2o", True, True).eval()(x)
    assert torch.all(alpha[0, 0, :10] == 1) and torch.all(alpha[0, 0, -10:] == 0)
    assert alpha.min() >= 0 and alpha.max() <= 1


def test_indexnet_rejects_sizes_not_divisible_by_32():
    with pytest.raises(ValueError, match="divisible by 32"):
        indexnet_matting("maxpool").eval()(torch.rand(1, 4, 48, 48))


def test_indexnet_rejects_unknown_index_kind():
    with pytest.raises(ValueError, match="index"):
        indexnet_matting("avgpool")


def test_keep_known_pixels_leaves_unknown_band_clipped_only():
    alpha = torch.tensor([[[[1.5, -0.2, 0.3]]]])
    trimap = torch.tensor([[[[0.5, 0.5, 0.0]]]])
    assert torch.equal(keep_known_pixels(alpha, trimap), torch.tensor([[[[1.0, 0.0, 0.0]]]]))


@pytest.mark.parametrize("name", available_upsamplers())
def test_light_model_trains_with_every_upsampler(name):
    torch.manual_seed(0)
    model = LightEncoderDecoder(4, 1, name, widths=(8, 16))
    out = model(torch.rand(2, 4, 16, 16))
    out.square().mean().backward()
    assert out.shape == (2, 1, 16, 16)
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_light_model_modelwise_o2o_shares_one_index_function():
    shared = LightEncoderDecoder(3, 3, "din_o2o_modelwise", widths=(8, 16, 32))
    stagewise = LightEncoderDecoder(3, 3, "din_o2o_stagewise_shared", widths=(8, 16, 32))
    plain = LightEncoderDecoder(3, 3, "bilinear", widths=(8, 16, 32))
    assert count(shared) - count(plain) == 16
    assert count(stagewise) - count(plain) == 3 * 16


def test_light_model_without_skips_has_narrower_decoder():
    with_skips = LightEncoderDecoder(3, 3, "nearest", widths=(8, 16))
    without = LightEncoderDecoder(3, 3, "nearest", widths=(8, 16), skips=False)
    assert count(without) < count(with_skips)
    assert without(torch.rand(2, 3, 8, 8)).shape == (2, 3, 8, 8)


def test_light_model_rejects_indivisible_input():
    with pytest.raises(ValueError, match="divisible by 4"):
        LightEncoderDecoder(3, 3, "nearest", widths=(8, 16))(torch.rand(1, 3, 10, 10))


def test_light_model_rejects_unknown_upsampler():
    with pytest.raises(ValueError, match="unknown upsampler"):
        LightEncoderDecoder(3, 3, "bicubic")


def test_light_model_index_maps_have_stage_resolutions():
    maps = LightEncoderDecoder(3, 3, "hin", widths=(8, 16)).eval().index_maps(torch.rand(1, 3, 16, 16))
    assert [tuple(m.shape) for m in maps] == [(1, 1, 16, 16), (1, 1, 8, 8)]
