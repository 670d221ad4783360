"""Train one (task, upsampler, seed) job and write ``DIR/results.json``.

    python -m indexnet_edu.train --task matting --upsampler hin --preset quick --seed 0 --out runs/x
    python -m indexnet_edu.train ... --resume            # continue from DIR/checkpoint.pt
    torchrun --nproc_per_node=2 -m indexnet_edu.train ...  # DistributedDataParallel

Exact resume: the checkpoint holds model, optimizer, scheduler, step and the torch / NumPy /
Python RNG states, and the data order is a pure function of (seed, step), so an interrupted
and resumed run ends bit-for-bit where an uninterrupted one does on the CPU (tested). On CUDA
cuDNN is made deterministic, but some backward kernels (scatter-adds in the reassembly and
grid_sample backward) still accumulate in a varying order, so a resumed GPU run agrees with
an uninterrupted one to round-off, not bit-for-bit.
Ctrl-C (and SIGTERM, SIGHUP) is deferred to the end of the current step: a checkpoint is
written, then the run exits with status 128 + the signal's number (130 for Ctrl-C).
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import platform
import random
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from numbers import Integral
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Sampler

from ._checks import check_finite_real, check_flag, check_seed
from ._signals import handling_signals
from .checkpoint import (LOCKED_EXIT_CODE, CheckpointError, OutputDirError, RunLockedError, atomic_save, atomic_write_json,
                         capture_rng_state, exclusive_run_lock, load_checkpoint, output_dir_argument,
                         prepare_output_dir, remove_stale_temporaries, restore_rng_state)
from .cost import count_parameters
from .registry import available_upsamplers
from .tasks import (MODEL_KINDS, TASKS, build_model, data_task, loss_fn, model_inputs, prediction, score,
                    trivial_baseline)

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_KEYS = ("config", "step", "model", "optimizer", "scheduler", "rng", "wall_time_s")
RESULTS_NAME = "results.json"
PRESET_NAMES = ("quick", "laptop", "full")
INTERRUPTED_EXIT_CODE = 130


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a run's result (the results file records it)."""

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
    widths: tuple = (16, 32, 64)
    checkpoint_every: int = 50
    data_seed: int = 0
    amp: bool = True  # mixed precision on CUDA: bf16 where native, else fp16 + GradScaler (see select_precision)

    def __post_init__(self):
        # Built directly (not by make_config) a config is checked too, for what a run could not
        # honour: seeds NumPy refuses, counts the batch sampler cannot use. ValueError naming the field.
        for name in ("seed", "data_seed"):
            _config_seed(getattr(self, name), name)
        for name in ("steps", "batch_size", "size", "n_train", "n_test", "checkpoint_every"):
            _config_int(getattr(self, name), name, 1)


# quick: CPU, seconds per job (32×32, 3 stages, 150 steps).
# full: sized for one H200 — an ESTIMATE, not a measurement (no GPU was available when this was
# written). At 64×64, batch 32, widths (32..256) a step is ~90 GFLOP (forward + backward), so
# these small convolutions are launch-bound at roughly 5 ms per step: 1500 steps ≈ 8 s of GPU
# work per job plus evaluation, and 3 tasks × 21 upsamplers × 3 seeds = 189 jobs ≈ 20–25 GPU
# minutes when `sweep --jobs 8` keeps the GPU busy while other jobs are in Python.
# laptop: the shipped results/laptop sweep — 5 paired seeds of every task and upsampler on a
# 2-core CPU in about an hour (benchmarks/laptop_throughput.py measures it); a larger, fixed
# test set than quick, and steps per task (LAPTOP_TASK_STEPS).
PRESETS = {
    "quick": dict(steps=150, batch_size=16, size=32, n_train=256, n_test=32, lr=3e-3, checkpoint_every=50,
                  widths=(16, 32, 64)),
    "laptop": dict(steps=150, batch_size=16, size=32, n_train=256, n_test=64, lr=3e-3, checkpoint_every=150,
                   widths=(16, 32, 64)),
    "full": dict(steps=1500, batch_size=32, size=64, n_train=4096, n_test=256, lr=2e-3, checkpoint_every=500,
                 widths=(32, 64, 128, 256)),
}
INDEXNET_SIZE = {"quick": 64, "laptop": 64, "full": 128}  # IndexNet needs H, W divisible by 32
# Per-task step counts of the laptop preset (the others use the preset's steps).
LAPTOP_TASK_STEPS = {"texture_regions": 200}


def make_config(task: str, upsampler: str, preset: str = "quick", seed: int = 0, model: str = "light",
                steps: int | None = None, **overrides) -> TrainConfig:
    """A validated config: the preset's values, then ``steps`` and any other overrides."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if upsampler not in available_upsamplers():
        raise ValueError(f"unknown upsampler {upsampler!r}; expected one of {', '.join(available_upsamplers())}")
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {PRESET_NAMES}, got {preset!r}")
    if model not in MODEL_KINDS:
        raise ValueError(f"model must be one of {MODEL_KINDS}, got {model!r}")
    seed = _config_seed(seed, "seed")
    values = dict(PRESETS[preset])
    if preset == "laptop" and task in LAPTOP_TASK_STEPS:
        values["steps"] = LAPTOP_TASK_STEPS[task]
    if model == "indexnet":
        values["size"] = INDEXNET_SIZE[preset]
    if steps is not None:
        values["steps"] = steps
    unknown = set(overrides) - {f.name for f in dataclasses.fields(TrainConfig)}
    if unknown:
        raise ValueError(f"unknown config fields {sorted(unknown)}")
    values.update(overrides)
    for name in ("steps", "batch_size", "size", "n_train", "n_test", "checkpoint_every"):
        values[name] = _config_int(values[name], name, 1)
    for name in ("data_seed", "weight_decay"):  # not in the presets: the dataclass defaults
        values.setdefault(name, getattr(TrainConfig, name))
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


class StepBatchSampler(Sampler):
    """Index batches for steps ``start_step .. total_steps-1``; a pure function of (seed, step).

    Epoch e is ``randperm(n)`` from a generator seeded with (seed, e); step s takes the
    ``s mod steps_per_epoch``-th slice of its epoch. With ``world_size`` ranks each takes
    every ``world_size``-th element of the global batch.
    """

    def __init__(self, n: int, batch_size: int, seed: int, total_steps: int, start_step: int = 0,
                 rank: int = 0, world_size: int = 1):
        if batch_size > n:
            raise ValueError(f"batch_size ({batch_size}) exceeds the dataset size ({n})")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.total_steps, self.start_step = total_steps, start_step
        self.rank, self.world_size = rank, world_size
        self.steps_per_epoch = n // batch_size

    def batch_indices(self, step: int) -> list[int]:
        epoch, position = divmod(step, self.steps_per_epoch)
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        order = torch.randperm(self.n, generator=generator)
        batch = order[position * self.batch_size:(position + 1) * self.batch_size]
        return batch[self.rank::self.world_size].tolist()

    def __iter__(self):
        for step in range(self.start_step, self.total_steps):
            yield self.batch_indices(step)

    def __len__(self):
        return self.total_steps - self.start_step


def git_commit() -> str | None:
    """The checked-out commit of the package's repository, or None."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def _native_bf16(device: torch.device) -> bool:
    """Whether this CUDA device computes bf16 in hardware (Ampere, compute capability 8.0, or newer).

    ``torch.cuda.is_bf16_supported`` also answers True for GPUs that only *emulate* bf16 (T4,
    V100: slow, no tensor cores) unless asked ``including_emulation=False`` (torch ≥ 2.5);
    older versions are answered from the compute capability.
    """
    try:
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:
        return torch.cuda.get_device_capability(device) >= (8, 0)


def select_precision(device, amp: bool = True, capability: tuple[int, int] | None = None) -> str:
    """The training precision: ``"bf16"``, ``"fp16"`` or ``"fp32"``.

    * CPU, or ``amp=False``: ``"fp32"``.
    * CUDA with native bf16 (compute capability ≥ 8.0: A100, H100, H200, RTX 30xx/40xx): ``"bf16"``
      autocast — same exponent range as float32, no loss scaling needed.
    * Older CUDA GPUs (T4 = 7.5, V100 = 7.0 — what free Colab gives): ``"fp16"`` autocast with a
      ``torch.amp.GradScaler``, since their bf16 is emulated and slow.

    ``capability`` (major, minor) overrides what the device reports (for tests and planning).
    Raises TypeError if ``device`` is not a ``torch.device`` or a string naming one.
    """
    if not isinstance(device, (torch.device, str)):
        raise TypeError(f"device must be a torch.device or a string such as 'cuda', got {type(device).__name__}")
    device = torch.device(device)
    if device.type != "cuda" or not amp:
        return "fp32"
    native = tuple(capability) >= (8, 0) if capability is not None else _native_bf16(device)
    return "bf16" if native else "fp16"


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()})"




class TrainingInterrupted(KeyboardInterrupt):
    """A run stopped by a signal after writing its checkpoint; ``signum`` says which signal."""

    def __init__(self, message: str, signum: int = signal.SIGINT):
        super().__init__(message)
        self.signum = int(signum)


class _DeferredInterrupt:
    """Turn the stop signals (:data:`~indexnet_edu._signals.STOP_SIGNALS`: Ctrl-C, SIGTERM, SIGHUP)
    into a flag checked between steps (main thread only), restoring the old handlers; ``signum``
    is the first signal that arrived."""

    def __init__(self):
        self.requested = False
        self.signum = signal.SIGINT
        self._handlers = handling_signals(self._handle)

    def __enter__(self):
        self._handlers.__enter__()
        return self

    def _handle(self, signum, frame):
        if not self.requested:
            self.signum = signum
        self.requested = True

    def __exit__(self, *exc):
        return self._handlers.__exit__(*exc)


def _distributed_context():
    """(rank, world_size, device) — initialises the process group under torchrun."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    # A process gets a GPU only when there is one for its local rank: more processes than
    # GPUs (e.g. a CPU rehearsal of torchrun on a one-GPU machine) run on the CPU with gloo.
    use_cuda = torch.cuda.is_available() and local_rank < torch.cuda.device_count()
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    rank = dist.get_rank() if world_size > 1 else 0
    if use_cuda:
        torch.cuda.set_device(local_rank)
        # Exact resume needs deterministic kernels (cuDNN autotuning and atomics otherwise vary).
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        return rank, world_size, torch.device("cuda", local_rank)
    return rank, world_size, torch.device("cpu")


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _load_data(config: TrainConfig):
    from .data import make_dataset

    task = data_task(config.task)
    train = make_dataset(task, split="train", n=config.n_train, size=config.size, seed=config.data_seed,
                         augment=True)
    test = make_dataset(task, split="test", n=config.n_test, size=config.size, seed=config.data_seed)
    for dataset in (train, test):
        if hasattr(dataset, "materialize"):
            dataset.materialize()
    return train, test


def evaluate(model, config: TrainConfig, test_set, device, batch_size: int = 16,
             with_baseline: bool = False):
    """Every metric over the test set (model in eval mode, no autocast), plus ``test_loss``:
    the training loss averaged over the test images.

    With ``with_baseline`` returns (metrics, the trivial baseline's metrics on the same set).
    """
    model.eval()
    loader = DataLoader(test_set, batch_size=batch_size, shuffle=False)
    predictions, batches, loss_sum = [], [], 0.0
    with torch.no_grad():
        for batch in loader:
            output = model(model_inputs(config.task, batch).to(device)).float().cpu()
            loss_sum += float(loss_fn(config.task, config.model, output, batch)) * len(output)
            predictions.append(prediction(config.task, config.model, output, batch))
            batches.append(batch)
    stacked = {key: torch.cat([b[key] for b in batches]) for key in batches[0]}
    metrics = score(config.task, torch.cat(predictions), stacked)
    metrics["test_loss"] = loss_sum / len(test_set)
    if not with_baseline:
        return metrics
    return metrics, score(config.task, trivial_baseline(config.task, stacked), stacked)


def config_differences(saved: dict, config: TrainConfig) -> list[str]:
    """``"field: saved → wanted"`` for every field where a stored config (a checkpoint's, or a
    results file's, where JSON made tuples lists) differs from ``config``."""
    wanted = asdict(config)
    normalise = (lambda v: tuple(v) if isinstance(v, list) else v)
    return [f"{key}: {saved.get(key)!r} → {wanted.get(key)!r}" for key in sorted(set(saved) | set(wanted))
            if normalise(saved.get(key)) != normalise(wanted.get(key))]


class ResumeMismatchError(ValueError):
    """``--resume`` of a checkpoint that a different config wrote."""


#: What train() refuses before any work; the CLI answers these with one line and exit 2.
SETUP_ERRORS = (FileExistsError, OutputDirError, CheckpointError, ResumeMismatchError)


def _check_resume_compatible(saved: dict, config: TrainConfig) -> None:
    changed = config_differences(saved, config)
    if changed:
        raise ResumeMismatchError(f"the checkpoint was written by a different config ({'; '.join(changed)}); "
                                  "use a fresh --out or the same arguments")


@contextmanager
def _preserved_global_state():
    """Restore what a training run sets globally — torch/NumPy/Python RNG states, torch's
    thread count, cuDNN flags — so ``train()`` in a notebook leaves the session as it was."""
    rng = capture_rng_state()
    threads = torch.get_num_threads()
    cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    try:
        yield
    finally:
        restore_rng_state(rng)
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn


def train(config: TrainConfig, out_dir, resume: bool = False, interrupt_after: int | None = None,
          progress: bool = True) -> dict:
    """Run (or resume) one job; returns the results dict also written to ``out_dir/results.json``.

    ``interrupt_after=k`` behaves as if Ctrl-C arrived during step k (counting from 1): the
    checkpoint after step k is written and :class:`TrainingInterrupted` (a KeyboardInterrupt)
    raised (used by the tests). A real Ctrl-C, SIGTERM or SIGHUP does the same at the end of the
    step it arrives in.
    The caller's global RNG states, thread count and cuDNN flags are restored on return.

    Checked before any data is generated: ``out_dir`` must be a writable folder
    (:class:`~indexnet_edu.checkpoint.OutputDirError`); an existing checkpoint needs
    ``resume`` (FileExistsError), must be readable
    (:class:`~indexnet_edu.checkpoint.CheckpointError`) and written by the same config
    (:class:`ResumeMismatchError`, a ValueError naming the differing fields); no other process
    may be training into ``out_dir`` (:class:`~indexnet_edu.checkpoint.RunLockedError`). Stale
    temp files of killed saves are removed. A save that fails (e.g. a full disk) raises an OSError naming the file.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig (see make_config), got {type(config).__name__}")
    resume, progress = check_flag(resume, "resume"), check_flag(progress, "progress")
    if interrupt_after is not None and (isinstance(interrupt_after, bool) or not isinstance(interrupt_after, Integral)
                                        or interrupt_after < 1):
        raise ValueError(f"interrupt_after must be None or an int >= 1, got {interrupt_after!r}")
    # One process per run folder (rank 0 of a distributed run holds it for all ranks).
    lock = exclusive_run_lock(out_dir, "train") if int(os.environ.get("RANK", "0")) == 0 else contextlib.nullcontext()
    with lock, _preserved_global_state():
        return _train_job(config, out_dir, resume, interrupt_after, progress)


def _train_job(config: TrainConfig, out_dir, resume: bool, interrupt_after: int | None, progress: bool) -> dict:
    from ._progress import tqdm

    out_dir = Path(out_dir)
    checkpoint_path = out_dir / CHECKPOINT_NAME
    if checkpoint_path.exists() and not resume:
        raise FileExistsError(f"{checkpoint_path} exists; pass --resume to continue it or choose another --out")
    prepare_output_dir(out_dir)
    state = None
    if resume and checkpoint_path.exists():
        state = load_checkpoint(checkpoint_path, CHECKPOINT_KEYS)
        _check_resume_compatible(state["config"], config)
    rank, world_size, device = _distributed_context()
    if config.batch_size % world_size:
        raise ValueError(f"batch_size {config.batch_size} must divide by the number of processes {world_size}")
    if world_size > 1 and device.type == "cpu":
        torch.set_num_threads(1)
    if rank == 0:
        remove_stale_temporaries(checkpoint_path)

    _seed_everything(config.seed)
    train_set, test_set = _load_data(config)
    model = build_model(config.task, config.upsampler, config.model, config.widths).to(device)
    # Paired arms: whatever the upsampler drew while being built, the augmentation draws that
    # follow start from the same state (the batch order is a pure function of (seed, step)).
    _seed_everything(config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.steps)
    step, previous_wall, saved_scaler = 0, 0.0, {}
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, previous_wall = int(state["step"]), float(state["wall_time_s"])
        saved_scaler = state.get("scaler") or {}
        restore_rng_state(state["rng"])
    network = model
    if world_size > 1:
        network = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    sampler = StepBatchSampler(len(train_set), config.batch_size, config.seed, config.steps, step, rank, world_size)
    # A private generator: the loader draws a base seed when iterated, and from the global RNG
    # that draw would shift every later random number of a resumed run by one.
    loader = DataLoader(train_set, batch_sampler=sampler, num_workers=0,
                        generator=torch.Generator().manual_seed(config.seed))
    precision = select_precision(device, config.amp)
    autocast = torch.autocast(device.type, dtype=AUTOCAST_DTYPES.get(precision), enabled=precision != "fp32")
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")  # a no-op unless fp16
    if saved_scaler and scaler.is_enabled():  # an fp16 run's loss scale continues where it stopped
        scaler.load_state_dict(saved_scaler)
    started = time.perf_counter()

    def save(at_step: int) -> None:
        if rank == 0:
            atomic_save({"config": asdict(config), "step": at_step, "model": model.state_dict(),
                         "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                         "rng": capture_rng_state(), "wall_time_s": previous_wall + time.perf_counter() - started,
                         "scaler": scaler.state_dict()},
                        checkpoint_path)

    bar = tqdm(total=config.steps, initial=step, disable=not progress or rank != 0,
               desc=f"{config.task}/{config.upsampler}/seed{config.seed}", leave=False)
    with _DeferredInterrupt() as interrupt:
        network.train()
        for batch in loader:
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            with autocast:
                output = network(model_inputs(config.task, batch))
            loss = loss_fn(config.task, config.model, output, batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss became {loss.item()} at step {step + 1}")
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()  # unscaled unless fp16
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
            stop = interrupt.requested or (interrupt_after is not None and step >= interrupt_after)
            if world_size > 1:  # every rank stops at the same step
                flag = torch.tensor([float(stop)], device=device)
                dist.all_reduce(flag)
                stop = bool(flag.item())
            if stop and step < config.steps:
                save(step)
                bar.close()
                cause = "" if interrupt.signum == signal.SIGINT else f" by {signal.Signals(interrupt.signum).name}"
                raise TrainingInterrupted(f"interrupted{cause} after step {step}; checkpoint in {checkpoint_path}; "
                                          "the same command with --resume continues it", interrupt.signum)
            if step % config.checkpoint_every == 0 or step == config.steps:
                save(step)
    bar.close()

    results = None
    if rank == 0:
        from .bench.machine import machine_report

        wall = previous_wall + time.perf_counter() - started
        metrics, baseline = evaluate(model, config, test_set, device, with_baseline=True)
        results = {
            "task": config.task, "upsampler": config.upsampler, "model": config.model, "preset": config.preset,
            "seed": config.seed, "device": device_name(device), "precision": precision, "world_size": world_size,
            "git_commit": git_commit(), "config": asdict(config), "wall_time_s": wall, "steps": step,
            "parameters": count_parameters(model), "torch": torch.__version__,
            "machine": machine_report(device), "metrics": metrics, "baseline": baseline,
        }
        atomic_write_json(results, out_dir / RESULTS_NAME)
    if world_size > 1:
        dist.barrier()
    return results


def load_trained_model(run_dir, map_location="cpu"):
    """(model in eval mode, its TrainConfig) from ``run_dir/checkpoint.pt``."""
    state = load_checkpoint(Path(run_dir) / CHECKPOINT_NAME, ("config", "model"))  # a trained model needs no optimizer state
    saved = dict(state["config"])
    saved["widths"] = tuple(saved["widths"])
    config = TrainConfig(**saved)
    model = build_model(config.task, config.upsampler, config.model, config.widths)
    model.load_state_dict(state["model"])
    return model.to(map_location).eval(), config


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m indexnet_edu.train", description=__doc__.split("\n")[0])
    parser.add_argument("--task", required=True, choices=TASKS)
    parser.add_argument("--upsampler", required=True, metavar="NAME",
                        help="a registry name: " + ", ".join(available_upsamplers()))
    parser.add_argument("--preset", default="quick", choices=PRESET_NAMES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, type=output_dir_argument,
                        help="run directory (checkpoint.pt, results.json)")
    parser.add_argument("--steps", type=int, default=None, help="override the preset's number of steps")
    parser.add_argument("--model", default="light", choices=MODEL_KINDS,
                        help="light encoder-decoder (every task) or the full IndexNet (matting)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt if present")
    parser.add_argument("--interrupt-after", type=int, default=None, metavar="K",
                        help="testing aid: act as if Ctrl-C arrived during step K")
    parser.add_argument("--no-progress", action="store_true", help="hide the tqdm bar")
    parser.add_argument("--no-amp", action="store_true", help="train in float32 on CUDA (default: bf16 autocast where the "
                        "GPU has it natively, else fp16 with a gradient scaler)")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.upsampler not in available_upsamplers():
        parser.error(f"unknown --upsampler {args.upsampler!r}; choose one of {', '.join(available_upsamplers())}")
    if args.steps is not None and args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")
    if args.interrupt_after is not None and args.interrupt_after < 1:
        parser.error(f"--interrupt-after must be >= 1, got {args.interrupt_after}")
    try:
        config = make_config(args.task, args.upsampler, args.preset, args.seed, args.model, args.steps,
                             amp=not args.no_amp)
        prepare_output_dir(args.out)
    except ValueError as error:  # OutputDirError included
        parser.error(str(error))
    try:
        results = train(config, args.out, resume=args.resume, interrupt_after=args.interrupt_after,
                        progress=not args.no_progress)
    except SETUP_ERRORS as error:  # raised before any work: a usage mistake, exit 2
        parser.error(str(error))
    except RunLockedError as error:  # another process trains into --out: nothing was touched
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return LOCKED_EXIT_CODE
    except OSError as error:  # a save that failed (full disk, removed folder): one line, no traceback
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as error:  # TrainingInterrupted after its checkpoint, or Ctrl-C before training
        message = str(error) or "interrupted; the same command with --resume continues from the last checkpoint"
        print(f"\n{message}", file=sys.stderr)
        return 128 + getattr(error, "signum", signal.SIGINT)  # 130 for Ctrl-C, as a shell reports it
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    if results is not None:
        summary = ", ".join(f"{k}={v:.4g}" for k, v in results["metrics"].items())
        print(f"{config.task}/{config.upsampler}/seed{config.seed}: {summary} ({results['wall_time_s']:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
