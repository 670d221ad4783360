"""What determines a training run: :class:`TrainConfig`, the presets, :func:`make_config`.

Every default is written once, in :class:`TrainConfig`; those defaults *are* the quick preset.
The other presets name only what they change:

* quick — CPU, seconds per job (32×32, three stages, 150 steps).
* laptop — the shipped ``results/laptop*`` sweeps: quick with a larger fixed test set, one
  checkpoint per run, and per-task steps (``Task.laptop_steps`` in :mod:`.tasks`); five paired
  seeds of every arm fit a 2-core CPU in about an hour (``benchmarks/laptop_throughput.py``).
* full — sized for one H200, an ESTIMATE (no GPU measured it): 64×64, batch 32, four stages of
  32..256 channels, 1500 steps. A step is ~90 GFLOP forward and backward, launch-bound at
  roughly 5 ms, so a job is ~8 s of GPU work plus evaluation.
"""
from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from numbers import Integral

from .._checks import check_finite_real, check_seed
from ..models.light import DEFAULT_WIDTHS
from ..upsamplers.registry import available_upsamplers
from .tasks import MODEL_KINDS, TASKS, build_model, task_spec


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a run's result (the results file records it). The defaults
    are the quick preset."""

    task: str
    upsampler: str
    preset: str = "quick"
    seed: int = 0
    model: str = "light"
    steps: int = 150
    batch_size: int = 16
    size: int = 32
    n_train: int = 256
    n_test: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.0
    widths: tuple = DEFAULT_WIDTHS
    checkpoint_every: int = 50
    data_seed: int = 0
    amp: bool = True  # mixed precision on CUDA: bf16 where native, else fp16 + GradScaler (runtime.select_precision)

    def __post_init__(self):
        # Built directly (not by make_config) a config is checked too, for what a run could not
        # honour: seeds NumPy refuses, counts the batch sampler cannot use. ValueError naming the field.
        for name in ("seed", "data_seed"):
            _config_seed(getattr(self, name), name)
        for name in _COUNTS:
            _config_int(getattr(self, name), name, 1)


_COUNTS = ("steps", "batch_size", "size", "n_train", "n_test", "checkpoint_every")

#: Each preset as its differences from the TrainConfig defaults (which are the quick preset).
PRESETS = {
    "quick": {},
    "laptop": dict(n_test=64, checkpoint_every=150),
    "full": dict(steps=1500, batch_size=32, size=64, n_train=4096, n_test=256, lr=2e-3, checkpoint_every=500,
                 widths=(32, 64, 128, 256)),
}
PRESET_NAMES = tuple(PRESETS)
#: The image size of the full IndexNet model per preset (its encoder needs H, W divisible by 32).
INDEXNET_SIZE = {"quick": 64, "laptop": 64, "full": 128}


def preset_values(preset: str) -> dict:
    """Every TrainConfig field a preset sets: the defaults with the preset's differences applied."""
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {PRESET_NAMES}, got {preset!r}")
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)
                if f.default is not dataclasses.MISSING
                and f.name not in ("task", "upsampler", "preset", "seed", "model")}
    return {**defaults, **PRESETS[preset]}


def make_config(task: str, upsampler: str, preset: str = "quick", seed: int = 0, model: str = "light",
                steps: int | None = None, **overrides) -> TrainConfig:
    """A validated config: the preset's values, then ``steps`` and any other overrides.

    Raises:
        ValueError: an unknown task, upsampler, preset, model or field, or a value a run could
            not honour (naming the field).
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if upsampler not in available_upsamplers():
        raise ValueError(f"unknown upsampler {upsampler!r}; expected one of {', '.join(available_upsamplers())}")
    values = preset_values(preset)
    if model not in MODEL_KINDS:
        raise ValueError(f"model must be one of {MODEL_KINDS}, got {model!r}")
    seed = _config_seed(seed, "seed")
    laptop_steps = task_spec(task).laptop_steps
    if preset == "laptop" and laptop_steps is not None:
        values["steps"] = laptop_steps
    if model == "indexnet":
        values["size"] = INDEXNET_SIZE[preset]
    if steps is not None:
        values["steps"] = steps
    unknown = set(overrides) - {f.name for f in dataclasses.fields(TrainConfig)}
    if unknown:
        raise ValueError(f"unknown config fields {sorted(unknown)}")
    values.update(overrides)
    for name in _COUNTS:
        values[name] = _config_int(values[name], name, 1)
    values["data_seed"] = _config_seed(values["data_seed"], "data_seed")
    try:
        values["lr"] = check_finite_real(values["lr"], "lr")
        values["weight_decay"] = check_finite_real(values["weight_decay"], "weight_decay", minimum=0.0)
    except TypeError as error:
        raise ValueError(str(error)) from None
    if not values["lr"] > 0:
        raise ValueError(f"lr must be > 0, got {values['lr']!r}")
    values["widths"] = tuple(_config_int(width, "widths[i]", 1) for width in values["widths"])
    config = TrainConfig(task=task, upsampler=upsampler, preset=preset, seed=seed, model=model, **values)
    if model == "indexnet":
        build_model(task, upsampler, model)  # raises a clear error for unsupported combinations
    return config


def config_differences(saved: dict, config: TrainConfig) -> list[str]:
    """``"field: saved → wanted"`` for every field where a stored config (a checkpoint's, or a
    results file's, where JSON made tuples lists) differs from ``config``."""
    wanted = asdict(config)
    normalise = (lambda v: tuple(v) if isinstance(v, list) else v)
    return [f"{key}: {saved.get(key)!r} → {wanted.get(key)!r}" for key in sorted(set(saved) | set(wanted))
            if normalise(saved.get(key)) != normalise(wanted.get(key))]


def _config_seed(value, name: str) -> int:
    """A seed NumPy and PyTorch both take (:func:`~indexnet_edu._checks.check_seed`); ValueError otherwise."""
    try:
        return check_seed(value, name)
    except TypeError as error:
        raise ValueError(str(error)) from None


def _config_int(value, name: str, minimum: int) -> int:
    """An int (NumPy ints too, bools never) >= ``minimum``, as a plain int; ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)
