"""What each training task means: its model, its loss and how it is scored.

* matting — RGB + trimap (4 ch) → alpha. Loss (the IndexNet recipe): 0.5·Charbonnier(alpha) +
  0.5·Charbonnier(composition), both averaged over the trimap's unknown band. Scored with
  SAD, MSE, Grad and Conn (Rhemann et al., CVPR 2009) on the unknown band, mean over the test set.
* reconstruction — RGB → RGB (sigmoid output) through the encoder-decoder *without* skip connections, so
  everything spatial the decoder gets is what the resampler passes on ("delivering spatial
  information"). Loss MSE; scored by PSNR.
* segmentation — RGB → class logits. Loss cross-entropy; scored by mIoU and boundary IoU.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_choice
from .models import LightEncoderDecoder, indexnet_matting, keep_known_pixels
from .models.indexnet_matting import check_unit_trimap

TASKS = ("matting", "reconstruction", "segmentation")
MODEL_KINDS = ("light", "indexnet")
CHARBONNIER_EPS = 1e-6
# Which metrics go up when a model gets better (the rest go down).
HIGHER_IS_BETTER = {"psnr": True, "miou": True, "boundary_iou": True,
                    "sad": False, "mse": False, "grad": False, "conn": False}


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


def num_segmentation_classes() -> int:
    from .data import NUM_SEG_CLASSES

    return NUM_SEG_CLASSES


def build_model(task: str, upsampler: str, model: str = "light", widths=(16, 32, 64, 128)) -> nn.Module:
    """The network for ``task``; ``model="indexnet"`` (matting only) is the full IndexNet model."""
    check_choice(task, "task", TASKS)
    check_choice(model, "model", MODEL_KINDS)
    if model == "indexnet":
        if task != "matting":
            raise ValueError(f"--model indexnet is a matting model; got task {task!r}")
        return indexnet_matting(**indexnet_options(upsampler))
    if task == "matting":
        return LightEncoderDecoder(4, 1, upsampler, widths)
    if task == "reconstruction":
        return LightEncoderDecoder(3, 3, upsampler, widths, skips=False)
    return LightEncoderDecoder(3, num_segmentation_classes(), upsampler, widths)


def model_inputs(task: str, batch: dict) -> torch.Tensor:
    """The network input for a batch: image (+ trimap for matting), B×C×H×W.

    Raises ValueError for a matting trimap outside [0, 1] (e.g. 0/128/255 not divided by 255).
    """
    if task == "matting":
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
    if task == "matting":
        return matting_loss(predicted_alpha(output, model), batch)
    if task == "reconstruction":
        return F.mse_loss(torch.sigmoid(output), batch["image"])
    return F.cross_entropy(output, batch["mask"])


def prediction(task: str, model: str, output: torch.Tensor, batch: dict) -> torch.Tensor:
    """What is scored: alpha in [0,1] with known pixels kept (B×1×H×W), image in [0,1], or labels (B×H×W)."""
    output = output.float()
    if task == "matting":
        return keep_known_pixels(predicted_alpha(output, model), batch["trimap"])
    if task == "reconstruction":
        return torch.sigmoid(output)
    return output.argmax(dim=1)


def score(task: str, pred: torch.Tensor, batch: dict) -> dict:
    """Metrics of a whole test set: ``pred`` and ``batch`` hold every test image stacked.

    matting: SAD/MSE/Grad/Conn per image (unknown band), averaged; reconstruction: PSNR per
    image, averaged; segmentation: mIoU and boundary IoU with pixels pooled over the set.
    """
    from . import metrics

    if task == "matting":
        values = metrics.mean_matting_metrics(pred, batch["alpha"], batch["trimap"])
    elif task == "reconstruction":
        values = {"psnr": float(np.mean([metrics.psnr(p, g) for p, g in zip(pred, batch["image"])]))}
    else:
        classes = num_segmentation_classes()
        values = {"miou": metrics.miou(pred, batch["mask"], classes),
                  "boundary_iou": metrics.boundary_iou(pred, batch["mask"], classes)}
    return {name: float(value) for name, value in values.items()}


def trivial_baseline(task: str, batch: dict) -> torch.Tensor:
    """A prediction that uses no learning: what every trained model should beat.

    matting: alpha 0.5 in the unknown band; reconstruction: each image's mean colour;
    segmentation: every pixel the most frequent class of the batch.
    """
    if task == "matting":
        return keep_known_pixels(torch.full_like(batch["alpha"], 0.5), batch["trimap"])
    if task == "reconstruction":
        return batch["image"].mean(dim=(2, 3), keepdim=True).expand_as(batch["image"]).clone()
    mode = torch.bincount(batch["mask"].flatten()).argmax()
    return torch.full_like(batch["mask"], int(mode))
