"""Run many (task, upsampler, seed) jobs, then tabulate and plot what they measured.

    python -m indexnet_edu.experiments.sweep --tasks reconstruction matting --upsamplers bilinear hin \\
        --seeds 0 1 2 --preset quick --out results/ --jobs 2

Each job is ``python -m indexnet_edu.experiments.train ... --resume`` in its own process (``--jobs K``
side by side, sharing the CPU cores or the one GPU). A job whose
``OUT/<task>/<upsampler>/seed<k>.json`` exists is skipped when that file's stored config
(preset, steps, model and every other setting) is the one this sweep asks for; one made with
other settings is refused before any job starts, naming the differing setting (use a fresh
``--out``, or delete the file to rerun it). An interrupted job resumes from its checkpoint in
``OUT/<task>/<upsampler>/seed<k>/`` (a checkpoint of another config is refused the same way).
At the end the report (:mod:`.results`: the comparison table, the paired contrasts against
bilinear with their tests) goes to ``OUT/summary.md``, and one strip plot (every seed visible)
per task and metric to ``OUT/<task>_<metric>.png``.

    python -m indexnet_edu.experiments.sweep --report-only --out results/laptop --preset laptop

From a notebook: ``run_sweep(...)`` (``in_process=True`` trains in the kernel, sharing the
generated data) and :func:`~indexnet_edu.experiments.results.load_results` →
:class:`~indexnet_edu.experiments.results.ResultsTable`.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral
from pathlib import Path

from .._checks import MAX_SEED, check_flag
from .._signals import STOP_SIGNALS, handling_signals
from ..checkpoint import (LOCKED_EXIT_CODE, RunLockedError, atomic_write_json, exclusive_run_lock, output_dir_argument,
                          prepare_output_dir, remove_stale_temporaries)
from ..data.datasets import CACHE_ENV
from ..upsamplers.registry import available_upsamplers
from .config import PRESET_NAMES, config_differences, make_config
from .results import ResultsTable, job_dir, load_results, render_report, report_paths, report_text, result_path
from .tasks import MODEL_KINDS, TASKS

def _check_names(tasks, upsamplers, seeds):
    for task in tasks:
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; expected some of {TASKS}")
    known = available_upsamplers()
    for name in upsamplers:
        if name not in known:
            raise ValueError(f"unknown upsampler {name!r}; expected some of {', '.join(known)}")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, Integral) or not 0 <= seed <= MAX_SEED:
            raise ValueError(f"seeds must be ints in [0, {MAX_SEED}] (NumPy's seed range), got {seed!r}")
    if not tasks or not upsamplers or not seeds:
        raise ValueError("tasks, upsamplers and seeds must each name at least one value")


def job_command(task, upsampler, seed, preset, out, steps=None, model="light") -> list[str]:
    """The ``python -m indexnet_edu.experiments.train ... --resume`` command line of one sweep job."""
    command = [sys.executable, "-m", "indexnet_edu.experiments.train", "--task", task, "--upsampler", upsampler,
               "--preset", preset, "--seed", str(seed), "--out", str(job_dir(out, task, upsampler, seed)),
               "--model", model, "--resume", "--no-progress"]
    if steps is not None:
        command += ["--steps", str(steps)]
    return command


def job_environment(out, threads: int) -> dict:
    """The environment of a job process: ``threads`` CPU threads, the sweep's shared data cache
    (``$INDEXNET_DATA_CACHE``, default ``out/.data_cache``) and this package on PYTHONPATH."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    # Jobs of one sweep share generated datasets through the data package's on-disk cache.
    env.setdefault(CACHE_ENV, str(Path(out) / ".data_cache"))
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    return env


class _Jobs:
    """The sweep's running job processes, so that Ctrl-C reaches each of them exactly once.

    Jobs start in sessions of their own: a Ctrl-C in the terminal reaches only the sweep, which
    passes it on (SIGINT: each job writes its checkpoint and stops) and waits for them.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.running: set[subprocess.Popen] = set()
        self.stopping = False

    def run(self, command, env) -> tuple[int, str]:
        with self.lock:
            if self.stopping:  # interrupted before this job started
                return INTERRUPTED, ""
            process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                       text=True, start_new_session=True)
            self.running.add(process)
        try:
            _, stderr = process.communicate()
        finally:
            with self.lock:
                self.running.discard(process)
        return process.returncode, stderr

    def interrupt(self, grace_s: float = 120.0) -> None:
        """Stop starting jobs; send SIGINT to the running ones and wait for their checkpoints
        (at most ``grace_s`` seconds each, then they are killed). A further Ctrl-C, SIGTERM or
        SIGHUP while waiting kills them at once: their last checkpoints stay (saves are atomic)."""
        with self.lock:
            self.stopping = True
            running = list(self.running)
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        with handling_signals(lambda signum, frame: self.kill()):
            for process in running:
                try:
                    process.wait(timeout=grace_s)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    def kill(self) -> None:
        """SIGKILL every running job (their finished checkpoints and results are files already)."""
        with self.lock:
            self.stopping = True
            running = list(self.running)
        for process in running:
            if process.poll() is None:
                process.kill()


class _StopSignal(KeyboardInterrupt):
    """SIGTERM or SIGHUP turned into the KeyboardInterrupt that Ctrl-C raises (``signum`` says which)."""

    def __init__(self, signum: int):
        super().__init__()
        self.signum = signum


def _raise_stop(signum, frame):
    raise _StopSignal(signum) if signum != signal.SIGINT else KeyboardInterrupt()


INTERRUPTED = 130  # a job's exit status after SIGINT (its checkpoint is written)


def _run_subprocess(task, upsampler, seed, preset, out, steps, model, threads, jobs: _Jobs | None = None) -> None:
    jobs = jobs or _Jobs()
    returncode, stderr = jobs.run(job_command(task, upsampler, seed, preset, out, steps, model),
                                  job_environment(out, threads))
    stopped = returncode in {128 + signum for signum in STOP_SIGNALS} | {-signal.SIGKILL}
    if stopped and jobs.stopping:
        return  # stopped by the sweep's own Ctrl-C: not finished, not failed; a rerun resumes it
    if stopped:  # a signal from elsewhere: never counted as done, so the sweep does not end without it
        raise RuntimeError(f"job {task}/{upsampler}/seed{seed} was stopped by a signal from outside the sweep "
                           f"(exit {returncode}); run the sweep again to resume it from its checkpoint")
    if returncode != 0:
        raise RuntimeError(f"job {task}/{upsampler}/seed{seed} failed (exit {returncode}):\n{stderr[-2000:]}")
    publish(job_dir(out, task, upsampler, seed), task, upsampler, seed, out)


def _run_in_process(task, upsampler, seed, preset, out, steps, model) -> None:
    from .train import train

    run_dir = job_dir(out, task, upsampler, seed)
    train(make_config(task, upsampler, preset, seed, model, steps), run_dir, resume=True, progress=False)
    publish(run_dir, task, upsampler, seed, out)


def publish(run_dir: Path, task, upsampler, seed, out) -> None:
    """Copy a finished job's ``run_dir/results.json`` to :func:`result_path`, atomically."""
    results = json.loads((run_dir / "results.json").read_text())
    target = result_path(out, task, upsampler, seed)
    remove_stale_temporaries(target)  # left by a sweep killed while publishing
    atomic_write_json(results, target)


def _stored_config(path: Path) -> dict:
    """The config a results file (JSON) or a checkpoint recorded."""
    from ..checkpoint import load_checkpoint

    if path.suffix == ".json":
        try:
            return json.loads(path.read_text())["config"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path} is not a readable results file ({error}); delete it to rerun that job") from None
    return load_checkpoint(path, ("config",))["config"]


def check_existing_results(jobs, preset: str, out, steps: int | None, model: str) -> list:
    """The (task, upsampler, seed) jobs still to run; refuses (ValueError naming the file and
    the differing settings) any finished result or checkpoint made with other settings."""
    from .train import CHECKPOINT_NAME

    todo, configs = [], {}
    for task, upsampler, seed in jobs:
        if (task, upsampler) not in configs:  # validated once per pair (IndexNet builds a model to check)
            configs[task, upsampler] = make_config(task, upsampler, preset, 0, model, steps)
        config = dataclasses.replace(configs[task, upsampler], seed=int(seed))
        done = result_path(out, task, upsampler, seed)
        checkpoint = job_dir(out, task, upsampler, seed) / CHECKPOINT_NAME
        for stored in (done, checkpoint):
            if stored.exists():
                differences = config_differences(_stored_config(stored), config)
                if differences:
                    raise ValueError(f"{stored} was made with other settings ({'; '.join(differences)}); "
                                     "use a fresh --out, or delete it to rerun that job")
        if not done.exists():
            todo.append((task, upsampler, seed))
    return todo


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep: the running jobs wrote their checkpoints; the message says how many
    jobs finished and how to resume. ``signum``: the signal that stopped it (SIGINT for Ctrl-C)."""

    signum = signal.SIGINT


def _run_jobs(todo, preset, out, jobs, steps, model, in_process, progress) -> None:
    from .._progress import tqdm

    bar = tqdm(total=len(todo), desc="sweep", disable=not progress or not todo)
    finished = lambda: sum(result_path(out, *job).exists() for job in todo)  # noqa: E731
    resume = ("run the same command again to resume: finished jobs are skipped, interrupted ones continue "
              "from their checkpoints")
    if in_process:
        try:
            for task, upsampler, seed in todo:
                bar.set_postfix_str(f"{task}/{upsampler}/seed{seed}")
                _run_in_process(task, upsampler, seed, preset, out, steps, model)
                bar.update(1)
        except KeyboardInterrupt as error:  # train() checkpointed first (it defers Ctrl-C to the step's end)
            bar.close()
            signum = getattr(error, "signum", signal.SIGINT)
            cause = "" if signum == signal.SIGINT else f" by {signal.Signals(signum).name}"
            stopped = SweepInterrupted(f"sweep interrupted{cause}: {finished()} of {len(todo)} jobs finished; {resume}")
            stopped.signum = signum
            raise stopped from None
        bar.close()
        return
    threads = max(1, (os.cpu_count() or 1) // jobs)
    running = _Jobs()
    errors = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        try:  # submitting starts jobs too: a Ctrl-C from the first submit on must reach them
            futures = [pool.submit(_run_subprocess, t, u, s, preset, out, steps, model, threads, running)
                       for t, u, s in todo]
            for future in futures:
                try:
                    future.result()
                except RuntimeError as error:
                    errors.append(str(error))
                bar.update(1)
        except KeyboardInterrupt as error:  # Ctrl-C (or SIGTERM/SIGHUP, see main): jobs checkpoint, none starts
            with handling_signals(lambda signum, frame: running.kill()):  # a second one: stop waiting
                running.interrupt()
                pool.shutdown(wait=True, cancel_futures=True)
            bar.close()
            cause = f" by {signal.Signals(error.signum).name}" if isinstance(error, _StopSignal) else ""
            stopped = SweepInterrupted(f"sweep interrupted{cause}: {finished()} of {len(todo)} jobs finished; {resume}")
            stopped.signum = getattr(error, "signum", signal.SIGINT)
            raise stopped from None
    bar.close()
    if errors:
        raise RuntimeError(f"{len(errors)} of {len(todo)} jobs failed; first:\n{errors[0]}")


def run_sweep(tasks, upsamplers, seeds=(0,), preset: str = "quick", out="results", jobs: int = 1,
              steps: int | None = None, model: str = "light", in_process: bool = False,
              progress: bool = True, keep_checkpoints: bool = True, report: bool = False) -> ResultsTable:
    """Run every missing (task, upsampler, seed) job; return the table of the requested jobs.

    ``jobs`` subprocesses run at once (each with ``cpu_count // jobs`` threads);
    ``in_process=True`` runs the jobs one after another in this process instead. A name or seed
    given twice is one job. ``report=True`` also writes :func:`render_report` into ``out`` (while
    the folder is still this sweep's).

    Raises (before any job starts): ValueError for unknown names, seeds outside [0, 2³² − 1],
    non-positive ``jobs`` or ``steps``, or an existing result/checkpoint in ``out`` made with
    other settings; :class:`~indexnet_edu.checkpoint.RunLockedError` while another sweep writes
    into ``out``. Ctrl-C stops it with :class:`SweepInterrupted` once the running jobs have
    written their checkpoints; the same call then resumes.
    """
    tasks, upsamplers, seeds = list(tasks), list(upsamplers), [_seed_value(s) for s in seeds]
    _check_names(tasks, upsamplers, seeds)
    # Twice the same job would be two processes training into one folder (the second refused).
    tasks, upsamplers, seeds = (list(dict.fromkeys(values)) for values in (tasks, upsamplers, [int(s) for s in seeds]))
    if isinstance(jobs, bool) or not isinstance(jobs, Integral) or jobs < 1:
        raise ValueError(f"jobs must be an int >= 1, got {jobs!r}")
    jobs = int(jobs)
    in_process, progress = check_flag(in_process, "in_process"), check_flag(progress, "progress")
    keep_checkpoints, report = check_flag(keep_checkpoints, "keep_checkpoints"), check_flag(report, "report")
    with exclusive_run_lock(out, "sweep"):  # a second sweep on the same folder is refused
        todo = check_existing_results([(t, u, s) for t in tasks for u in upsamplers for s in seeds], preset, out,
                                      steps, model)
        _run_jobs(todo, preset, out, jobs, steps, model, in_process, progress)
        if not keep_checkpoints:
            for task, upsampler, seed in todo:
                shutil.rmtree(job_dir(out, task, upsampler, seed), ignore_errors=True)
        table = load_results(out, preset=preset, tasks=tasks, upsamplers=upsamplers, seeds=seeds)
        if report:
            render_report(table, out)
    return table


def _seed_value(seed):
    """A seed as given, or the int a string such as "3" spells (ValueError naming it otherwise)."""
    if isinstance(seed, str):
        try:
            return int(seed)
        except ValueError:
            raise ValueError(f"seeds must be ints in [0, {MAX_SEED}] (NumPy's seed range), got {seed!r}") from None
    return seed


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m indexnet_edu.experiments.sweep", description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--upsamplers", nargs="+", default=["all"], metavar="NAME",
                        help="registry names, or 'all'")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--preset", default="quick", choices=PRESET_NAMES)
    parser.add_argument("--out", type=output_dir_argument, default=Path("results"))
    parser.add_argument("--jobs", type=int, default=1, help="jobs side by side")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--model", default="light", choices=MODEL_KINDS)
    parser.add_argument("--report-only", action="store_true", help="only render the table and plots")
    return parser


def main(argv=None) -> int:
    """The command line. Exit status: 0 done; 1 a job failed; 2 a usage mistake (before any job);
    75 another sweep holds ``--out``; 128 + the signal's number when Ctrl-C (130), SIGTERM (143) or
    SIGHUP (129) stopped it — the running jobs checkpointed first, and the same command resumes."""
    parser = build_parser()
    args = parser.parse_args(argv)
    upsamplers = available_upsamplers() if args.upsamplers == ["all"] else args.upsamplers
    for flag, value in (("--jobs", args.jobs), ("--steps", args.steps)):
        if value is not None and value < 1:
            parser.error(f"{flag} must be >= 1, got {value}")
    if any(not 0 <= seed <= MAX_SEED for seed in args.seeds):
        parser.error(f"--seeds must be in [0, {MAX_SEED}] (NumPy's seed range), got {args.seeds}")
    with handling_signals(_raise_stop):  # SIGTERM and SIGHUP stop it as Ctrl-C does: jobs checkpoint first
        try:
            if args.report_only:
                if not args.out.is_dir():
                    parser.error(f"--report-only: {args.out} is not a results folder")
                with exclusive_run_lock(args.out, "sweep"):  # not while a sweep writes there
                    table = load_results(args.out, preset=args.preset)
                    paths = render_report(table, args.out)
            else:
                prepare_output_dir(args.out)
                table = run_sweep(args.tasks, upsamplers, args.seeds, args.preset, args.out, args.jobs,
                                  args.steps, args.model, report=True)
                paths = report_paths(table, args.out)
        except ValueError as error:  # raised before any job starts (OutputDirError included)
            parser.error(str(error))
        except RunLockedError as error:
            print(f"{parser.prog}: error: {error}", file=sys.stderr)
            return LOCKED_EXIT_CODE
        except RuntimeError as error:  # jobs that failed: the count and the first one's own message
            print(f"{parser.prog}: error: {error}", file=sys.stderr)
            return 1
        except KeyboardInterrupt as error:  # the jobs checkpointed; one line, no traceback
            print(f"\n{error or 'sweep interrupted; run the same command again to resume'}", file=sys.stderr)
            return 128 + getattr(error, "signum", signal.SIGINT)
    for path in paths:
        print(path)
    print()
    print(report_text(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
