"""Metrics against hand-computed cases (SAD, MSE, Grad, Conn: Rhemann et al., CVPR 2009; mIoU; Boundary IoU: Cheng et al., CVPR 2021) and properties that must always hold."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from indexnet_edu.experiments import metrics
from indexnet_edu.experiments.metrics import (boundary_band, boundary_iou, connectivity_error, connectivity_levels,
                                              gaussian_gradient_filters, gradient_error, gradient_magnitude, matting_metrics,
                                              mean_matting_metrics, miou, mse, psnr, sad)

U, F, B = 128, 255, 0


def three_unknown_case():
    """3×3 maps with 3 unknown pixels whose differences are 0.2, 0.5, 0.3; known pixels differ wildly."""
    gt = np.array([[0.0, 0.2, 1.0], [0.5, 0.0, 1.0], [0.0, 0.3, 1.0]])
    pred = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.6, 0.0]])
    trimap = np.array([[B, U, F], [U, B, F], [B, U, F]], dtype=np.uint8)
    return pred, gt, trimap


# ---------------------------------------------------------------- SAD and MSE
def test_sad_sums_absolute_differences_of_unknown_pixels_over_1000():
    pred, gt, trimap = three_unknown_case()
    assert sad(pred, gt, trimap) == pytest.approx((0.2 + 0.5 + 0.3) / 1000)


def test_mse_divides_by_the_number_of_unknown_pixels():
    pred, gt, trimap = three_unknown_case()
    assert mse(pred, gt, trimap) == pytest.approx((0.04 + 0.25 + 0.09) / 3)


@pytest.mark.parametrize("metric", [sad, mse])
def test_pointwise_errors_ignore_known_pixels(metric):
    pred, gt, trimap = three_unknown_case()
    changed = pred.copy()
    changed[trimap != U] = 0.5
    assert metric(changed, gt, trimap) == metric(pred, gt, trimap)


def test_gradient_error_ignores_known_pixels_beyond_the_filter_reach():
    rng = np.random.default_rng(0)
    gt, pred = rng.uniform(0.1, 0.9, (20, 20)), rng.uniform(0.1, 0.9, (20, 20))
    gt[0, 0], pred[0, 0] = 0.0, 0.0  # fix min and max so the normalisation cannot move
    gt[0, 1], pred[0, 1] = 1.0, 1.0
    trimap = np.zeros((20, 20), np.uint8)
    trimap[10:14, 10:14] = U
    changed = pred.copy()
    changed[:5, 15:] = 0.5  # more than the 4-px half width away from every unknown pixel
    assert gradient_error(changed, gt, trimap) == gradient_error(pred, gt, trimap)
    changed[9, 9] = 0.95  # next to the band: now it must count
    assert gradient_error(changed, gt, trimap) != gradient_error(pred, gt, trimap)


def test_mse_with_no_unknown_pixel_raises():
    with pytest.raises(ValueError, match="no unknown pixels"):
        mse(np.zeros((2, 2)), np.ones((2, 2)), np.zeros((2, 2), np.uint8))


# ---------------------------------------------------------------- gradient
def test_gradient_filter_is_9x9_for_sigma_1_4():
    hx, hy = gaussian_gradient_filters(1.4)
    # half width = ceil(1.4·sqrt(−2 ln(√(2π)·1.4·0.01))) = ceil(1.4·2.588) = ceil(3.62) = 4
    assert hx.shape == (9, 9)
    assert np.array_equal(hy, hx.T)


def test_gradient_filter_is_gauss_times_derivative_with_unit_norm():
    hx, _ = gaussian_gradient_filters(1.4)
    sigma = 1.4
    u = np.arange(-4, 5)
    g = np.exp(-u ** 2 / (2 * sigma ** 2)) / (sigma * np.sqrt(2 * np.pi))
    dg = -u * g / sigma ** 2
    raw = np.outer(g, dg)
    assert np.allclose(hx, raw / np.sqrt((raw ** 2).sum()))
    assert np.sum(hx ** 2) == pytest.approx(1.0)


def test_gradient_of_a_horizontal_ramp_points_along_x_only():
    ramp = np.tile(np.linspace(0, 1, 20), (20, 1))
    hx, hy = gaussian_gradient_filters(1.4)
    magnitude = gradient_magnitude(ramp)
    inner = magnitude[5:-5, 5:-5]
    step = 1 / 19
    # true convolution of a ramp: Σ_u hx(u)·(x − u)·step = −step·Σ_{i,j} j·hx(i, j)
    expected = -step * np.sum(np.arange(-4, 5)[None, :] * hx)
    assert expected > 0
    assert np.allclose(inner, expected)


def reference_gradient_error(pred, gt, trimap, sigma=1.4):
    """An independent, loop-based implementation of the Grad error (Rhemann et al., CVPR 2009) for small maps."""
    hx, hy = gaussian_gradient_filters(sigma)
    half = hx.shape[0] // 2

    def normalise(a):
        return (a - a.min()) / (a.max() - a.min())

    def conv(image, kernel):
        padded = np.pad(image, half, mode="edge")
        out = np.zeros_like(image)
        for y in range(image.shape[0]):
            for x in range(image.shape[1]):
                total = 0.0
                for i in range(-half, half + 1):
                    for j in range(-half, half + 1):
                        total += kernel[i + half, j + half] * padded[y - i + half, x - j + half]
                out[y, x] = total
        return out

    amplitude = [np.hypot(conv(normalise(a), hx), conv(normalise(a), hy)) for a in (pred, gt)]
    return ((amplitude[0] - amplitude[1]) ** 2)[trimap == U].sum() / 1000


def test_gradient_error_matches_an_explicit_convolution_loop():
    rng = np.random.default_rng(1)
    pred, gt = rng.uniform(0, 1, (7, 6)), rng.uniform(0, 1, (7, 6))
    trimap = np.where(rng.uniform(size=(7, 6)) < 0.6, U, F).astype(np.uint8)
    assert gradient_error(pred, gt, trimap) == pytest.approx(reference_gradient_error(pred, gt, trimap), rel=1e-12)


def test_gradient_error_is_zero_for_identical_maps():
    alpha = np.random.default_rng(2).uniform(0, 1, (16, 16))
    assert gradient_error(alpha, alpha, np.full((16, 16), U, np.uint8)) == 0.0


def test_gradient_error_is_positive_and_symmetric_for_different_maps():
    rng = np.random.default_rng(3)
    a, b = rng.uniform(0, 1, (16, 16)), rng.uniform(0, 1, (16, 16))
    trimap = np.full((16, 16), U, np.uint8)
    assert gradient_error(a, b, trimap) > 0
    assert gradient_error(a, b, trimap) == pytest.approx(gradient_error(b, a, trimap))


def test_gradient_error_ignores_affine_rescaling_because_of_min_max_normalisation():
    rng = np.random.default_rng(4)
    a, b = rng.uniform(0, 1, (16, 16)), rng.uniform(0, 1, (16, 16))
    trimap = np.full((16, 16), U, np.uint8)
    assert gradient_error(0.5 * a + 0.2, 0.3 * b + 0.6, trimap) == pytest.approx(gradient_error(a, b, trimap))


# ---------------------------------------------------------------- connectivity
# One row, six pixels. Thresholds 0.1 … 1.0; Ω_t = largest 4-component of (pred ≥ t ∧ gt ≥ t).
#   t = 0.1: mask 1 1 1 0 1 1 → Ω = {0, 1, 2} (size 3 beats 2); pixels 3, 4, 5 get l = 0.0
#   t = 0.8: pixel 2 (0.7) leaves → l = 0.7;  t = 0.9: pixel 1 (gt 0.8) leaves → l = 0.8
#   pixel 0 stays through t = 1.0 → l = 1
CONN_GT = np.array([[1.0, 0.8, 0.7, 0.0, 0.9, 0.9]])
CONN_PRED = np.array([[1.0, 1.0, 0.7, 0.0, 0.9, 0.5]])


def test_connectivity_levels_by_hand():
    assert np.array_equal(connectivity_levels(CONN_PRED, CONN_GT), [[1.0, 0.8, 0.7, 0.0, 0.0, 0.0]])


def test_connectivity_error_by_hand():
    # d_pred = [0, .2, 0, 0, .9, .5] → φ = [1, .8, 1, 1, .1, .5]
    # d_gt   = [0,  0, 0, 0, .9, .9] → φ = [1,  1, 1, 1, .1, .1]   Σ|Δφ| = 0.2 + 0.4
    trimap = np.full((1, 6), U, np.uint8)
    assert connectivity_error(CONN_PRED, CONN_GT, trimap) == pytest.approx(0.6 / 1000)


def test_connectivity_error_counts_only_unknown_pixels():
    trimap = np.array([[U, U, U, U, U, F]], np.uint8)
    assert connectivity_error(CONN_PRED, CONN_GT, trimap) == pytest.approx(0.2 / 1000)


def test_connectivity_breaks_ties_in_matlab_column_major_order():
    # two single-pixel components: row-major meets (0, 1) first, column-major (1, 0)
    alpha = np.array([[0.0, 0.5], [0.5, 0.0]])
    assert np.array_equal(connectivity_levels(alpha, alpha), [[0.0, 0.0], [0.5, 0.0]])


def test_connectivity_thresholds_include_values_exactly_at_a_step():
    # 153/255 = 0.6 exactly as a double; it must pass the t = 0.6 test (6 × 0.1 would be 0.6000000000000001)
    alpha = np.array([[153 / 255]])
    assert connectivity_levels(alpha, alpha)[0, 0] == 0.6


def reference_connectivity_error(pred, gt, trimap):
    """The Conn error (Rhemann et al., CVPR 2009) with a plain flood fill; components numbered in column-major scan order."""
    height, width = pred.shape
    levels = np.full(pred.shape, -1.0)
    previous = 0.0
    for k in range(1, 11):
        t = k / 10
        mask = (pred >= t) & (gt >= t)
        seen = np.zeros(mask.shape, bool)
        best = []
        for x in range(width):          # column-major, like MATLAB
            for y in range(height):
                if mask[y, x] and not seen[y, x]:
                    component, stack = [], [(y, x)]
                    seen[y, x] = True
                    while stack:
                        cy, cx = stack.pop()
                        component.append((cy, cx))
                        for ny, nx in ((cy - 1, cx), (cy + 1, cx), (cy, cx - 1), (cy, cx + 1)):
                            if 0 <= ny < height and 0 <= nx < width and mask[ny, nx] and not seen[ny, nx]:
                                seen[ny, nx] = True
                                stack.append((ny, nx))
                    if len(component) > len(best):  # strictly larger: the first of equals wins
                        best = component
        omega = np.zeros(mask.shape, bool)
        for cy, cx in best:
            omega[cy, cx] = True
        levels[(levels == -1) & ~omega] = previous
        previous = t
    levels[levels == -1] = 1.0
    phi = [1 - (a - levels) * ((a - levels) >= 0.15) for a in (pred, gt)]
    return np.abs(phi[0] - phi[1])[trimap == U].sum() / 1000


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, (5, 6), elements=st.sampled_from([0.0, 0.05, 0.3, 0.55, 0.8, 0.95, 1.0])),
       arrays(np.float64, (5, 6), elements=st.sampled_from([0.0, 0.05, 0.3, 0.55, 0.8, 0.95, 1.0])))
def test_connectivity_error_matches_a_flood_fill_reference(pred, gt):
    trimap = np.full(pred.shape, U, np.uint8)
    trimap[0, :] = F
    assert connectivity_error(pred, gt, trimap) == pytest.approx(reference_connectivity_error(pred, gt, trimap))


# ---------------------------------------------------------------- inputs
def test_float_trimap_0_half_1_gives_the_same_errors_as_uint8():
    pred, gt, trimap = three_unknown_case()
    unit = np.select([trimap == U, trimap == F], [0.5, 1.0], 0.0).astype(np.float32)
    assert matting_metrics(pred, gt, unit) == matting_metrics(pred, gt, trimap)


def test_tensors_and_1xHxW_maps_are_accepted():
    pred, gt, trimap = three_unknown_case()
    as_tensor = matting_metrics(torch.tensor(pred)[None], torch.tensor(gt, dtype=torch.float32)[None],
                                torch.tensor(trimap)[None])
    assert as_tensor == pytest.approx(matting_metrics(pred, gt.astype(np.float32), trimap))


@pytest.mark.parametrize("pred, gt, trimap, error, match", [
    (np.zeros((3, 3)), np.zeros((3, 4)), np.zeros((3, 3), np.uint8), ValueError, "same shape"),
    (np.zeros((3, 3)), np.zeros((3, 3)), np.zeros((3, 4), np.uint8), ValueError, "trimap has shape"),
    (np.zeros((3, 3)), np.zeros((3, 3)), np.full((3, 3), 100, np.uint8), ValueError, "0, 128 and 255"),
    (np.zeros((3, 3)), np.zeros((3, 3)), np.full((3, 3), 0.3), ValueError, "0, 0.5 and 1"),
    (np.zeros((3, 3), np.uint8), np.zeros((3, 3)), np.zeros((3, 3), np.uint8), TypeError, "floating dtype"),
    (np.full((3, 3), 1.5), np.zeros((3, 3)), np.zeros((3, 3), np.uint8), ValueError, r"\[0, 1\]"),
    (np.full((3, 3), np.nan), np.zeros((3, 3)), np.zeros((3, 3), np.uint8), ValueError, "NaN"),
    ([[0.0]], np.zeros((1, 1)), np.zeros((1, 1), np.uint8), TypeError, "NumPy array or a torch tensor"),
    (np.zeros((2, 3, 3)), np.zeros((2, 3, 3)), np.zeros((3, 3), np.uint8), ValueError, "2-D"),
    (np.zeros((3, 3)), np.zeros((3, 3)), np.zeros((3, 3), bool), TypeError, "uint8"),
])
def test_bad_matting_inputs_raise_clear_errors(pred, gt, trimap, error, match):
    with pytest.raises(error, match=match):
        sad(pred, gt, trimap)


def test_mean_matting_metrics_averages_per_image_errors():
    pred, gt, trimap = three_unknown_case()
    preds = np.stack([pred, gt])[:, None]
    gts = np.stack([gt, gt])[:, None]
    trimaps = np.stack([trimap, trimap])
    single = matting_metrics(pred, gt, trimap)
    assert mean_matting_metrics(preds, gts, trimaps) == pytest.approx({k: v / 2 for k, v in single.items()})


# ---------------------------------------------------------------- properties
alpha_maps = arrays(np.float64, (6, 7), elements=st.floats(0, 1, allow_nan=False))


@settings(max_examples=40, deadline=None)
@given(alpha_maps, alpha_maps)
def test_every_matting_error_is_symmetric_and_non_negative(a, b):
    trimap = np.full(a.shape, U, np.uint8)
    for name, value in matting_metrics(a, b, trimap).items():
        assert value >= 0, name
        assert value == pytest.approx(matting_metrics(b, a, trimap)[name], abs=1e-12), name


@settings(max_examples=40, deadline=None)
@given(alpha_maps)
def test_every_matting_error_is_zero_for_a_perfect_prediction(a):
    trimap = np.full(a.shape, U, np.uint8)
    assert matting_metrics(a, a, trimap) == {"sad": 0.0, "mse": 0.0, "grad": 0.0, "conn": 0.0}


@settings(max_examples=40, deadline=None)
@given(alpha_maps, alpha_maps)
def test_sad_and_mse_are_bounded_by_the_unknown_area(a, b):
    trimap = np.full(a.shape, U, np.uint8)
    assert sad(a, b, trimap) <= a.size / 1000 + 1e-12
    assert mse(a, b, trimap) <= 1.0


# ---------------------------------------------------------------- PSNR
def test_psnr_of_mse_0_01_is_20_db():
    assert psnr(np.zeros(4), np.full(4, 0.1)) == pytest.approx(20.0)


def test_psnr_scales_with_data_range():
    assert psnr(np.zeros(4), np.full(4, 25.5), data_range=255.0) == pytest.approx(20.0)


def test_psnr_of_identical_images_is_infinite():
    image = torch.rand(3, 8, 8)
    assert psnr(image, image) == math.inf


# ---------------------------------------------------------------- mIoU and boundary IoU
SEG_GT = np.array([[0, 0, 1], [1, 2, 2]])
SEG_PRED = np.array([[0, 1, 1], [1, 2, 0]])


def test_miou_by_hand():
    # class 0: ∩1 ∪3; class 1: ∩2 ∪3; class 2: ∩1 ∪2  →  (1/3 + 2/3 + 1/2) / 3 = 0.5
    assert miou(SEG_PRED, SEG_GT, 3) == pytest.approx(0.5)


def test_miou_skips_classes_absent_from_both_maps():
    assert miou(SEG_PRED, SEG_GT, 5) == pytest.approx(0.5)


def test_miou_rejects_labels_out_of_range_and_float_maps():
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        miou(SEG_PRED, SEG_GT, 2)
    with pytest.raises(TypeError, match="integer class ids"):
        miou(SEG_PRED.astype(float), SEG_GT, 3)


def test_boundary_band_of_a_full_square_is_its_outer_ring():
    band = boundary_band(np.ones((5, 5), bool), width=1)
    assert band.sum() == 16 and not band[1:4, 1:4].any()


def test_boundary_iou_by_hand():
    # 6×6; gt: class 1 in columns 0–2, pred: class 1 in columns 0–1; width 1.
    # class 1: gt band 14 px, pred band 12 px, ∩ 8  → 8/18;  class 0: bands 14 and 16, ∩ 10 → 10/20
    gt = np.zeros((6, 6), np.int64)
    gt[:, :3] = 1
    pred = np.zeros((6, 6), np.int64)
    pred[:, :2] = 1
    assert boundary_iou(pred, gt, 2, width=1) == pytest.approx((8 / 18 + 10 / 20) / 2)


@settings(max_examples=25, deadline=None)
@given(arrays(np.int64, (9, 9), elements=st.integers(0, 3)))
def test_boundary_iou_and_miou_are_one_for_identical_maps(labels):
    assert boundary_iou(labels, labels, 4) == 1.0
    assert miou(labels, labels, 4) == 1.0


@settings(max_examples=25, deadline=None)
@given(arrays(np.int64, (2, 8, 8), elements=st.integers(0, 2)), arrays(np.int64, (2, 8, 8), elements=st.integers(0, 2)))
def test_boundary_iou_and_miou_lie_between_0_and_1(a, b):
    assert 0.0 <= boundary_iou(a, b, 3) <= 1.0
    assert 0.0 <= miou(a, b, 3) <= 1.0


def test_psnr_of_8_bit_images_uses_their_range():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 256, (2, 16, 16), dtype=np.uint8)
    expected = metrics.psnr(a / 255, b / 255)
    assert abs(metrics.psnr(a, b) - expected) < 1e-9
    assert abs(metrics.psnr(torch.from_numpy(a), torch.from_numpy(b)) - expected) < 1e-9
    assert abs(metrics.psnr(a, b, data_range=255) - expected) < 1e-9  # the same, said explicitly
    sixteen = (a.astype(np.uint16) * 257, b.astype(np.uint16) * 257)
    assert abs(metrics.psnr(*sixteen) - expected) < 1e-9


@pytest.mark.parametrize("pair", [
    (np.zeros((4, 4), np.int16), np.ones((4, 4), np.int16)),        # signed: no range to infer
    (np.zeros((4, 4), np.uint8), np.ones((4, 4), np.float32)),      # one 8-bit, one float
    (np.zeros((4, 4), np.uint8), np.ones((4, 4), np.uint16)),       # two different ranges
    (np.zeros((4, 4), bool), np.ones((4, 4), bool)),
])
def test_psnr_refuses_to_guess_a_range(pair):
    with pytest.raises(TypeError, match="pass data_range"):
        metrics.psnr(*pair)
    assert metrics.psnr(*pair, data_range=1.0) == metrics.psnr(*(p.astype(np.float64) for p in pair), data_range=1.0)


@pytest.mark.parametrize("make", [lambda x: x.astype(np.complex64), lambda x: torch.from_numpy(x) * (1 + 1j)])
def test_every_metric_refuses_complex_input(make):
    real = np.random.default_rng(1).random((8, 8))
    trimap = np.full((8, 8), 128, np.uint8)
    labels = np.zeros((8, 8), np.int64)
    calls = [lambda: metrics.psnr(make(real), real), lambda: metrics.psnr(real, make(real)),
             lambda: metrics.sad(make(real), real, trimap), lambda: metrics.matting_metrics(real, make(real), trimap),
             lambda: metrics.miou(make(labels), labels, 2)]
    for call in calls:
        with pytest.raises(TypeError, match="complex"):
            call()


def test_gradient_magnitude_of_an_8_bit_map_is_filtered_in_float_not_wrapped():
    image = np.random.default_rng(2).integers(0, 256, (16, 16), dtype=np.uint8)
    expected = metrics.gradient_magnitude(image.astype(np.float64))
    assert metrics.gradient_magnitude(image).dtype == np.float64
    assert np.allclose(metrics.gradient_magnitude(image), expected)
    assert np.allclose(metrics.gradient_magnitude(torch.from_numpy(image)), expected)


def test_connectivity_levels_refuse_8_bit_mattes_whose_thresholds_would_mean_nothing():
    matte = np.full((8, 8), 200, np.uint8)
    with pytest.raises(TypeError, match="pred must have a floating dtype"):
        metrics.connectivity_levels(matte, matte)
    assert np.array_equal(metrics.connectivity_levels(matte / 255, matte / 255),
                          metrics.connectivity_levels((matte / 255).astype(np.float32), matte / 255))


@pytest.mark.parametrize("call, name", [
    (lambda c: metrics.gradient_magnitude(c), "alpha"),
    (lambda c: metrics.connectivity_levels(c, np.zeros((4, 4))), "pred"),
    (lambda c: metrics.iou_per_class(c), "confusion"),
    (lambda c: metrics.boundary_band(c, 1), "mask"),
])
def test_helper_metrics_refuse_complex_input_by_name(call, name):
    complex_map = np.full((4, 4), 0.5 + 0.5j)
    with pytest.raises(TypeError, match=f"{name} must be real, got the complex dtype complex128"):
        call(complex_map)
    with pytest.raises(TypeError, match=f"{name} must be real"):
        call(torch.from_numpy(complex_map))


@pytest.mark.parametrize("width", [0, -1, 1.5])
def test_boundary_band_refuses_a_width_scipy_would_read_as_erode_until_empty(width):
    with pytest.raises((TypeError, ValueError), match="width must be a positive int"):
        metrics.boundary_band(np.ones((6, 6), bool), width)


def test_iou_per_class_refuses_a_matrix_that_is_not_counts():
    with pytest.raises(ValueError, match="confusion must be a square K×K matrix"):
        metrics.iou_per_class(np.ones((2, 3)))
    with pytest.raises(ValueError, match="finite non-negative counts"):
        metrics.iou_per_class(-np.eye(2))
    assert np.array_equal(metrics.iou_per_class([[1, 0], [0, 1]]), [1.0, 1.0])  # a nested list is fine
