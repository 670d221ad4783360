"""The results and checkpoints that ship inside the package, and the published numbers the
lessons set beside them.

``<task>/<upsampler>/seed<k>.json`` were made by the ``laptop`` preset sweep (5 paired seeds,
provenance in every file; see ``results/laptop/README.md`` in the repository);
``checkpoints/<task>/<upsampler>/seed<k>/checkpoint.pt`` are the trained weights of a few of
those runs (model and config only), so a lesson can show a trained model at once. Where they
live is :mod:`indexnet_edu.shipped_files`'s business; a missing file is an error that names it
and the command that makes it, never an empty table or a silent training run.

>>> table = shipped_results(["matting_noskip"])           # ResultsTable, n = 5 per arm
>>> model, config = model_or_train("matting_noskip", "hin")  # shipped weights, or train if absent
"""
from __future__ import annotations

from pathlib import Path

from ..cache import display_path
from ..shipped_files import (SWEEP_COMMAND, ShippedDataMissing, laptop_checkpoints_dir, laptop_results_dir, require,
                             successor_results_dir)
from ..experiments.results import ResultsTable, job_dir, load_results, result_path

SHIPPED_DIR = laptop_results_dir()
SUCCESSORS_DIR = successor_results_dir()
CHECKPOINT_DIR = laptop_checkpoints_dir()
PRESET = "laptop"

FADE_CITATION = ("H. Lu, W. Liu, H. Fu, Z. Cao, “FADE: Fusing the Assets of Decoder and Encoder for "
                 "Task-Agnostic Upsampling”, ECCV 2022, [arXiv 2207.10392](https://arxiv.org/abs/2207.10392)")
# FADE's tables (Lu, Liu, Fu, Cao, ECCV 2022): matting on Composition-1k with the A2U ResNet-34 baseline (SAD, MSE, Grad,
# Conn; lower is better) and ADE20K segmentation with SegFormer-B1 (mIoU, higher is better). Single runs.
PUBLISHED_MATTING = {"bilinear": (37.31, 0.0103, 21.38, 35.39), "carafe": (41.01, 0.0118, 21.39, 39.01),
                     "indexnet": (34.28, 0.0081, 15.94, 31.91)}
PUBLISHED_SEGMENTATION_MIOU = {"bilinear": 41.68, "carafe": 42.82, "indexnet": 41.50}
# The same group's other reports (the SAPA README, tiny-smart/sapa; the FADE logs): bilinear SegFormer-B1 was 42.11 in
# the SAPA README (41.68 in FADE) — two reports of one configuration 0.43 mIoU apart; their
# segmentation code's README says ADE20K runs "fluctuate about (−0.5, +0.5) mIoU".
REPORTED_BILINEAR_SEGFORMER = (41.68, 42.11)
REPORTED_RUN_TO_RUN_MIOU = 0.5
# The SAPA README's UPerNet-R50 table on ADE20K (mIoU), another single-run comparison.
PUBLISHED_UPERNET_MIOU = {"bilinear": 41.09, "carafe": 41.49, "indexnet": 41.42}
SAPA_SOURCE = "https://github.com/tiny-smart/sapa"
RUN_TO_RUN_SOURCE = "https://github.com/tiny-smart/segmentation-with-upsamplers"


# The arms lessons 05-07 compare; lesson 09's successors (A2U, FADE, SAPA) ship as their own set.
COMPARISON_ARMS = ("nearest", "bilinear", "deconv", "pixel_shuffle", "max_unpool", "carafe", "dysample", "hin",
                   "din_o2o", "din_m2o", "din_m2o_nl_ctx")
#: Lesson 09's set: the successors and the arms they are set beside, all from one machine.
SUCCESSOR_ARMS = ("bilinear", "carafe", "hin", "a2u", "fade", "fade_lite", "fade_nogate", "sapa", "sapa_g",
                  "sapa_inner")
SUCCESSOR_TASKS = ("matting_noskip", "reconstruction", "texture_regions")


def _read_set(directory: Path, folder: str, tasks, upsamplers) -> ResultsTable:
    """Load one shipped result set after checking that its folder and every requested first seed
    exist (:class:`ShippedDataMissing` names the missing file and the sweep that makes it)."""
    require(directory, SWEEP_COMMAND)
    for task in tasks or ():
        for upsampler in upsamplers or ():
            require(result_path(directory, task, upsampler, 0),
                    f"python -m indexnet_edu.experiments.sweep --preset laptop --tasks {task} --upsamplers {upsampler} "
                    f"--seeds 0 1 2 3 4 --out results/{folder}")
    return load_results(directory, preset=PRESET, tasks=list(tasks) if tasks else None,
                        upsamplers=list(upsamplers) if upsamplers else None)


def shipped_results(tasks=None, upsamplers=COMPARISON_ARMS, directory=None) -> ResultsTable:
    """The shipped laptop-preset results of ``tasks`` (default: all) and ``upsamplers`` (default:
    the eleven arms of lessons 05–07; ``None`` for every arm in the set), in that order. The
    successors are a set of their own: :func:`successor_results`.

    Raises:
        ShippedDataMissing: the folder, or the first seed of a requested (task, upsampler), is not
            there; the message names the file and the commands that make it.
    """
    directory = Path(directory) if directory is not None else SHIPPED_DIR
    return _read_set(directory, "laptop", tasks, upsamplers)


def successor_results(tasks=SUCCESSOR_TASKS, upsamplers=SUCCESSOR_ARMS) -> ResultsTable:
    """Lesson 09's shipped set (``laptop_successors``): the successors beside bilinear, CARAFE and
    HIN, the laptop preset and the same 5 paired seeds as :func:`shipped_results`, all trained on
    one machine so that every contrast is paired. Raises :class:`ShippedDataMissing` as that does."""
    return _read_set(SUCCESSORS_DIR, "laptop_successors", tasks, upsamplers)


def shipped_checkpoint(task: str, upsampler: str, seed: int = 0, directory=CHECKPOINT_DIR) -> Path:
    """Where the shipped weights of one run live (the folder holding ``checkpoint.pt``)."""
    return job_dir(directory, task, upsampler, seed)


def model_or_train(task: str, upsampler: str, seed: int = 0, retrain: bool = False, steps: int | None = None,
                   out=None, progress: bool = True):
    """(model in eval mode, its TrainConfig): the shipped checkpoint, or with ``retrain`` a fresh
    laptop-preset run (``steps`` overrides its length) in ``out`` (default: the lessons' scratch
    folder), reused if it already finished there; a line says so before training starts.

    Raises:
        ShippedDataMissing: no shipped checkpoint for (task, upsampler, seed) and not ``retrain``.
    """
    from ..experiments.train import CHECKPOINT_NAME, load_trained_model, train
    from ..experiments.config import make_config
    from .training_views import lesson_results_dir

    shipped = shipped_checkpoint(task, upsampler, seed)
    if not retrain:
        if not (shipped / CHECKPOINT_NAME).exists():
            raise ShippedDataMissing(
                f"shipped data missing: {shipped / CHECKPOINT_NAME} — train it here with model_or_train({task!r}, "
                f"{upsampler!r}, retrain=True), or ship one with tools/ship_checkpoint.py in a checkout")
        return load_trained_model(shipped)
    config = make_config(task, upsampler, PRESET, seed, steps=steps)
    run_dir = job_dir(out or lesson_results_dir(config.steps) / PRESET, task, upsampler, seed)
    if not (run_dir / "results.json").exists():
        print(f"Training {task}/{upsampler} (seed {seed}) here: {config.steps} steps of the laptop preset "
              f"on {config.n_train} images; the run is kept in {display_path(run_dir)}.")
        train(config, run_dir, resume=True, progress=progress)
    return load_trained_model(run_dir)


def rerun_one_seed(task: str, upsamplers, seed: int = 0, steps: int | None = None, out=None,
                   progress: bool = True) -> ResultsTable:
    """Train ``upsamplers`` on ``task`` for one seed with the laptop preset, in this process, and
    return their results (jobs already finished in ``out`` are reused). ``steps=None`` is the
    preset's own length — the run the shipped results hold for that seed; fewer steps make a
    quick try. ``out`` defaults to the lessons' scratch folder."""
    from ..experiments.sweep import run_sweep
    from ..experiments.config import make_config
    from .training_views import lesson_results_dir

    upsamplers = list(upsamplers)
    if not upsamplers:
        raise ValueError("upsamplers must name at least one upsampler")
    length = make_config(task, upsamplers[0], PRESET, seed, steps=steps).steps
    out = out or lesson_results_dir(length) / PRESET
    print(f"Training {', '.join(upsamplers)} on {task} (seed {seed}) here: {length} steps each; runs already "
          f"finished in {display_path(out)} are reused.")
    return run_sweep([task], upsamplers, [seed], PRESET, out, steps=steps, in_process=True, progress=progress)


def published_markdown() -> str:
    """The published comparison (FADE's tables) as markdown, with its source and the reported spread."""
    lines = ["| upsampler | matting SAD ↓ | MSE ↓ | Grad ↓ | Conn ↓ | ADE20K mIoU ↑ (SegFormer-B1) | "
             "ADE20K mIoU ↑ (UPerNet-R50) |", "|---|---|---|---|---|---|---|"]
    for name, (sad, mse, grad, conn) in PUBLISHED_MATTING.items():
        lines.append(f"| {name} | {sad:.2f} | {mse:.4f} | {grad:.2f} | {conn:.2f} | {PUBLISHED_SEGMENTATION_MIOU[name]:.2f} | "
                     f"{PUBLISHED_UPERNET_MIOU[name]:.2f} |")
    low, high = REPORTED_BILINEAR_SEGFORMER
    lines += ["", f"Sources: {FADE_CITATION} — matting on Composition-1k with the A2U ResNet-34 baseline, "
              "segmentation with SegFormer-B1; the UPerNet-R50 column is from the SAPA README "
              f"([tiny-smart/sapa]({SAPA_SOURCE})). Each number is a single run.", "",
              f"Spread: the same group reported bilinear SegFormer-B1 at {low} (FADE) and {high} (SAPA README), "
              f"and their segmentation code says ADE20K runs fluctuate by about ±{REPORTED_RUN_TO_RUN_MIOU} mIoU "
              f"([tiny-smart/segmentation-with-upsamplers]({RUN_TO_RUN_SOURCE}))."]
    return "\n".join(lines)
