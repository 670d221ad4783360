"""What each training task means: its model, its loss and how it is scored.

* matting — RGB + trimap (4 ch) → alpha. Loss (the IndexNet recipe): 0.5·Charbonnier(alpha) +
  0.5·Charbonnier(composition), both averaged over the trimap's unknown band. Scored with
  SAD, MSE, Grad and Conn (Rhemann et al., CVPR 2009) on the unknown band, mean over the test set.
* reconstruction — RGB → RGB (sigmoid output) through the encoder-decoder *without* skip connections, so
  everything spatial the decoder gets is what the resampler passes on ("delivering spatial
  information"). Loss MSE; scored by PSNR.
* matting_noskip — matting through the encoder-decoder *without* skip connections: the decoder
  must rebuild the alpha detail from what the resampler passes on (the detail-sensitive
  setting where the upsampler matters; with skips they short-circuit it at this scale).
* segmentation — RGB → class logits (5 shape classes). Loss cross-entropy; scored by mIoU and
  boundary IoU.
* texture_regions — RGB → 4 texture-kind logits per pixel (the region-sensitive task a small
  model learns: :mod:`indexnet_edu.data.texture_regions`). Scored like segmentation, with a
  2-px boundary band (the default 1 px at 32 px is mostly the image edge).

Every task is also scored by its test loss (the training loss on the test set), reported next
to the argmax metrics, and compared with :func:`trivial_baseline` by :func:`learned_at_all`.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_choice
from .models import LightEncoderDecoder, indexnet_matting, keep_known_pixels
from .models.indexnet_matting import check_unit_trimap

TASKS = ("matting", "matting_noskip", "reconstruction", "segmentation", "texture_regions")
MODEL_KINDS = ("light", "indexnet")
CHARBONNIER_EPS = 1e-6
# Which metrics go up when a model gets better (the rest go down).
HIGHER_IS_BETTER = {"psnr": True, "miou": True, "boundary_iou": True, "pixel_accuracy": True,
                    "sad": False, "mse": False, "grad": False, "conn": False, "test_loss": False}
# Each task's data set and kind of output (matting_noskip trains on the matting data).
_DATA_TASK = {"matting": "matting", "matting_noskip": "matting", "reconstruction": "reconstruction",
              "segmentation": "segmentation", "texture_regions": "texture_regions"}
_KIND = {"matting": "matting", "matting_noskip": "matting", "reconstruction": "reconstruction",
         "segmentation": "segmentation", "texture_regions": "segmentation"}
_SKIPS = {"matting": True, "matting_noskip": False, "reconstruction": False, "segmentation": True,
          "texture_regions": True}
BOUNDARY_WIDTH = {"texture_regions": 2}  # px; other segmentation tasks use Boundary IoU's default
# "Learned at all" (checked before any ranking is shown): the trained model must beat the trivial
# baseline by this margin on the task's primary metric — matting SAD ≤ 0.6 × the alpha-0.5
# baseline's, reconstruction PSNR ≥ baseline + 3 dB, segmentation mIoU ≥ 2 × the majority-class
# baseline's.
LEARNED_MARGIN = {"matting": ("sad", "ratio", 0.6), "reconstruction": ("psnr", "plus", 3.0),
                  "segmentation": ("miou", "ratio", 2.0)}


def data_task(task: str) -> str:
    """The data set a task trains on (``matting_noskip`` → ``matting``)."""
    return _DATA_TASK[check_choice(task, "task", TASKS)]


def task_kind(task: str) -> str:
    """"matting", "reconstruction" or "segmentation": what the output is and how it is scored."""
    return _KIND[check_choice(task, "task", TASKS)]


def learned_at_all(task: str, metrics: dict, baseline: dict) -> bool:
    """Whether ``metrics`` beat the trivial ``baseline`` by the margin of :data:`LEARNED_MARGIN`."""
    metric, rule, margin = LEARNED_MARGIN[task_kind(task)]
    value, reference = float(metrics[metric]), float(baseline[metric])
    if rule == "plus":
        return value >= reference + margin
    return value <= margin * reference if not HIGHER_IS_BETTER[metric] else value >= margin * reference


def indexnet_options(upsampler: str) -> dict:
    """Map a registry name to ``indexnet_matting`` arguments (max_unpool → maxpool, hin* → holistic…)."""
    if upsampler == "max_unpool":
        return {"index": "maxpool", "nonlinear": False, "context": False}
    for prefix, index in (("hin", "holistic"), ("din_o2o", "o2o"), ("din_m2o", "m2o")):
        if upsampler == prefix or upsampler.startswith(prefix + "_"):
            suffix = upsampler[len(prefix):]
            if suffix not in ("", "_nl", "_ctx", "_nl_ctx"):
                break
            return {"index": index, "nonlinear": "_nl" in suffix, "context": "_ctx" in suffix}
    raise ValueError(f"--model indexnet supports max_unpool, hin*, din_o2o*, din_m2o* (with _nl/_ctx), "
                     f"got upsampler {upsampler!r}")


def num_segmentation_classes(task: str = "segmentation") -> int:
    """The number of classes of a segmentation task (5 shapes, or 4 texture kinds)."""
    from .data import NUM_SEG_CLASSES, NUM_TEXTURE_CLASSES

    return NUM_TEXTURE_CLASSES if task == "texture_regions" else NUM_SEG_CLASSES


def build_model(task: str, upsampler: str, model: str = "light", widths=(16, 32, 64, 128)) -> nn.Module:
    """The network for ``task``; ``model="indexnet"`` (matting only) is the full IndexNet model."""
    check_choice(task, "task", TASKS)
    check_choice(model, "model", MODEL_KINDS)
    if model == "indexnet":
        if task != "matting":
            raise ValueError(f"--model indexnet is a matting model; got task {task!r}")
        return indexnet_matting(**indexnet_options(upsampler))
    kind = task_kind(task)
    channels = {"matting": (4, 1), "reconstruction": (3, 3)}.get(kind) or (3, num_segmentation_classes(task))
    return LightEncoderDecoder(*channels, upsampler, widths, skips=_SKIPS[task])


def model_inputs(task: str, batch: dict) -> torch.Tensor:
    """The network input for a batch: image (+ trimap for matting), B×C×H×W.

    Raises ValueError for a matting trimap outside [0, 1] (e.g. 0/128/255 not divided by 255).
    """
    if task_kind(task) == "matting":
        return torch.cat([batch["image"], check_unit_trimap(batch["trimap"], 'batch["trimap"]')], dim=1)
    return batch["image"]


def predicted_alpha(output: torch.Tensor, model: str) -> torch.Tensor:
    """Alpha from the network output: sigmoid for the light model, raw for IndexNet (as official)."""
    return output if model == "indexnet" else torch.sigmoid(output)


def charbonnier(diff: torch.Tensor, weight: torch.Tensor, eps: float = CHARBONNIER_EPS) -> torch.Tensor:
    """Σ w·sqrt(d² + eps) / Σ w (weight broadcast over channels)."""
    weight = weight.expand_as(diff)
    return (torch.sqrt(diff.square() + eps) * weight).sum() / weight.sum().clamp_min(1.0)


def matting_loss(alpha: torch.Tensor, batch: dict) -> torch.Tensor:
    """0.5·Charbonnier(alpha) + 0.5·Charbonnier(composition) on the unknown band (B×1×H×W)."""
    unknown = (batch["trimap"] - 0.5).abs().lt(1e-3).float()
    composite = alpha * batch["fg"] + (1 - alpha) * batch["bg"]
    return 0.5 * charbonnier(alpha - batch["alpha"], unknown) + 0.5 * charbonnier(composite - batch["image"], unknown)


def loss_fn(task: str, model: str, output: torch.Tensor, batch: dict) -> torch.Tensor:
    output = output.float()
    kind = task_kind(task)
    if kind == "matting":
        return matting_loss(predicted_alpha(output, model), batch)
    if kind == "reconstruction":
        return F.mse_loss(torch.sigmoid(output), batch["image"])
    return F.cross_entropy(output, batch["mask"])


def prediction(task: str, model: str, output: torch.Tensor, batch: dict) -> torch.Tensor:
    """What is scored: alpha in [0,1] with known pixels kept (B×1×H×W), image in [0,1], or labels (B×H×W)."""
    output = output.float()
    kind = task_kind(task)
    if kind == "matting":
        return keep_known_pixels(predicted_alpha(output, model), batch["trimap"])
    if kind == "reconstruction":
        return torch.sigmoid(output)
    return output.argmax(dim=1)


def score(task: str, pred: torch.Tensor, batch: dict) -> dict:
    """Metrics of a whole test set: ``pred`` and ``batch`` hold every test image stacked.

    matting: SAD/MSE/Grad/Conn per image (unknown band), averaged; reconstruction: PSNR per
    image, averaged; segmentation: mIoU, boundary IoU (:data:`BOUNDARY_WIDTH`) and pixel
    accuracy with pixels pooled over the set.
    """
    from . import metrics

    kind = task_kind(task)
    if kind == "matting":
        values = metrics.mean_matting_metrics(pred, batch["alpha"], batch["trimap"])
    elif kind == "reconstruction":
        values = {"psnr": float(np.mean([metrics.psnr(p, g) for p, g in zip(pred, batch["image"])]))}
    else:
        classes = num_segmentation_classes(task)
        values = {"miou": metrics.miou(pred, batch["mask"], classes),
                  "boundary_iou": metrics.boundary_iou(pred, batch["mask"], classes,
                                                       width=BOUNDARY_WIDTH.get(task)),
                  "pixel_accuracy": float((pred == batch["mask"]).float().mean())}
    return {name: float(value) for name, value in values.items()}


def trivial_baseline(task: str, batch: dict) -> torch.Tensor:
    """A prediction that uses no learning: what every trained model should beat.

    matting: alpha 0.5 in the unknown band; reconstruction: each image's mean colour;
    segmentation: every pixel the most frequent class of the batch.
    """
    kind = task_kind(task)
    if kind == "matting":
        return keep_known_pixels(torch.full_like(batch["alpha"], 0.5), batch["trimap"])
    if kind == "reconstruction":
        return batch["image"].mean(dim=(2, 3), keepdim=True).expand_as(batch["image"]).clone()
    mode = torch.bincount(batch["mask"].flatten()).argmax()
    return torch.full_like(batch["mask"], int(mode))
