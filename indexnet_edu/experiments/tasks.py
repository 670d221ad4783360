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

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_choice
from ..data import SEG_CLASSES, TEXTURE_CLASSES
from ..models import LightEncoderDecoder, indexnet_matting, keep_known_pixels
from ..models.light import DEFAULT_WIDTHS
from ..models.indexnet_matting import check_unit_trimap
from ..upsamplers.registry import available_upsamplers, upsampler_spec

MODEL_KINDS = ("light", "indexnet")
CHARBONNIER_EPS = 1e-6
# Which metrics go up when a model gets better (the rest go down).
HIGHER_IS_BETTER = {"psnr": True, "miou": True, "boundary_iou": True, "pixel_accuracy": True,
                    "sad": False, "mse": False, "grad": False, "conn": False, "test_loss": False}


class Gate(NamedTuple):
    """"Learned at all", checked before any ranking is shown: the trained model must beat the
    trivial baseline on ``metric`` by ``margin`` — as a factor (``rule="ratio"``) or an
    addition (``rule="plus"``)."""

    metric: str
    rule: str
    margin: float


# Matting SAD ≤ 0.6 × the alpha-0.5 baseline's; reconstruction PSNR ≥ baseline + 3 dB;
# segmentation mIoU ≥ 2 × the majority-class baseline's.
MATTING_GATE = Gate("sad", "ratio", 0.6)
RECONSTRUCTION_GATE = Gate("psnr", "plus", 3.0)
SEGMENTATION_GATE = Gate("miou", "ratio", 2.0)


@dataclass(frozen=True)
class Task:
    """One training task: what it trains on, what it predicts and how a run is judged.

    ``data``: the data set (:func:`indexnet_edu.data.make_dataset`); ``kind``: "matting",
    "reconstruction" or "segmentation" (the output, loss and metrics); ``skips``: whether the
    light model's decoder gets the encoder's skip connections; ``primary_metric``: what
    comparisons rank by; ``gate``: the learned-at-all rule; ``class_names``: a segmentation
    task's classes in label order (:attr:`classes` counts them); ``boundary_width``: the Boundary
    IoU band in px (None: the metric's default); ``laptop_steps``: training steps of the laptop
    preset where they differ from the preset's.
    """

    name: str
    data: str
    kind: str
    skips: bool
    primary_metric: str
    gate: Gate
    class_names: tuple = ()
    boundary_width: int | None = None
    laptop_steps: int | None = None

    @property
    def classes(self) -> int | None:
        """The number of output classes of a segmentation task (None for the others)."""
        return len(self.class_names) or None


#: The one table of tasks.
TASK_TABLE = {task.name: task for task in (
    Task("matting", "matting", "matting", skips=True, primary_metric="sad", gate=MATTING_GATE),
    Task("matting_noskip", "matting", "matting", skips=False, primary_metric="sad", gate=MATTING_GATE),
    Task("reconstruction", "reconstruction", "reconstruction", skips=False, primary_metric="psnr",
         gate=RECONSTRUCTION_GATE),
    Task("segmentation", "segmentation", "segmentation", skips=True, primary_metric="miou",
         gate=SEGMENTATION_GATE, class_names=SEG_CLASSES),
    # A 2-px boundary band: the default 1 px at 32 px is mostly the image edge.
    Task("texture_regions", "texture_regions", "segmentation", skips=True, primary_metric="miou",
         gate=SEGMENTATION_GATE, class_names=TEXTURE_CLASSES, boundary_width=2, laptop_steps=200),
)}
TASKS = tuple(TASK_TABLE)


def task_spec(task) -> Task:
    """The :class:`Task` record of a task name (a Task is returned as it is).

    Raises:
        ValueError: an unknown name (listing the known ones); TypeError: not a str or Task.
    """
    if isinstance(task, Task):
        return task
    if not isinstance(task, str):
        raise TypeError(f"task must be a task name (one of {', '.join(TASKS)}) or a Task, got {type(task).__name__}")
    return TASK_TABLE[check_choice(task, "task", TASKS)]


def learned_at_all(task, metrics: dict, baseline: dict) -> bool:
    """Whether ``metrics`` beat the trivial ``baseline`` by the margin of the task's :class:`Gate`."""
    metric, rule, margin = task_spec(task).gate
    value, reference = float(metrics[metric]), float(baseline[metric])
    if rule == "plus":
        return value >= reference + margin
    return value <= margin * reference if not HIGHER_IS_BETTER[metric] else value >= margin * reference


def build_model(task, upsampler: str, model: str = "light", widths=DEFAULT_WIDTHS) -> nn.Module:
    """The network for ``task`` (a name or :class:`Task`): the light encoder-decoder with
    ``upsampler`` in every stage, or ``model="indexnet"`` (matting only), the full IndexNet model
    with the index network the registry entry's ``options`` name.

    Raises:
        ValueError: an unknown task, upsampler or model, or an IndexNet model for another task
            or for an upsampler that is not an index network.
    """
    task = task_spec(task)
    check_choice(model, "model", MODEL_KINDS)
    if model == "indexnet":
        if task.name != "matting":
            raise ValueError(f"--model indexnet is a matting model; got task {task.name!r}")
        options = upsampler_spec(upsampler).options
        if "index" not in options:
            indexable = ", ".join(name for name in available_upsamplers() if "index" in upsampler_spec(name).options)
            raise ValueError(f"--model indexnet takes an index network ({indexable}), got upsampler {upsampler!r}")
        return indexnet_matting(**{key: options[key] for key in ("index", "nonlinear", "context")})
    channels = {"matting": (4, 1), "reconstruction": (3, 3)}.get(task.kind) or (3, task.classes)
    return LightEncoderDecoder(*channels, upsampler, widths, skips=task.skips)


def model_inputs(task: str, batch: dict) -> torch.Tensor:
    """The network input for a batch: image (+ trimap for matting), B×C×H×W.

    Raises ValueError for a matting trimap outside [0, 1] (e.g. 0/128/255 not divided by 255).
    """
    if task_spec(task).kind == "matting":
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
    kind = task_spec(task).kind
    if kind == "matting":
        return matting_loss(predicted_alpha(output, model), batch)
    if kind == "reconstruction":
        return F.mse_loss(torch.sigmoid(output), batch["image"])
    return F.cross_entropy(output, batch["mask"])


def prediction(task: str, model: str, output: torch.Tensor, batch: dict) -> torch.Tensor:
    """What is scored: alpha in [0,1] with known pixels kept (B×1×H×W), image in [0,1], or labels (B×H×W)."""
    output = output.float()
    kind = task_spec(task).kind
    if kind == "matting":
        return keep_known_pixels(predicted_alpha(output, model), batch["trimap"])
    if kind == "reconstruction":
        return torch.sigmoid(output)
    return output.argmax(dim=1)


def score(task: str, pred: torch.Tensor, batch: dict) -> dict:
    """Metrics of a whole test set: ``pred`` and ``batch`` hold every test image stacked.

    matting: SAD/MSE/Grad/Conn per image (unknown band), averaged; reconstruction: PSNR per
    image, averaged; segmentation: mIoU, boundary IoU (``Task.boundary_width``) and pixel
    accuracy with pixels pooled over the set.
    """
    from . import metrics

    kind = task_spec(task).kind
    if kind == "matting":
        values = metrics.mean_matting_metrics(pred, batch["alpha"], batch["trimap"])
    elif kind == "reconstruction":
        values = {"psnr": float(np.mean([metrics.psnr(p, g) for p, g in zip(pred, batch["image"])]))}
    else:
        spec = task_spec(task)
        values = {"miou": metrics.miou(pred, batch["mask"], spec.classes),
                  "boundary_iou": metrics.boundary_iou(pred, batch["mask"], spec.classes, width=spec.boundary_width),
                  "pixel_accuracy": float((pred == batch["mask"]).float().mean())}
    return {name: float(value) for name, value in values.items()}


def trivial_baseline(task: str, batch: dict) -> torch.Tensor:
    """A prediction that uses no learning: what every trained model should beat.

    matting: alpha 0.5 in the unknown band; reconstruction: each image's mean colour;
    segmentation: every pixel the most frequent class of the batch.
    """
    kind = task_spec(task).kind
    if kind == "matting":
        return keep_known_pixels(torch.full_like(batch["alpha"], 0.5), batch["trimap"])
    if kind == "reconstruction":
        return batch["image"].mean(dim=(2, 3), keepdim=True).expand_as(batch["image"]).clone()
    mode = torch.bincount(batch["mask"].flatten()).argmax()
    return torch.full_like(batch["mask"], int(mode))
