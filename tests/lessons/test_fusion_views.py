"""Lesson 09's package views and the successors in the upsampling explorer."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from indexnet_edu.lessons import fusion_views as fv
from indexnet_edu.data.images import load_image
from indexnet_edu.ops.reassembly import reassemble
from indexnet_edu.experiments.stats import paired_contrast
from indexnet_edu.experiments.results import ResultsTable
from indexnet_edu.widgets.upsampling import (SUCCESSORS, UPSAMPLERS, default_successors, explore_upsampling,
                                             kernel_at, patch_features)

SIZE = 32


@pytest.fixture(scope="module")
def image():
    return load_image("camera", SIZE, gray=True)


@pytest.fixture(scope="module")
def fitted(image):
    return fv.fit_successors(image, 2, steps=15, seed=0)


def test_the_explorer_lists_the_successors_with_kernels_of_their_own_size(image):
    assert set(SUCCESSORS) <= set(UPSAMPLERS)
    view = explore_upsampling(image, 2)
    sizes = {name: kernel_at(view, name, 10, 11).kernel.shape for name in SUCCESSORS}
    assert sizes == {"a2u": (1, 3, 3), "fade_nogate": (1, 5, 5), "sapa_inner": (1, 5, 5)}
    for name in SUCCESSORS:
        assert np.isclose(kernel_at(view, name, 10, 11).kernel.sum(), 1.0, atol=1e-5)


def test_untrained_fade_starts_uniform_a2u_is_capped_and_sapa_is_content_aware(image):
    view = explore_upsampling(image, 2)
    row, col = fv.edge_pixel(image)
    assert 1 / 9 <= fv.kernel_concentration(view, "a2u", row, col) <= np.e / (np.e + 8)
    assert fv.kernel_concentration(view, "fade_nogate", row, col) == pytest.approx(1 / 25, abs=1e-6)
    assert fv.kernel_concentration(view, "sapa_inner", row, col) > 2 / 25


def test_explorer_sapa_is_sapa_inner_on_patch_features(image):
    modules = default_successors(1, 2)
    view = explore_upsampling(image, 2, successor_modules=modules)
    low = F.max_pool2d(image, 2)
    with torch.no_grad():  # SAPA's kernels from the patch features, applied to the image itself
        expected = reassemble(low, modules["sapa_inner"].kernels(patch_features(image), patch_features(low)), 5, 2)
    assert torch.allclose(view.outputs["sapa_inner"], expected, atol=1e-6)


def test_patch_features_hold_each_pixels_neighbourhood():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    features = patch_features(x)
    assert features.shape == (1, 9, 4, 4)
    assert features[0, :, 1, 2].tolist() == x[0, 0, 0:3, 1:4].flatten().tolist()
    assert features[0, 0, 0, 0] == 0  # zeros outside the map


def test_successor_modules_of_another_stride_are_refused(image):
    with pytest.raises(ValueError, match="upsamples by 4, but stride=2"):
        explore_upsampling(image, 2, successor_modules=default_successors(1, 4))
    with pytest.raises(ValueError, match="missing sapa_inner"):
        without_sapa = {k: v for k, v in default_successors(1, 2).items() if k != "sapa_inner"}
        explore_upsampling(image, 2, successor_modules=without_sapa)


def test_fitting_lowers_every_modules_reconstruction_loss(fitted):
    modules, losses = fitted
    assert set(modules) == {"carafe", *SUCCESSORS}
    for name, curve in losses.items():
        assert len(curve) == 15 and curve[-1] < curve[0], name
    assert all(not module.training for module in modules.values())


def test_fitting_leaves_the_callers_rng_alone(image):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    fv.fit_successors(image, 2, steps=1)
    assert torch.equal(torch.rand(3), expected)


def test_edge_pixel_finds_a_step_edge_away_from_the_border():
    image = torch.zeros(1, 1, 20, 20)
    image[..., :, 12:] = 1.0
    row, col = fv.edge_pixel(image)
    assert col in (11, 12) and 4 <= row < 16
    with pytest.raises(ValueError, match="larger than"):
        fv.edge_pixel(torch.zeros(1, 1, 8, 8))


def test_kernels_figure_draws_outputs_and_kernels(image, fitted):
    modules, _ = fitted
    view = explore_upsampling(image, 2, carafe_module=modules["carafe"],
                              successor_modules={name: modules[name] for name in SUCCESSORS})
    fig = fv.kernels_figure(view, *fv.edge_pixel(image))
    assert len(fig.axes) == 2 * 6
    assert sum(len(axis.images) for axis in fig.axes) == 1 + 5 + 5  # input, outputs, kernel grids
    assert "fade_nogate" in fig.axes[6 + 4].get_title() and "k=5" in fig.axes[6 + 4].get_title()


def test_lineage_table_counts_parameters_from_the_registry():
    text = fv.lineage_markdown(["carafe", "sapa_inner"], channels=64)
    assert "| sapa_inner | encoder+decoder |" in text and text.rstrip().endswith("| 256 |")
    with pytest.raises(ValueError, match="no lineage entry"):
        fv.lineage_markdown(["bilinear"])


def test_successor_contrasts_pair_each_arm_with_the_reference():
    metrics = {("matting_noskip", "bilinear"): {"sad": [1.0, 1.1, 0.9, 1.0, 1.2]},
               ("matting_noskip", "fade"): {"sad": [0.8, 0.95, 0.6, 0.85, 1.0]}}
    table = ResultsTable(metrics, {key: list(range(5)) for key in metrics})
    [contrast] = fv.successor_contrasts(table, ["matting_noskip"])
    expected = paired_contrast(metrics[("matting_noskip", "fade")]["sad"],
                               metrics[("matting_noskip", "bilinear")]["sad"], False, arm="fade", reference="bilinear")
    assert contrast.arm == "fade" and contrast.mean == pytest.approx(expected.mean)
    assert contrast.verdict == expected.verdict


def test_machine_gaps_compare_the_same_seeds_of_two_tables():
    values = {("reconstruction", "bilinear"): {"psnr": [20.0, 10.0]}}
    ours = ResultsTable(values={k: dict(v) for k, v in values.items()}, seeds={("reconstruction", "bilinear"): [0, 1]})
    other = ResultsTable(values={("reconstruction", "bilinear"): {"psnr": [19.0, 10.5]}},
                         seeds={("reconstruction", "bilinear"): [0, 1]})
    largest, relative = fv.machine_gaps(ours, other, ["reconstruction"])["reconstruction"]
    assert largest == 1.0 and relative == pytest.approx(1 / 19)
    none = ResultsTable(values={("reconstruction", "bilinear"): {"psnr": [1.0]}}, seeds={("reconstruction", "bilinear"): [7]})
    with pytest.raises(ValueError, match="share no seed"):
        fv.machine_gaps(ours, none, ["reconstruction"])
