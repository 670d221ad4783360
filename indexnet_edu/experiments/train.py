"""Train one (task, upsampler, seed) job and write ``DIR/results.json``.

    python -m indexnet_edu.experiments.train --task matting --upsampler hin --preset quick --seed 0 --out runs/x
    python -m indexnet_edu.experiments.train ... --resume            # continue from DIR/checkpoint.pt
    torchrun --nproc_per_node=2 -m indexnet_edu.experiments.train ...  # DistributedDataParallel

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
import os
import signal
import sys
import time
from dataclasses import asdict
from numbers import Integral
from pathlib import Path

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Sampler

from .._checks import check_flag
from ..bench.cost import count_parameters
from ..checkpoint import (LOCKED_EXIT_CODE, CheckpointError, OutputDirError, RunLockedError, atomic_save, atomic_write_json,
                          capture_rng_state, exclusive_run_lock, load_checkpoint, output_dir_argument,
                          prepare_output_dir, remove_stale_temporaries, restore_rng_state)
from ..upsamplers.registry import available_upsamplers
from .config import PRESET_NAMES, TrainConfig, config_differences, make_config
from .runtime import (AUTOCAST_DTYPES, DeferredInterrupt, TrainingInterrupted, device_name, distributed_context,
                      git_commit, preserved_global_state, seed_everything, select_precision)
from .tasks import MODEL_KINDS, TASKS, build_model, loss_fn, model_inputs, prediction, score, task_spec, trivial_baseline

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_KEYS = ("config", "step", "model", "optimizer", "scheduler", "rng", "wall_time_s")
RESULTS_NAME = "results.json"
INTERRUPTED_EXIT_CODE = 130


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


def _load_data(config: TrainConfig):
    from ..data import make_dataset

    task = task_spec(config.task).data
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


class ResumeMismatchError(ValueError):
    """``--resume`` of a checkpoint that a different config wrote."""


#: What train() refuses before any work; the CLI answers these with one line and exit 2.
SETUP_ERRORS = (FileExistsError, OutputDirError, CheckpointError, ResumeMismatchError)


def _check_resume_compatible(saved: dict, config: TrainConfig) -> None:
    changed = config_differences(saved, config)
    if changed:
        raise ResumeMismatchError(f"the checkpoint was written by a different config ({'; '.join(changed)}); "
                                  "use a fresh --out or the same arguments")


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
    with lock, preserved_global_state():
        return _train_job(config, out_dir, resume, interrupt_after, progress)


def _train_job(config: TrainConfig, out_dir, resume: bool, interrupt_after: int | None, progress: bool) -> dict:
    from .._progress import tqdm

    out_dir = Path(out_dir)
    checkpoint_path = out_dir / CHECKPOINT_NAME
    if checkpoint_path.exists() and not resume:
        raise FileExistsError(f"{checkpoint_path} exists; pass --resume to continue it or choose another --out")
    prepare_output_dir(out_dir)
    state = None
    if resume and checkpoint_path.exists():
        state = load_checkpoint(checkpoint_path, CHECKPOINT_KEYS)
        _check_resume_compatible(state["config"], config)
    rank, world_size, device = distributed_context()
    if config.batch_size % world_size:
        raise ValueError(f"batch_size {config.batch_size} must divide by the number of processes {world_size}")
    if world_size > 1 and device.type == "cpu":
        torch.set_num_threads(1)
    if rank == 0:
        remove_stale_temporaries(checkpoint_path)

    seed_everything(config.seed)
    train_set, test_set = _load_data(config)
    model = build_model(config.task, config.upsampler, config.model, config.widths).to(device)
    # Paired arms: whatever the upsampler drew while being built, the augmentation draws that
    # follow start from the same state (the batch order is a pure function of (seed, step)).
    seed_everything(config.seed)
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
    with DeferredInterrupt() as interrupt:
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
        from ..bench.machine import machine_report

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
    parser = argparse.ArgumentParser(prog="python -m indexnet_edu.experiments.train", description=__doc__.split("\n")[0])
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
