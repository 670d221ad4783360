"""Figures and helpers for the training lessons (05–07): the notebooks call these, they never train.

Every function takes results, trained models or samples and returns a matplotlib figure or
plain data, so the notebooks stay prose plus short calls.
"""
from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from ..figure_sizes import FIGURE_WIDTH_IN, MIN_FONT_PT
from ..upsamplers.registry import create_upsampler
from ..experiments.results import ResultsTable
from ..experiments.tasks import model_inputs, prediction, task_spec


def lesson_results_dir(steps: int) -> Path:
    """A private results folder shared by the lessons, keyed by the package's source code and
    the step count: a lesson reuses runs another lesson made with the same code, never stale ones.

    It lives in the per-user cache (:func:`indexnet_edu.cache.user_cache_dir`: mode 0700,
    ``$INDEXNET_EDU_CACHE`` overrides the location), never in a shared temp folder; a cache
    folder another user could tamper with is refused (UnsafeCacheError). Where the cache
    cannot be created at all (a read-only home, a full disk), a private temporary folder is
    used for this process instead, with a warning: the runs are then not kept for later.
    """
    from ..cache import UnsafeCacheError, user_cache_dir
    from .env import package_digest

    digest = package_digest(str(steps))
    try:
        return user_cache_dir("lessons", digest)
    except UnsafeCacheError:
        raise
    except OSError as error:
        if digest not in _TEMPORARY_RESULTS:
            _TEMPORARY_RESULTS[digest] = Path(tempfile.mkdtemp(prefix=f"indexnet_edu-lessons-{digest}-"))
            warnings.warn(f"the lesson cache cannot be created ({type(error).__name__}: {error}); this session's "
                          f"runs go to {_TEMPORARY_RESULTS[digest]} and are not kept for later sessions "
                          "(set INDEXNET_EDU_CACHE to a writable folder of yours to keep them)", RuntimeWarning,
                          stacklevel=2)
        return _TEMPORARY_RESULTS[digest]


_TEMPORARY_RESULTS: dict[str, Path] = {}  # per process, when the user cache cannot be created


def stack_samples(dataset, indices=None) -> dict:
    """Samples of a dataset stacked into one batch dict (B×C×H×W tensors)."""
    indices = range(len(dataset)) if indices is None else indices
    samples = [dataset[i] for i in indices]
    return {key: torch.stack([s[key] for s in samples]) for key in samples[0]}


def predict(model, config, batch: dict) -> torch.Tensor:
    """What the metrics see for a batch: alpha / image / labels."""
    with torch.no_grad():
        return prediction(config.task, config.model, model(model_inputs(config.task, batch)).float(), batch)


def rerun_markdown(shipped: ResultsTable, rerun: ResultsTable, task: str, metric: str | None = None,
                   steps: int | None = None) -> str:
    """Markdown: your rerun of one seed next to the shipped value of the same seed, per upsampler.

    ``steps``: the rerun was cut to this many training steps (quick mode), a smoke run that shows
    the code runs; its numbers are labelled as such, so nobody reads them as a failed
    reproduction. None: the full preset, comparable with the shipped value.
    """

    metric = metric or task_spec(task).primary_metric
    yours = f"your run: {metric}" if steps is None else f"smoke run, {steps} steps: {metric} (not comparable)"
    lines = [f"| upsampler | seed | {yours} | shipped, same seed | shipped mean ± sd (n) |",
             "|---|---|---|---|---|"]
    for name in rerun.upsamplers(task):
        for seed, value in rerun.per_seed(task, name, metric).items():
            shipped_value, summary = "—", "—"
            if (task, name) in shipped.values:
                shipped_value = f"{shipped.per_seed(task, name, metric).get(seed, float('nan')):.4g}"
                summary = str(shipped.summary(task, name, metric))
            lines.append(f"| {name} | {seed} | {value:.4g} | {shipped_value} | {summary} |")
    if steps is not None:
        lines += ["", f"*A smoke run: {steps} training steps instead of the preset's, to show the code runs "
                      "(quick mode). Its numbers are not a reproduction; the full run (quick mode off) is.*"]
    return "\n".join(lines)


def strip_panels(table: ResultsTable, panels):
    """Strip plots side by side, one per (task, metric) in ``panels`` (object API). Returns the Figure."""
    from matplotlib.figure import Figure

    from ..experiments.results import strip_plot

    fig = Figure(figsize=(min(FIGURE_WIDTH_IN, 5.2 * len(panels)), 3.8))
    for ax, (task, metric) in zip(fig.subplots(1, len(panels), squeeze=False)[0], panels):
        strip_plot(table, task, metric, ax=ax)
    fig.tight_layout()
    return fig


def first_seeds_contrast(table: ResultsTable, task: str, arm: str, reference: str = "bilinear", n: int = 3,
                         metric: str | None = None):
    """The paired contrast as it would have looked after only the ``n`` smallest seeds."""
    from ..experiments.stats import paired_contrast
    from ..experiments.tasks import HIGHER_IS_BETTER

    metric = metric or task_spec(task).primary_metric
    a, b = table.per_seed(task, arm, metric), table.per_seed(task, reference, metric)
    seeds = sorted(set(a) & set(b))[:n]
    return paired_contrast([a[s] for s in seeds], [b[s] for s in seeds], HIGHER_IS_BETTER.get(metric, True),
                           task=task, metric=metric, arm=arm, reference=reference, seeds=seeds)


def contrast_figure(table: ResultsTable, tasks, reference: str = "bilinear", arms=None):
    """One panel per task: each arm's paired difference to ``reference`` on the task's primary
    metric, every seed a dot, mean ± SD(d) as an error bar, zero (no difference) as a line.

    Differences are signed so that up means "better than the reference" on every metric.
    Sized for the page column (at most three tasks side by side). Object API only (no pyplot
    state). Returns the Figure.
    """
    from matplotlib.figure import Figure

    from ..experiments.tasks import HIGHER_IS_BETTER

    tasks = list(tasks)
    fig = Figure(figsize=(min(FIGURE_WIDTH_IN, 4.2 * len(tasks)), 3.8), layout="constrained")
    axes = fig.subplots(1, len(tasks), squeeze=False)[0]
    for ax, task in zip(axes, tasks):
        metric = task_spec(task).primary_metric
        sign = 1.0 if HIGHER_IS_BETTER.get(metric, True) else -1.0
        names = [a for a in (arms or table.upsamplers(task)) if a != reference and (task, a) in table.values]
        for i, name in enumerate(names):
            contrast = table.contrast(task, name, reference, metric)
            d = sign * np.asarray(contrast.differences)
            ax.scatter(i + np.linspace(-0.12, 0.12, len(d)), d, s=12, color="tab:blue", alpha=0.7, zorder=3)
            colour = "tab:green" if contrast.verdict.startswith("finding") else "black"
            ax.errorbar(i + 0.25, d.mean(), yerr=contrast.std, fmt="o", ms=4, capsize=3, color=colour, zorder=4)
        ax.axhline(0.0, color="grey", linewidth=1)
        ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=MIN_FONT_PT)
        ax.set_ylabel(f"{metric}: better than {reference} →" if sign > 0 else f"{reference} {metric} − arm {metric}")
        ax.set_title(task, fontsize=MIN_FONT_PT)
    fig.suptitle(f"each arm vs {reference}, up = better: seeds (dots), mean ± SD(d) (bars; green: a finding)",
                 fontsize=10)
    return fig


def roundtrip_figure(image: torch.Tensor, names=("nearest", "bilinear", "max_unpool"), stages: int = 3):
    """Push one image (3×H×W) down and back up ``stages`` times through untrained resamplers.

    Fixed upsamplers only get the pooled values back; max-unpooling also gets *where* each
    maximum was. Returns (figure, {name: reconstruction 3×H×W}).
    """
    import matplotlib.pyplot as plt

    outputs = {}
    for name in names:
        pairs = [create_upsampler(name, 3) for _ in range(stages)]
        x, states = image[None], []
        with torch.no_grad():
            for pair in pairs:
                x, state = pair.down(x)
                states.append(state)
            for pair, state in zip(reversed(pairs), reversed(states)):
                x = pair.up(x, state)
        outputs[name] = x[0].clamp(0, 1)
    size = min(2.6, FIGURE_WIDTH_IN / (len(names) + 1))
    fig, axes = plt.subplots(1, len(names) + 1, figsize=(size * (len(names) + 1), size + 0.6))
    for ax, (title, picture) in zip(axes, [("input", image)] + list(outputs.items())):
        ax.imshow(picture.permute(1, 2, 0).numpy())
        ax.set_title(title, fontsize=MIN_FONT_PT)
        ax.axis("off")
    fig.suptitle(f"down ×{2 ** stages} and back up, no learning", fontsize=10)
    fig.tight_layout()
    return fig, outputs


#: At most this many pictures in one figure (rows × columns), so each reads at the page column.
MAX_PANELS = 12


def class_names(task: str) -> tuple[str, ...]:
    """The names of a segmentation task's classes, label 0 first (the key under its pictures)."""
    return task_spec(task).class_names


def prediction_grid(models: dict, batch: dict, count: int = 3):
    """Rows: samples; columns: the input, the target, then each model's prediction. Label maps
    (segmentation) get a key of their classes under the grid. At most :data:`MAX_PANELS`
    pictures: with more models, fewer rows.

    Raises:
        ValueError: not even one row of pictures fits in :data:`MAX_PANELS`.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    names = list(models)
    task = next(iter(models.values()))[1].task
    preds = {name: predict(model, config, batch) for name, (model, config) in models.items()}
    kind = task_spec(task).kind
    target_key = {"matting": "alpha", "reconstruction": "image", "segmentation": "mask"}[kind]
    columns = ["input", "target"] + names
    count = min(count, MAX_PANELS // len(columns))
    if count < 1:
        raise ValueError(f"{len(columns)} columns do not fit in {MAX_PANELS} panels: compare fewer models")
    size = min(1.7, FIGURE_WIDTH_IN / len(columns))
    key_height = 0.5 if kind == "segmentation" else 0.0
    fig, axes = plt.subplots(count, len(columns), figsize=(size * len(columns), size * count + 0.35 + key_height),
                             squeeze=False, layout="constrained")
    for row in range(count):
        pictures = [batch["image"][row], batch[target_key][row]] + [preds[n][row] for n in names]
        for col, (ax, picture) in enumerate(zip(axes[row], pictures)):
            _show(ax, picture, kind, col)
            if row == 0:
                ax.set_title(columns[col], fontsize=MIN_FONT_PT)
    if kind == "segmentation":
        colours = plt.get_cmap("tab10")
        key = [Patch(color=colours(label), label=f"{label} {name}") for label, name in enumerate(class_names(task))]
        fig.legend(handles=key, loc="outside lower center", ncol=len(key), fontsize=MIN_FONT_PT,
                   title="classes", title_fontsize=MIN_FONT_PT, frameon=False)
    return fig


def _show(ax, picture: torch.Tensor, task: str, col: int) -> None:
    picture = picture.detach().float()
    if picture.ndim == 3 and picture.shape[0] == 3:
        ax.imshow(picture.permute(1, 2, 0).clamp(0, 1).numpy())
    elif task == "segmentation" and col > 0:
        ax.imshow(picture.numpy(), cmap="tab10", vmin=0, vmax=9, interpolation="nearest")
    else:
        ax.imshow(picture.squeeze(0).numpy(), cmap="gray", vmin=0, vmax=1)
    ax.axis("off")


def busiest_window(trimap: torch.Tensor, size: int) -> tuple[int, int]:
    """Top-left corner of the size×size window holding the most unknown pixels of a 1×H×W trimap."""
    unknown = ((trimap[0] - 0.5).abs() < 1e-3).float()[None, None]
    counts = torch.nn.functional.avg_pool2d(unknown, size, stride=1)[0, 0]
    flat = int(torch.argmax(counts))
    return divmod(flat, counts.shape[1])


def boundary_closeups(models: dict, sample: dict, crop: int = 16):
    """Close-ups of the unknown band of one matting sample: image, trimap, true alpha, each prediction."""
    import matplotlib.pyplot as plt

    top, left = busiest_window(sample["trimap"], crop)
    window = (slice(None), slice(top, top + crop), slice(left, left + crop))
    batch = {k: v[None] for k, v in sample.items()}
    pictures = [("image", sample["image"][window]), ("trimap", sample["trimap"][window]),
                ("true alpha", sample["alpha"][window])]
    for name, (model, config) in models.items():
        pictures.append((name, predict(model, config, batch)[0][window]))
    size = min(1.9, FIGURE_WIDTH_IN / len(pictures))
    fig, axes = plt.subplots(1, len(pictures), figsize=(size * len(pictures), size + 0.8))
    for ax, (title, picture) in zip(axes, pictures):
        _show(ax, picture, "matting", 0)
        ax.set_title(title, fontsize=MIN_FONT_PT)
    fig.suptitle(f"{crop}×{crop} crop at (row {top}, col {left}), where the unknown band is densest",
                 fontsize=MIN_FONT_PT)
    fig.tight_layout()
    return fig


def index_map_figure(model, config, sample: dict):
    """The image next to the decoder index map each stage of an index-based model predicted.

    Depthwise maps (one per channel) are shown as their channel mean.
    """
    import matplotlib.pyplot as plt

    batch = {k: v[None] for k, v in sample.items()}
    maps = model.index_maps(model_inputs(config.task, batch))
    size = min(2.4, (FIGURE_WIDTH_IN - 0.7) / (len(maps) + 1))
    fig, axes = plt.subplots(1, len(maps) + 1, figsize=(size * (len(maps) + 1) + 0.7, size + 0.7))
    axes[0].imshow(sample["image"].permute(1, 2, 0).numpy())
    axes[0].set_title("image", fontsize=MIN_FONT_PT)
    for i, (ax, index) in enumerate(zip(axes[1:], maps)):
        shown = index[0].mean(dim=0).numpy()
        im = ax.imshow(shown, cmap="viridis", vmin=0, vmax=1)
        ax.set_title(f"stage {i} decoder\nindex, {'×'.join(map(str, index.shape[1:]))}", fontsize=MIN_FONT_PT)
    for ax in axes:
        ax.axis("off")
    fig.colorbar(im, ax=list(axes), shrink=0.7)
    return fig, maps


def index_map_structure(index: torch.Tensor, alpha: torch.Tensor, stride: int = 2) -> dict:
    """What a decoder index map encodes, in three numbers.

    ``index`` is one stage's map, 1×C×H×W (its channel mean is used) and ``alpha`` the sample's
    1×H'×W' matte (area-resized to H×W). Returns ``between`` — the variance of the stride×stride
    windows' means (where in the image the index is high), ``within`` — the mean variance inside a
    window (which sub-position it picks), and ``alpha_correlation`` — Pearson's r with the matte.
    A map whose ``between`` dwarfs its ``within`` is a soft mask over regions, not a choice of
    position inside each window.
    """
    import torch.nn.functional as F
    from einops import rearrange

    shown = index[0].float().mean(dim=0)
    windows = rearrange(shown, "(h i) (w j) -> h w (i j)", i=stride, j=stride)
    matte = F.interpolate(alpha[None].float(), size=shown.shape, mode="area")[0, 0]
    correlation = torch.corrcoef(torch.stack([shown.flatten(), matte.flatten()]))[0, 1]
    return {"between": float(windows.mean(dim=-1).var(unbiased=False)),
            "within": float(windows.var(dim=-1, unbiased=False).mean()),
            "alpha_correlation": float(correlation)}
