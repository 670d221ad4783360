"""The results and checkpoints that ship with the repository (``results/laptop``), and the published
numbers the lessons set beside them.

``results/laptop/<task>/<upsampler>/seed<k>.json`` were made by the ``laptop`` preset sweep
(5 paired seeds, provenance in every file; see ``results/laptop/README.md``);
``results/laptop/checkpoints/<task>/<upsampler>/seed<k>/checkpoint.pt`` are the trained
weights of a few of those runs (model and config only), so a lesson can show a trained model
at once.

>>> table = shipped_results(["matting_noskip"])           # ResultsTable, n = 5 per arm
>>> model, config = model_or_train("matting_noskip", "hin")  # shipped weights, or train if absent
"""
from __future__ import annotations

from pathlib import Path

from .sweep import ResultsTable, load_results, result_path

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "results" / "laptop"
CHECKPOINT_DIR = SHIPPED_DIR / "checkpoints"
PRESET = "laptop"

FADE_CITATION = ("H. Lu, W. Liu, H. Fu, Z. Cao, “FADE: Fusing the Assets of Decoder and Encoder for "
                 "Task-Agnostic Upsampling”, ECCV 2022, https://arxiv.org/abs/2207.10392")
# FADE's tables (SPEC §4): matting on Composition-1k with the A2U ResNet-34 baseline (SAD, MSE, Grad,
# Conn; lower is better) and ADE20K segmentation with SegFormer-B1 (mIoU, higher is better). Single runs.
PUBLISHED_MATTING = {"bilinear": (37.31, 0.0103, 21.38, 35.39), "carafe": (41.01, 0.0118, 21.39, 39.01),
                     "indexnet": (34.28, 0.0081, 15.94, 31.91)}
PUBLISHED_SEGMENTATION_MIOU = {"bilinear": 41.68, "carafe": 42.82, "indexnet": 41.50}
# The same group's other reports (SPEC §4, EXPERIMENT-NOTES §1): bilinear SegFormer-B1 was 42.11 in
# the SAPA README (41.68 in FADE) — two reports of one configuration 0.43 mIoU apart; their
# segmentation code's README says ADE20K runs "fluctuate about (−0.5, +0.5) mIoU".
REPORTED_BILINEAR_SEGFORMER = (41.68, 42.11)
REPORTED_RUN_TO_RUN_MIOU = 0.5


def shipped_results(tasks=None, directory=SHIPPED_DIR) -> ResultsTable:
    """The shipped laptop-preset results (an empty table when the folder is missing)."""
    if not Path(directory).is_dir():
        return ResultsTable()
    return load_results(directory, preset=PRESET, tasks=list(tasks) if tasks else None)


def shipped_checkpoint(task: str, upsampler: str, seed: int = 0, directory=CHECKPOINT_DIR) -> Path:
    """Where the shipped weights of one run live (the folder holding ``checkpoint.pt``)."""
    return result_path(directory, task, upsampler, seed).with_suffix("")


def model_or_train(task: str, upsampler: str, seed: int = 0, retrain: bool = False, steps: int | None = None,
                   out=None, progress: bool = True):
    """(model in eval mode, its TrainConfig): the shipped checkpoint when there is one and
    ``retrain`` is False, else a fresh laptop-preset run (``steps`` overrides its length) in ``out``
    (default: the lessons' scratch folder), reused if it already finished there."""
    from .train import CHECKPOINT_NAME, load_trained_model, make_config, train
    from .training_views import lesson_results_dir

    shipped = shipped_checkpoint(task, upsampler, seed)
    if not retrain and (shipped / CHECKPOINT_NAME).exists():
        return load_trained_model(shipped)
    config = make_config(task, upsampler, PRESET, seed, steps=steps)
    run_dir = result_path(out or lesson_results_dir(config.steps), task, upsampler, seed).with_suffix("")
    if not (run_dir / "results.json").exists():
        train(config, run_dir, resume=True, progress=progress)
    return load_trained_model(run_dir)


def published_markdown() -> str:
    """The published comparison (FADE's tables) as markdown, with its source and the reported spread."""
    lines = ["| upsampler | matting SAD ↓ | MSE ↓ | Grad ↓ | Conn ↓ | ADE20K mIoU ↑ |", "|---|---|---|---|---|---|"]
    for name, (sad, mse, grad, conn) in PUBLISHED_MATTING.items():
        lines.append(f"| {name} | {sad} | {mse} | {grad} | {conn} | {PUBLISHED_SEGMENTATION_MIOU[name]} |")
    low, high = REPORTED_BILINEAR_SEGFORMER
    lines += ["", f"Source: {FADE_CITATION} (matting: A2U ResNet-34 baseline on Composition-1k; segmentation: "
              "SegFormer-B1 on ADE20K). Each number is a single run.",
              f"Spread: the same group reported bilinear SegFormer-B1 at {low} (FADE) and {high} (SAPA README), "
              f"and quotes ±{REPORTED_RUN_TO_RUN_MIOU} mIoU run-to-run on ADE20K."]
    return "\n".join(lines)
