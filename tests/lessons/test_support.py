"""Bundled images, the quick-mode switch and the cost counters."""
import pytest
import torch

import indexnet_edu as ie
from indexnet_edu.bench.cost import count_flops, count_parameters
from indexnet_edu.lessons.env import environment_report, quick_mode
from indexnet_edu.data.images import IMAGES, load_image


@pytest.mark.parametrize("name", IMAGES)
def test_every_bundled_image_loads_offline_as_a_square_tensor_in_the_unit_range(name):
    image = load_image(name, size=32)
    assert image.shape == (1, 3, 32, 32) and image.dtype == torch.float32
    assert 0 <= image.min() and image.max() <= 1 and image.std() > 0.01


def test_gray_images_have_one_channel():
    assert load_image("astronaut", size=16, gray=True).shape == (1, 1, 16, 16)


def test_an_unknown_image_name_lists_the_bundled_ones():
    with pytest.raises(ValueError, match="name must be one of 'astronaut'"):
        load_image("lena")


@pytest.mark.parametrize("env,expected", [({"CI": "true"}, True), ({}, False), ({"INDEXNET_QUICK": "1"}, True),
                                          ({"CI": "true", "INDEXNET_QUICK": "0"}, False)])
def test_quick_mode_follows_ci_and_the_override(monkeypatch, env, expected):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("INDEXNET_QUICK", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert quick_mode() is expected


def test_environment_report_names_versions_and_device():
    report = environment_report()
    assert report["torch"] == torch.__version__ and report["cuda"] == torch.cuda.is_available()


def test_count_parameters_counts_a_shared_module_once():
    stages = ie.create_upsamplers("din_o2o_modelwise", [4, 8])
    assert count_parameters(stages) == 16


def test_count_flops_counts_a_convolution_as_two_per_multiply_add():
    conv = torch.nn.Conv2d(3, 5, 1, bias=False)
    assert count_flops(conv, torch.randn(1, 3, 4, 4)) == 2 * 3 * 5 * 16


def test_cost_helpers_reject_what_they_cannot_measure():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        count_parameters(3)
    with pytest.raises(TypeError, match="callable"):
        count_flops(3)
