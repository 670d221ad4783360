"""Numbers a user may pass are accepted where valid, invalid values are refused at the
boundary."""
import math

import numpy as np
import pytest
import torch

import indexnet_edu as ie
from indexnet_edu.experiments import metrics
from indexnet_edu._checks import check_finite_real, check_nonnegative_int, check_positive_int, check_positive_real
from indexnet_edu.bench.cost import cost_table
from indexnet_edu.data import make_dataset, make_loader, trimap_from_alpha
from indexnet_edu.models import indexnet_matting, keep_known_pixels
from indexnet_edu.experiments.tasks import model_inputs
from indexnet_edu.lessons.toy import train_index_block
from indexnet_edu.experiments.config import make_config
from indexnet_edu.widgets.temperature import temperature_grid


# ---------------------------------------------------------------- kind 3: NumPy scalars are numbers
def test_psnr_accepts_a_numpy_float32_data_range():
    pred, target = np.full((4, 4), 0.5), np.full((4, 4), 0.6)
    assert metrics.psnr(pred, target, data_range=np.float32(1)) == pytest.approx(20.0)


@pytest.mark.parametrize("value", [np.int64(3), np.int32(3), np.uint8(3)])
def test_numpy_ints_count_as_positive_ints(value):
    assert check_positive_int(value, "n") == 3 and type(check_positive_int(value, "n")) is int


@pytest.mark.parametrize("value", [np.float32(0.5), np.float64(0.5), np.int64(2)])
def test_numpy_scalars_count_as_positive_reals(value):
    assert check_positive_real(value, "t") == float(value)


@pytest.mark.parametrize("check", [check_positive_int, check_nonnegative_int, check_positive_real, check_finite_real])
def test_bools_are_never_numbers(check):
    with pytest.raises(TypeError, match="got bool True"):
        check(True, "value")


def test_a_registry_upsampler_accepts_numpy_channel_and_stride_counts():
    pair = ie.create_upsampler("hin", np.int64(4), stride=np.int64(2))
    assert pair(torch.randn(1, 4, 8, 8)).shape == (1, 4, 8, 8)


def test_softmax_index_accepts_a_numpy_temperature():
    x = torch.randn(1, 1, 4, 4)
    assert torch.equal(ie.softmax_index(x, 2, np.float32(0.5)), ie.softmax_index(x, 2, 0.5))


def test_boundary_iou_accepts_a_numpy_dilation_ratio():
    labels = np.zeros((8, 8), np.int64)
    labels[2:6, 2:6] = 1
    assert metrics.boundary_iou(labels, labels, 2, dilation_ratio=np.float32(0.1)) == 1.0


def test_make_config_accepts_numpy_ints_as_plain_ints():
    config = make_config("reconstruction", "nearest", seed=np.int64(2), steps=np.int64(5))
    assert (config.seed, config.steps) == (2, 5) and type(config.seed) is int


def test_make_dataset_and_make_loader_accept_numpy_seeds():
    dataset = make_dataset("reconstruction", n=2, size=16, seed=np.int64(1), cache=False)
    assert len(make_loader(dataset, 2, seed=np.int32(3))) == 1


# ---------------------------------------------------------------- kind 4: invalid values refused
@pytest.mark.parametrize("scope", [math.nan, math.inf, -0.1])
def test_dysample_refuses_a_nan_infinite_or_negative_scope(scope):
    with pytest.raises(ValueError, match="scope must be"):
        ie.DySample(4, scope=scope)


def test_dysample_accepts_a_zero_scope_which_is_plain_bilinear():
    assert ie.DySample(4, scope=0).scope == 0.0


@pytest.mark.parametrize("value", [math.nan, -1.0, 0.0])
def test_softmax_temperature_must_be_positive_and_not_nan(value):
    with pytest.raises(ValueError, match="temperature must be"):
        ie.softmax_index(torch.randn(1, 1, 4, 4), 2, value)


@pytest.mark.parametrize("data_range", [math.nan, math.inf, 0, -1])
def test_psnr_refuses_a_nan_infinite_or_non_positive_data_range(data_range):
    with pytest.raises(ValueError, match="data_range must be"):
        metrics.psnr(np.zeros(4), np.ones(4), data_range=data_range)


def test_psnr_refuses_a_string_data_range_with_a_type_error():
    with pytest.raises(TypeError, match="data_range must be a positive number, got str"):
        metrics.psnr(np.zeros(4), np.ones(4), data_range="1")


@pytest.mark.parametrize("sigma", [math.nan, math.inf, 0.0])
def test_gradient_error_refuses_an_invalid_sigma(sigma):
    alpha = np.random.default_rng(0).random((8, 8))
    with pytest.raises(ValueError, match="sigma must be"):
        metrics.gradient_error(alpha, alpha, np.full((8, 8), 128, np.uint8), sigma=sigma)


def test_boundary_iou_refuses_a_bool_dilation_ratio():
    labels = np.zeros((8, 8), np.int64)
    with pytest.raises(TypeError, match="dilation_ratio"):
        metrics.boundary_iou(labels, labels, 2, dilation_ratio=True)


def test_the_matting_model_refuses_a_0_to_255_trimap():
    model = indexnet_matting().eval()
    x = torch.rand(1, 4, 32, 32)
    x[:, 3] = torch.tensor([0.0, 128.0, 255.0]).repeat(342)[:1024].view(32, 32)
    with pytest.raises(ValueError, match=r"trimap channel x\[:, 3\] must hold values in \[0, 1\].*divide a 0/128/255"):
        model(x)


def test_the_task_inputs_refuse_a_0_to_255_trimap():
    batch = {"image": torch.rand(1, 3, 8, 8), "trimap": torch.full((1, 1, 8, 8), 128.0)}
    with pytest.raises(ValueError, match=r'batch\["trimap"\] must hold values in \[0, 1\]'):
        model_inputs("matting", batch)


def test_keep_known_pixels_refuses_a_nan_trimap():
    with pytest.raises(ValueError, match="trimap must hold values in"):
        keep_known_pixels(torch.rand(1, 1, 4, 4), torch.full((1, 1, 4, 4), math.nan))


def test_make_dataset_refuses_a_trimap_radius_with_low_above_high_at_once():
    with pytest.raises(ValueError, match=r"low <= high, got \(5, 1\)"):
        make_dataset("matting", n=2, size=16, trimap_radius=(5, 1), cache=False)


@pytest.mark.parametrize("radius", [(1.5, 3), (1,), "15", (-1, 2)])
def test_make_dataset_refuses_malformed_trimap_radii(radius):
    with pytest.raises((TypeError, ValueError), match="trimap_radius"):
        make_dataset("matting", n=2, size=16, trimap_radius=radius, cache=False)


def test_make_dataset_refuses_an_option_its_task_does_not_take():
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['trimap_radius'\] for task 'reconstruction'"):
        make_dataset("reconstruction", n=2, size=16, trimap_radius=(1, 2), cache=False)


def test_trimap_from_alpha_refuses_a_nan_radius():
    with pytest.raises(ValueError, match="radius must be a finite number, got nan"):
        trimap_from_alpha(np.zeros((4, 4)), math.nan)


@pytest.mark.parametrize("seed", [1.5, -1, "0", None, 2**32])
def test_make_loader_refuses_a_seed_outside_numpys_seed_range(seed):
    dataset = make_dataset("reconstruction", n=2, size=16, cache=False)
    with pytest.raises((TypeError, ValueError), match=r"seed must be an int in \[0, 4294967295\]"):
        make_loader(dataset, 2, seed=seed)


@pytest.mark.parametrize("shape", [(1, 3, 8, 8), (1, 3, 3, 4, 4), (1, 0, 4, 2, 2)])
def test_normalise_index_refuses_logits_of_the_wrong_shape(shape):
    with pytest.raises(ValueError, match=r"logits must be B×C×s²×h×w with s²=4"):
        ie.normalise_index(torch.randn(shape), 2)


def test_normalise_index_refuses_integer_logits():
    with pytest.raises(TypeError, match="logits must have a floating-point dtype"):
        ie.normalise_index(torch.ones(1, 1, 4, 2, 2, dtype=torch.int64), 2)


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool, "float32"])
def test_bilinear_kernels_refuse_a_non_floating_dtype(dtype):
    with pytest.raises(TypeError, match="dtype must be a floating torch dtype"):
        ie.bilinear_kernels(2, 2, dtype=dtype)


@pytest.mark.parametrize("override", [{"lr": math.nan}, {"lr": math.inf}, {"lr": 0.0}, {"weight_decay": -1.0},
                                      {"widths": (16, 0)}, {"data_seed": 1.5}])
def test_make_config_refuses_invalid_numeric_overrides(override):
    with pytest.raises(ValueError, match=next(iter(override))):
        make_config("reconstruction", "nearest", **override)


def test_train_index_block_refuses_an_infinite_learning_rate():
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got inf"):
        train_index_block(lr=math.inf)


def test_temperature_grid_refuses_an_infinite_bound():
    with pytest.raises(ValueError, match="high must be a finite number > 0"):
        temperature_grid(5, 0.1, math.inf)


def test_cost_table_refuses_a_fractional_seed():
    with pytest.raises(TypeError, match=r"seed must be an int in \[0, 4294967295\], got float 0.5"):
        cost_table(8, 8, names=["nearest"], seed=0.5)


def test_the_temperature_checker_accepts_a_numpy_float_answer():
    from indexnet_edu.lessons.exercises import check_temperature_for_weight

    # np.float32 is not a Python float: it used to be refused as "not a float temperature".
    assert check_temperature_for_weight(
        lambda gap, weight: np.float32(gap) / np.float32(math.log(weight / (1 - weight)))) is True


def test_the_bounds_checker_accepts_numpy_float64_answers():
    from indexnet_edu.lessons.exercises import check_encoder_index_bounds

    def bounds(stride):
        n = stride**2
        return np.float64(1 / (1 + (n - 1) * math.e)), np.float64(math.e / (math.e + n - 1))
    assert check_encoder_index_bounds(bounds) is True


@pytest.mark.parametrize("build", [
    lambda: ie.HolisticIndexBlock(4, nonlinear="no"),
    lambda: ie.DepthwiseIndexBlock(4, context="False"),
    lambda: indexnet_matting("m2o", nonlinear=1),
    lambda: make_dataset("reconstruction", n=2, size=16, augment="yes", cache=False),
])
def test_switches_refuse_values_that_are_not_bools(build):
    with pytest.raises(TypeError, match="must be True or False"):
        build()


def test_switches_accept_numpy_bools():
    assert ie.HolisticIndexBlock(4, nonlinear=np.bool_(True)).nonlinear is True


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_psnr_refuses_non_finite_images(bad):
    pred = np.zeros((4, 4))
    pred[1, 1] = bad
    with pytest.raises(ValueError, match="pred contains NaN or infinite values"):
        metrics.psnr(pred, np.zeros((4, 4)))


def test_register_upsampler_refuses_an_unknown_kernel_source():
    with pytest.raises(ValueError, match="kernel_source must be one of 'fixed', 'decoder', 'encoder', 'learned'"):
        ie.register_upsampler("my_upsampler_x", lambda c, s, shared=None: None, "test", "content")
    assert "my_upsampler_x" not in ie.available_upsamplers()
