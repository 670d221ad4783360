"""Evaluation metrics: matting (SAD, MSE, Grad, Conn), PSNR, mIoU and boundary IoU.

The matting errors follow Rhemann et al. (2009) as implemented in the Deep Image
Matting evaluation code — scaling included: SAD, Grad and Conn are divided by 1000, MSE by
the number of unknown pixels. All four are computed on the unknown region of the trimap only.

Inputs: alpha mattes are 2-D H×W (or 1×H×W) NumPy arrays or torch tensors of a floating
dtype with values in [0, 1]. The trimap is uint8 (or any integer dtype) with values
0 / 128 / 255; a floating trimap with values 0 / 0.5 / 1 (what :mod:`indexnet_edu.data`
returns) is accepted too and read as 0 / 128 / 255. Everything is computed in float64.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
from scipy import ndimage

from .._checks import check_positive_int, check_positive_real

UNKNOWN = 128
CONNECTIVITY_THRESHOLDS = np.arange(1, 11) / 10  # 0.1 … 1.0, each the double nearest k/10
CONNECTIVITY_MIN_DROP = 0.15
GRADIENT_SIGMA = 1.4
SCALE = 1000.0


# ---------------------------------------------------------------- input checks
def _to_numpy(value, name: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.dtype in (torch.bfloat16, torch.float16):
            value = value.float()
        value = value.resolve_conj().numpy() if value.is_complex() else value.numpy()
    elif not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array or a torch tensor, got {type(value).__name__}")
    if np.iscomplexobj(value):  # casting to float would silently drop the imaginary part
        raise TypeError(f"{name} must be real, got the complex dtype {value.dtype}")
    return value


def _real_array(value, name: str) -> np.ndarray:
    """A tensor, array or nested list as a real NumPy array (TypeError for complex values)."""
    if not isinstance(value, (torch.Tensor, np.ndarray)):
        try:
            value = np.asarray(value)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be an array, got {type(value).__name__}") from None
    return _to_numpy(value, name)


def _squeeze_map(array: np.ndarray, name: str) -> np.ndarray:
    """H×W or 1×H×W → H×W."""
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D H×W (or 1×H×W) map, got shape {tuple(array.shape)}")
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {tuple(array.shape)}): a metric needs at least one pixel")
    return array


def as_alpha(value, name: str = "alpha") -> np.ndarray:
    """A matte as an H×W float64 array, checked to be finite and within [0, 1]."""
    array = _squeeze_map(_to_numpy(value, name), name)
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"{name} must have a floating dtype with values in [0, 1], got {array.dtype} "
                        "(divide an 8-bit matte by 255 first)")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    low, high = float(array.min()), float(array.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got values in [{low:.4g}, {high:.4g}] (clip it first)")
    return array


def as_trimap(value, shape=None, name: str = "trimap") -> np.ndarray:
    """A trimap as H×W uint8 with values in {0, 128, 255}; a float {0, 0.5, 1} trimap is converted."""
    array = _squeeze_map(_to_numpy(value, name), name)
    if np.issubdtype(array.dtype, np.floating):
        values = set(np.unique(array).tolist())
        if not values <= {0.0, 0.5, 1.0}:
            raise ValueError(f"a floating trimap must hold only 0, 0.5 and 1, got values {sorted(values)[:6]}")
        scaled = np.zeros(array.shape, dtype=np.uint8)
        scaled[array == 0.5] = UNKNOWN
        scaled[array == 1.0] = 255
        array = scaled
    elif np.issubdtype(array.dtype, np.integer) and not np.issubdtype(array.dtype, np.bool_):
        values = set(np.unique(array).tolist())
        if not values <= {0, 128, 255}:
            raise ValueError(f"trimap must hold only 0, 128 and 255, got values {sorted(values)[:6]}")
        array = array.astype(np.uint8)
    else:
        raise TypeError(f"trimap must be uint8 (0/128/255) or floating (0/0.5/1), got dtype {array.dtype}")
    if shape is not None and array.shape != tuple(shape):
        raise ValueError(f"{name} has shape {array.shape} but the alphas have shape {tuple(shape)}")
    return array


def _matting_inputs(pred, gt, trimap) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pred, gt = as_alpha(pred, "pred"), as_alpha(gt, "gt")
    if pred.shape != gt.shape:
        raise ValueError(f"pred and gt must have the same shape, got {pred.shape} and {gt.shape}")
    unknown = as_trimap(trimap, pred.shape) == UNKNOWN
    return pred, gt, unknown


# ---------------------------------------------------------------- matting errors
def sad(pred, gt, trimap) -> float:
    """Sum of absolute differences over the unknown region, / 1000."""
    pred, gt, unknown = _matting_inputs(pred, gt, trimap)
    return float(np.abs(pred - gt)[unknown].sum() / SCALE)


def mse(pred, gt, trimap) -> float:
    """Mean squared error over the unknown region (sum / number of unknown pixels).

    Raises ValueError when the trimap has no unknown pixel (the mean would be 0/0).
    """
    pred, gt, unknown = _matting_inputs(pred, gt, trimap)
    count = int(unknown.sum())
    if count == 0:
        raise ValueError("trimap has no unknown pixels (value 128): MSE over an empty region is undefined")
    return float(((pred - gt) ** 2)[unknown].sum() / count)


@lru_cache(maxsize=8)
def gaussian_gradient_filters(sigma: float = GRADIENT_SIGMA, epsilon: float = 1e-2) -> tuple[np.ndarray, np.ndarray]:
    """The evaluation code's derivative-of-Gaussian filters (hx, hy), each (2h+1)×(2h+1).

    Half width h = ceil(σ·sqrt(−2·ln(√(2π)·σ·ε))) — 4 for σ = 1.4, ε = 0.01, so 9×9;
    hx(i, j) = G(i)·G′(j) (rows i, columns j, both from −h to h), scaled to unit L2 norm;
    hy = hxᵀ. hx differentiates along x (columns).
    """
    half = math.ceil(sigma * math.sqrt(-2.0 * math.log(math.sqrt(2.0 * math.pi) * sigma * epsilon)))
    u = np.arange(-half, half + 1, dtype=np.float64)
    gauss = np.exp(-u ** 2 / (2.0 * sigma ** 2)) / (sigma * math.sqrt(2.0 * math.pi))
    dgauss = -u * gauss / sigma ** 2
    hx = np.outer(gauss, dgauss)
    hx /= np.sqrt((hx ** 2).sum())
    hx.flags.writeable = False
    hy = hx.T.copy()
    hy.flags.writeable = False
    return hx, hy


def _min_max(alpha: np.ndarray) -> np.ndarray:
    """Rescale to [0, 1] by min and max (MATLAB's mat2gray); a constant map becomes zeros."""
    low, high = alpha.min(), alpha.max()
    if high <= low:
        return np.zeros_like(alpha)
    return (alpha - low) / (high - low)


def gradient_magnitude(alpha: np.ndarray, sigma: float = GRADIENT_SIGMA) -> np.ndarray:
    """‖∇α‖ by derivative-of-Gaussian filtering (true convolution, replicated borders), float64.

    ``alpha``: an H×W (or 1×H×W) real map; an integer one is filtered in float64 in its own
    units (filtering it in its dtype would round and wrap the derivatives). Complex: TypeError.
    """
    alpha = _squeeze_map(_real_array(alpha, "alpha"), "alpha").astype(np.float64)
    sigma = check_positive_real(sigma, "sigma", allow_inf=False)
    hx, hy = gaussian_gradient_filters(sigma)
    gx = ndimage.convolve(alpha, hx, mode="nearest")
    gy = ndimage.convolve(alpha, hy, mode="nearest")
    return np.sqrt(gx ** 2 + gy ** 2)


def gradient_error(pred, gt, trimap, sigma: float = GRADIENT_SIGMA) -> float:
    """Σ over the unknown region of (‖∇α̂‖ − ‖∇α‖)², / 1000, each alpha min–max normalised first.

    ``sigma`` (px) must be a finite number > 0.
    """
    sigma = check_positive_real(sigma, "sigma", allow_inf=False)
    pred, gt, unknown = _matting_inputs(pred, gt, trimap)
    difference = gradient_magnitude(_min_max(pred), sigma) - gradient_magnitude(_min_max(gt), sigma)
    return float((difference ** 2)[unknown].sum() / SCALE)


def _largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 4-connected component of a boolean map (empty map → all False).

    Ties go to the component met first in column-major order, as MATLAB's ``bwconncomp``
    numbers them: label the transpose (row-major over the transpose = column-major here).
    """
    labels, count = ndimage.label(mask.T)  # default structure: 4-connectivity
    if count == 0:
        return np.zeros_like(mask)
    sizes = np.bincount(labels.ravel())[1:]
    return (labels == int(np.argmax(sizes)) + 1).T


def connectivity_levels(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """l(p): the last threshold at which pixel p was still in the largest common component.

    For t = 0.1 … 1.0, Ω_t = largest 4-connected component of (α̂ ≥ t) ∧ (α ≥ t); a pixel
    first missing from Ω_t gets l = t − 0.1; pixels never missing get 1. Both mattes as
    :func:`as_alpha` takes them (floating, in [0, 1]: thresholds of 0.1 … 1 mean nothing for 0 … 255).
    """
    pred, gt = as_alpha(pred, "pred"), as_alpha(gt, "gt")
    if pred.shape != gt.shape:
        raise ValueError(f"pred and gt must have the same shape, got {pred.shape} and {gt.shape}")
    levels = np.full(pred.shape, -1.0)
    previous = 0.0
    for threshold in CONNECTIVITY_THRESHOLDS:
        omega = _largest_component((pred >= threshold) & (gt >= threshold))
        levels[(levels == -1.0) & ~omega] = previous
        previous = threshold
    levels[levels == -1.0] = 1.0
    return levels


def connectivity_error(pred, gt, trimap) -> float:
    """Σ over the unknown region of |φ(α̂) − φ(α)|, / 1000, with φ = 1 − d·[d ≥ 0.15], d = α − l."""
    pred, gt, unknown = _matting_inputs(pred, gt, trimap)
    levels = connectivity_levels(pred, gt)
    d_pred, d_gt = pred - levels, gt - levels
    phi_pred = 1.0 - d_pred * (d_pred >= CONNECTIVITY_MIN_DROP)
    phi_gt = 1.0 - d_gt * (d_gt >= CONNECTIVITY_MIN_DROP)
    return float(np.abs(phi_pred - phi_gt)[unknown].sum() / SCALE)


MATTING_METRICS = {"sad": sad, "mse": mse, "grad": gradient_error, "conn": connectivity_error}


def matting_metrics(pred, gt, trimap) -> dict[str, float]:
    """All four matting errors of one image: {"sad", "mse", "grad", "conn"}."""
    return {name: metric(pred, gt, trimap) for name, metric in MATTING_METRICS.items()}


def mean_matting_metrics(preds, gts, trimaps) -> dict[str, float]:
    """The four errors averaged over a batch (B×1×H×W or B×H×W each), as papers report them."""
    preds, gts, trimaps = (_to_numpy(v, n) for v, n in ((preds, "preds"), (gts, "gts"), (trimaps, "trimaps")))
    if not (len(preds) == len(gts) == len(trimaps)) or len(preds) == 0:
        raise ValueError(f"preds, gts and trimaps must hold the same non-zero number of images, "
                         f"got {len(preds)}, {len(gts)}, {len(trimaps)}")
    rows = [matting_metrics(p, g, t) for p, g, t in zip(preds, gts, trimaps)]
    return {name: float(np.mean([row[name] for row in rows])) for name in MATTING_METRICS}


# ---------------------------------------------------------------- reconstruction
def psnr(pred, target, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio 10·log10(data_range² / MSE) in dB over all elements (∞ if equal).

    ``data_range``: the span of possible values, any finite real > 0. None (default): 1.0 for
    floating images (values in [0, 1]); for images of an unsigned integer dtype, that dtype's
    maximum (255 for uint8), so ``psnr(a, b) == psnr(a / 255, b / 255)`` for 8-bit images.

    Raises:
        TypeError: non-arrays, complex images, or (without ``data_range``) signed-integer images,
            or one integer and one floating image, whose range cannot be inferred.
        ValueError: a bad ``data_range``, mismatched shapes, empty arrays, NaN/inf in the images.
    """
    pred, target = _to_numpy(pred, "pred"), _to_numpy(target, "target")
    if data_range is None:
        data_range = _inferred_range(pred.dtype, target.dtype)
    data_range = check_positive_real(data_range, "data_range", allow_inf=False)
    pred, target = pred.astype(np.float64), target.astype(np.float64)
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got {pred.shape} and {target.shape}")
    if pred.size == 0:
        raise ValueError(f"pred and target are empty (shape {pred.shape}): PSNR needs at least one element")
    for array, name in ((pred, "pred"), (target, "target")):
        if not np.isfinite(array).all():
            raise ValueError(f"{name} contains NaN or infinite values")
    error = float(np.mean((pred - target) ** 2))
    if error == 0.0:
        return math.inf
    return 10.0 * math.log10(data_range ** 2 / error)


def _inferred_range(*dtypes) -> float:
    """PSNR's data range from the images' dtypes (see :func:`psnr`)."""
    kinds = {np.dtype(dtype).kind for dtype in dtypes}
    if kinds <= {"f"}:
        return 1.0
    if kinds == {"u"} and len(set(dtypes)) == 1:
        return float(np.iinfo(dtypes[0]).max)
    raise TypeError(f"pred and target have dtypes {', '.join(str(d) for d in dtypes)}: their value range cannot be "
                    "inferred; pass data_range (e.g. 255 for 8-bit images), or convert both to floats in [0, 1]")


# ---------------------------------------------------------------- segmentation
def _label_inputs(pred, gt, num_classes) -> tuple[np.ndarray, np.ndarray, int]:
    num_classes = check_positive_int(num_classes, "num_classes")
    pred, gt = _to_numpy(pred, "pred_labels"), _to_numpy(gt, "gt_labels")
    for array, name in ((pred, "pred_labels"), (gt, "gt_labels")):
        if not np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.bool_):
            raise TypeError(f"{name} must hold integer class ids, got dtype {array.dtype} "
                            "(take argmax over the class axis of the logits first)")
        if array.size and (array.min() < 0 or array.max() >= num_classes):
            raise ValueError(f"{name} must lie in [0, {num_classes}), got values in [{array.min()}, {array.max()}]")
    if pred.shape != gt.shape:
        raise ValueError(f"pred_labels and gt_labels must have the same shape, got {pred.shape} and {gt.shape}")
    if pred.size == 0:
        raise ValueError(f"pred_labels and gt_labels are empty (shape {pred.shape}): a metric needs at least one pixel")
    return pred.astype(np.int64), gt.astype(np.int64), num_classes


def confusion_matrix(pred_labels, gt_labels, num_classes: int) -> np.ndarray:
    """num_classes×num_classes counts, rows = ground truth, columns = prediction."""
    pred, gt, num_classes = _label_inputs(pred_labels, gt_labels, num_classes)
    counts = np.bincount(gt.ravel() * num_classes + pred.ravel(), minlength=num_classes ** 2)
    return counts.reshape(num_classes, num_classes)


def iou_per_class(confusion: np.ndarray) -> np.ndarray:
    """IoU of each class from a confusion matrix (K×K non-negative counts, rows = ground truth);
    NaN for a class absent from both maps."""
    confusion = _real_array(confusion, "confusion")
    if confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1] or confusion.size == 0:
        raise ValueError(f"confusion must be a square K×K matrix of counts, got shape {confusion.shape}")
    if confusion.dtype.kind not in "biuf":
        raise TypeError(f"confusion must hold numbers, got dtype {confusion.dtype}")
    confusion = confusion.astype(np.float64)
    if not np.isfinite(confusion).all() or (confusion < 0).any():
        raise ValueError("confusion must hold finite non-negative counts")
    intersection = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - intersection
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, intersection / np.maximum(union, 1), np.nan)


def miou(pred_labels, gt_labels, num_classes: int) -> float:
    """Mean IoU over the classes present in the prediction or the ground truth.

    Any shape (H×W, B×H×W): pixels are pooled, as in a dataset-level confusion matrix.
    """
    return float(np.nanmean(iou_per_class(confusion_matrix(pred_labels, gt_labels, num_classes))))


def boundary_band(mask: np.ndarray, width: int) -> np.ndarray:
    """Pixels of a binary mask within ``width`` px (chessboard) of its contour or the image edge.

    mask − erode(mask, 3×3, ``width`` times) with everything outside the image counting as
    background — the band Boundary IoU compares (Cheng et al., CVPR 2021). ``mask``: an H×W real
    map (nonzero = inside); ``width`` an int >= 1 (SciPy would read 0 as "erode until nothing changes").
    """
    mask = _real_array(mask, "mask")
    if mask.ndim != 2:
        raise ValueError(f"mask must be a 2-D H×W map, got shape {mask.shape}")
    mask = mask.astype(bool)
    width = check_positive_int(width, "width")
    eroded = ndimage.binary_erosion(mask, structure=np.ones((3, 3), bool), iterations=width, border_value=0)
    return mask & ~eroded


def boundary_iou(pred_labels, gt_labels, num_classes: int, dilation_ratio: float = 0.02,
                 width: int | None = None) -> float:
    """Boundary IoU (Cheng et al. 2021), per class then averaged over the classes present.

    For each class c the boundary bands of the prediction's and the ground truth's masks
    (see :func:`boundary_band`) are compared by IoU; ``width`` is the band width in px, by
    default ``max(1, round(dilation_ratio · image diagonal))`` as in the paper. Maps are
    H×W or B×H×W (bands per image, counts pooled over the batch). Classes absent from both
    maps are skipped.
    """
    pred, gt, num_classes = _label_inputs(pred_labels, gt_labels, num_classes)
    if pred.ndim == 2:
        pred, gt = pred[None], gt[None]
    if pred.ndim != 3:
        raise ValueError(f"label maps must be H×W or B×H×W, got shape {pred.shape}")
    height, width_px = pred.shape[1:]
    if width is None:
        dilation_ratio = check_positive_real(dilation_ratio, "dilation_ratio", allow_inf=False)
        width = max(1, int(round(dilation_ratio * math.hypot(height, width_px))))
    width = check_positive_int(width, "width")
    intersection = np.zeros(num_classes)
    union = np.zeros(num_classes)
    for pred_map, gt_map in zip(pred, gt):
        for label in np.union1d(np.unique(pred_map), np.unique(gt_map)):
            band_pred = boundary_band(pred_map == label, width)
            band_gt = boundary_band(gt_map == label, width)
            intersection[label] += np.logical_and(band_pred, band_gt).sum()
            union[label] += np.logical_or(band_pred, band_gt).sum()
    present = union > 0
    if not present.any():
        raise ValueError("no class has a boundary in either map")
    return float(np.mean(intersection[present] / union[present]))
