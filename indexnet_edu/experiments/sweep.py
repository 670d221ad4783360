"""Run many (task, upsampler, seed) jobs, then tabulate and plot what they measured.

    python -m indexnet_edu.sweep --tasks reconstruction matting --upsamplers bilinear hin \\
        --seeds 0 1 2 --preset quick --out results/ --jobs 2

Each job is ``python -m indexnet_edu.train ... --resume`` in its own process (``--jobs K``
side by side, sharing the CPU cores or the one GPU). A job whose
``OUT/<task>/<upsampler>/seed<k>.json`` exists is skipped when that file's stored config
(preset, steps, model and every other setting) is the one this sweep asks for; one made with
other settings is refused before any job starts, naming the differing setting (use a fresh
``--out``, or delete the file to rerun it). An interrupted job resumes from its checkpoint in
``OUT/<task>/<upsampler>/seed<k>/`` (a checkpoint of another config is refused the same way).
At the end the comparison table (mean ± sample std over seeds, n, the learned-at-all gate, the
trivial baseline) and the paired contrasts against bilinear with their tests
(:mod:`indexnet_edu.stats`) go to ``OUT/summary.md``, and one strip plot (every seed visible)
per task and metric to ``OUT/<task>_<metric>.png``.

    python -m indexnet_edu.sweep --report-only --out results/laptop --preset laptop

From a notebook: ``run_sweep(...)`` (``in_process=True`` trains in the kernel, sharing the
generated data) and ``load_results(dir)`` → :class:`ResultsTable`.
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
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from numbers import Integral
from pathlib import Path

import numpy as np

from ._checks import MAX_SEED, check_flag
from ._signals import STOP_SIGNALS, handling_signals
from .checkpoint import (LOCKED_EXIT_CODE, RunLockedError, atomic_write_json, atomic_write_text, current_umask,
                         exclusive_run_lock, output_dir_argument, prepare_output_dir, remove_stale_temporaries)
from .data.datasets import CACHE_ENV
from .registry import available_upsamplers
from .tasks import HIGHER_IS_BETTER, TASKS

PRIMARY_METRIC = {"matting": "sad", "matting_noskip": "sad", "reconstruction": "psnr", "segmentation": "miou",
                  "texture_regions": "miou"}


def result_path(out, task: str, upsampler: str, seed: int) -> Path:
    """``out/<task>/<upsampler>/seed<k>.json``: a finished job's published results."""
    return Path(out) / task / upsampler / f"seed{seed}.json"


def job_dir(out, task: str, upsampler: str, seed: int) -> Path:
    """``out/<task>/<upsampler>/seed<k>/``: where a job trains (its checkpoint, results.json)."""
    return result_path(out, task, upsampler, seed).with_suffix("")


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
    """The ``python -m indexnet_edu.train ... --resume`` command line of one sweep job."""
    command = [sys.executable, "-m", "indexnet_edu.train", "--task", task, "--upsampler", upsampler,
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
    package_root = str(Path(__file__).resolve().parent.parent)
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
    from .train import make_config, train

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
    from .checkpoint import load_checkpoint

    if path.suffix == ".json":
        try:
            return json.loads(path.read_text())["config"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path} is not a readable results file ({error}); delete it to rerun that job") from None
    return load_checkpoint(path, ("config",))["config"]


def check_existing_results(jobs, preset: str, out, steps: int | None, model: str) -> list:
    """The (task, upsampler, seed) jobs still to run; refuses (ValueError naming the file and
    the differing settings) any finished result or checkpoint made with other settings."""
    from .train import CHECKPOINT_NAME, config_differences, make_config

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
    from ._progress import tqdm

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
              progress: bool = True, keep_checkpoints: bool = True, report: bool = False) -> "ResultsTable":
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


@dataclass
class ResultsTable:
    """Per-seed results grouped by (task, upsampler): ``values[(task, upsampler)][metric] = [per seed]``.

    Lists are in the order of ``seeds[(task, upsampler)]`` (ascending seed); ``baselines``
    holds the trivial baseline's metrics on the same test set, when the results files have them;
    ``machines`` the CPU (or GPU) model each seed was trained on, when recorded.
    """

    values: dict = field(default_factory=dict)
    seeds: dict = field(default_factory=dict)
    baselines: dict = field(default_factory=dict)
    machines: dict = field(default_factory=dict)

    def machine_models(self) -> set:
        """Every processor model the table's runs were trained on (recorded ones only)."""
        return {model for models in self.machines.values() for model in models if model}

    def tasks(self) -> list[str]:
        return [t for t in TASKS if any(key[0] == t for key in self.values)]

    def upsamplers(self, task: str) -> list[str]:
        return [u for (t, u) in self.values if t == task]

    def metrics(self, task: str) -> list[str]:
        names = []
        for (t, _), metric_values in self.values.items():
            names += [m for m in metric_values if t == task and m not in names]
        primary = PRIMARY_METRIC.get(task)
        return sorted(names, key=lambda m: (m != primary, m))  # the task's primary metric first

    def per_seed(self, task: str, upsampler: str, metric: str) -> dict:
        """{seed: value} of one arm."""
        return dict(zip(self.seeds[(task, upsampler)], self.values[(task, upsampler)][metric]))

    def summary(self, task: str, upsampler: str, metric: str):
        """:class:`~indexnet_edu.stats.ArmSummary` (n, mean, sample std) of one arm."""
        from .stats import summarize

        return summarize(self.values[(task, upsampler)][metric])

    def mean_std(self, task: str, upsampler: str, metric: str) -> tuple[float, float]:
        """Mean and sample standard deviation (ddof = 1; NaN for one seed) over seeds."""
        summary = self.summary(task, upsampler, metric)
        return summary.mean, summary.std

    def baseline(self, task: str, metric: str) -> float | None:
        """The trivial baseline's mean ``metric`` on the task's test set (None if not recorded)."""
        values = [v for (t, _), metrics in self.baselines.items() if t == task for v in metrics.get(metric, [])]
        return float(np.mean(values)) if values else None

    def learned(self, task: str, upsampler: str) -> bool | None:
        """Whether every seed of the arm passes :func:`~indexnet_edu.tasks.learned_at_all` (None: no baseline)."""
        from .tasks import learned_at_all

        baseline = self.baselines.get((task, upsampler))
        if not baseline:
            return None
        names = list(self.values[(task, upsampler)])
        rows = zip(*[self.values[(task, upsampler)][m] for m in names])
        base_rows = zip(*[baseline[m] for m in names if m in baseline])
        base_names = [m for m in names if m in baseline]
        return all(learned_at_all(task, dict(zip(names, row)), dict(zip(base_names, base)))
                   for row, base in zip(rows, base_rows))

    def ranking(self, task: str, metric: str | None = None) -> list[str]:
        """Upsamplers from best to worst by the mean of ``metric`` (default: the task's primary one).

        An order of means, not a finding: read it with :meth:`contrast`, which says whether a
        difference clears the decision rule of :mod:`indexnet_edu.stats`.
        """
        metric = metric or PRIMARY_METRIC[task]
        sign = -1.0 if HIGHER_IS_BETTER.get(metric, True) else 1.0
        return sorted(self.upsamplers(task), key=lambda u: sign * self.mean_std(task, u, metric)[0])

    def contrast(self, task: str, arm: str, reference: str = "bilinear", metric: str | None = None):
        """arm − reference paired over their common seeds: a :class:`~indexnet_edu.stats.PairedContrast`."""
        from .stats import paired_contrast

        metric = metric or PRIMARY_METRIC[task]
        for name in (arm, reference):
            if (task, name) not in self.values:
                raise ValueError(f"no results for {task}/{name}; have {self.upsamplers(task)}")
        a, b = self.per_seed(task, arm, metric), self.per_seed(task, reference, metric)
        seeds = sorted(set(a) & set(b))
        if not seeds:
            raise ValueError(f"{task}/{arm} and {task}/{reference} share no seed")
        # A seed fixes the initial weights and batches, not the floating-point order of another
        # processor's kernels: the same seed trained on another CPU differs by a few per cent, as
        # much as seeds do. Runs of different machines are not paired.
        models = [dict(zip(self.seeds[(task, name)], self.machines.get((task, name), []))) for name in (arm, reference)]
        unpaired = [s for s in seeds if models[0].get(s) and models[1].get(s) and models[0][s] != models[1][s]]
        if unpaired:
            s = unpaired[0]
            raise ValueError(f"{task}/{arm} and {task}/{reference} seed {s} were trained on different machines "
                             f"({models[0][s]} vs {models[1][s]}): not a paired comparison; rerun both on one machine")
        # Noise around the trivial solution only when *neither* arm learned: "one learned, the other
        # did not" is a real difference (the table's learned column says which).
        learned = [self.learned(task, arm), self.learned(task, reference)]
        return paired_contrast([a[s] for s in seeds], [b[s] for s in seeds], HIGHER_IS_BETTER.get(metric, True),
                               task=task, metric=metric, arm=arm, reference=reference, seeds=seeds,
                               learned=any(flag is not False for flag in learned))

    def contrasts(self, task: str, reference: str = "bilinear", metrics=None) -> list:
        """Every other arm − ``reference`` on each of ``metrics`` (default: the primary metric)."""
        metrics = metrics or [PRIMARY_METRIC[task]]
        return [self.contrast(task, arm, reference, metric) for metric in metrics
                for arm in self.upsamplers(task) if arm != reference]

    def markdown(self, task: str, digits: int = 4) -> str:
        """A markdown table: one row per upsampler (in the order loaded), ``mean ± sample std`` and n per
        metric, whether every seed passed the learned-at-all gate, and the trivial baseline's row."""
        metrics = self.metrics(task)
        arrows = [f"{m} {'↑' if HIGHER_IS_BETTER.get(m, True) else '↓'}" for m in metrics]
        lines = ["| upsampler | n | learned | " + " | ".join(arrows) + " |", "|---|---|---|" + "---|" * len(metrics)]
        for upsampler in self.upsamplers(task):
            cells = []
            for metric in metrics:
                mean, std = self.mean_std(task, upsampler, metric)
                cells.append(f"{mean:.{digits}g} ± {std:.2g}" if np.isfinite(std) else f"{mean:.{digits}g} (n=1)")
            learned = {True: "yes", False: "NO", None: "?"}[self.learned(task, upsampler)]
            lines.append(f"| {upsampler} | {len(self.seeds[(task, upsampler)])} | {learned} | " + " | ".join(cells) + " |")
        base = [self.baseline(task, m) for m in metrics]
        if any(v is not None for v in base):
            cells = [f"{v:.{digits}g}" if v is not None else "—" for v in base]
            lines.append("| *trivial baseline* | | | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def __len__(self):
        return len(self.values)


def machine_model(results: dict) -> str | None:
    """The processor a results file's run trained on: its GPU's name, else its CPU model (None if
    not recorded). Runs of one seed pair only when this agrees."""
    machine = results.get("machine") or {}
    return machine.get("gpu") or machine.get("cpu_model")


def load_results(directory, preset: str | None = None, tasks=None, upsamplers=None, seeds=None) -> ResultsTable:
    """Collect ``directory/<task>/<upsampler>/seed<k>.json`` files (optionally of one preset,
    some tasks, upsamplers, seeds), seeds ascending.

    Raises ValueError when two seeds of one (task, upsampler) were made with different
    settings (other than the seed): a table never mixes them.
    """
    table = ResultsTable()
    directory = Path(directory)
    settings = {}
    rows = []
    for path in sorted(directory.glob("*/*/seed*.json")):
        results = json.loads(path.read_text())
        task, upsampler = results["task"], results["upsampler"]
        if (preset and results.get("preset") != preset) or (tasks and task not in tasks) or \
                (upsamplers and upsampler not in upsamplers) or (seeds is not None and results["seed"] not in seeds):
            continue
        setting = {k: v for k, v in results.get("config", {}).items() if k != "seed"}
        first = settings.setdefault((task, upsampler), (path, setting))
        if first[1] != setting:
            differing = sorted(k for k in set(setting) | set(first[1]) if setting.get(k) != first[1].get(k))
            raise ValueError(f"{path} and {first[0]} were made with different settings ({', '.join(differing)}); "
                             "results of different settings are never averaged — move one of them away")
        rows.append((task, upsampler, int(results["seed"]), results))
    known = available_upsamplers()
    order = {name: i for i, name in enumerate(upsamplers or known)}
    rows.sort(key=lambda r: (r[0], order.get(r[1], len(order)), r[1], r[2]))  # the caller's / registry order
    for task, upsampler, seed, results in rows:
        metric_values = table.values.setdefault((task, upsampler), {})
        for metric, value in results["metrics"].items():
            metric_values.setdefault(metric, []).append(float(value))
        for metric, value in results.get("baseline", {}).items():
            table.baselines.setdefault((task, upsampler), {}).setdefault(metric, []).append(float(value))
        table.seeds.setdefault((task, upsampler), []).append(seed)
        table.machines.setdefault((task, upsampler), []).append(machine_model(results))
    return table


def strip_plot(table: ResultsTable, task: str, metric: str | None = None, ax=None, label: str = ""):
    """Every seed of every upsampler as a dot, the mean ± sample std as an error bar, and the trivial
    baseline as a dashed line (matplotlib object API: no global state is touched).

    Returns the Axes (a new Figure's when ``ax`` is None).
    """
    from matplotlib.figure import Figure

    from .figure_sizes import FIGURE_WIDTH_IN, MIN_FONT_PT

    metric = metric or PRIMARY_METRIC[task]
    names = table.upsamplers(task)
    if ax is None:
        ax = Figure(figsize=(min(FIGURE_WIDTH_IN, max(4, 0.5 * len(names) + 1.5)), 3.4)).subplots()
    for i, name in enumerate(names):
        values = np.asarray(table.values[(task, name)][metric])
        offsets = np.linspace(-0.15, 0.15, len(values)) if len(values) > 1 else np.zeros(1)
        ax.scatter(i + offsets, values, s=12, color="tab:blue", alpha=0.7, zorder=3)
        mean, std = table.mean_std(task, name, metric)
        ax.errorbar(i + 0.3, mean, yerr=std if np.isfinite(std) else None, fmt="o", color="black", ms=4,
                    capsize=3, zorder=4)
    baseline = table.baseline(task, metric)
    if baseline is not None:
        ax.axhline(baseline, color="tab:red", linestyle="--", linewidth=1, label="trivial baseline")
        above = all(baseline >= v for name in names for v in table.values[(task, name)][metric])
        ax.annotate("trivial baseline", (1, baseline), xycoords=("axes fraction", "data"), color="tab:red",
                    xytext=(-3, -3 if above else 3), textcoords="offset points", ha="right",
                    va="top" if above else "bottom", fontsize=MIN_FONT_PT)  # on its line, not over the dots
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=MIN_FONT_PT)
    direction = "higher" if HIGHER_IS_BETTER.get(metric, True) else "lower"
    ax.set_ylabel(f"{metric} ({direction} is better)")
    seeds = max((len(table.seeds[(task, n)]) for n in names), default=0)
    ax.set_title(f"{task}{' — ' + label if label else ''}\nevery seed (dots), mean ± sd (bars), n ≤ {seeds}",
                 fontsize=MIN_FONT_PT)
    ax.figure.tight_layout()
    return ax


def _gate_text() -> str:
    from .tasks import LEARNED_MARGIN

    parts = []
    for kind, (metric, rule, margin) in LEARNED_MARGIN.items():
        parts.append(f"{kind} {metric} {'≥ baseline +' if rule == 'plus' else ('≤' if not HIGHER_IS_BETTER[metric] else '≥')}"
                     f" {margin:g}{(' dB' if metric == 'psnr' else '') if rule == 'plus' else ' × baseline'}")
    return "; ".join(parts)


def report_text(table: ResultsTable, reference: str = "bilinear") -> str:
    """Markdown: per task the arm table, then the paired contrasts against ``reference``."""
    from .stats import SD_BAR, contrasts_markdown

    sections = ["Decision rule: a difference is a *finding* only when all n ≥ 5 paired differences have the "
                f"same sign and |mean d| > {SD_BAR:g}·SD(d); otherwise *no detectable difference*. "
                "Std is the sample std (ddof = 1) over seeds. *learned*: every seed beats the trivial baseline "
                f"by the gate's margin ({_gate_text()}).\n"]
    for task in table.tasks():
        sections.append(f"## {task}\n\n{table.markdown(task)}\n")
        if (task, reference) in table.values and len(table.upsamplers(task)) > 1:
            metrics = [PRIMARY_METRIC[task]] + (["grad"] if "grad" in table.metrics(task) else [])
            try:
                contrasts = contrasts_markdown(table.contrasts(task, reference, metrics), per_seed=True)
            except ValueError as error:  # runs from different machines: say so instead of pairing them
                contrasts = f"No paired contrasts: {error}."
            sections.append(f"Paired contrasts against {reference}:\n\n{contrasts}\n")
    return "\n".join(sections)


def report_paths(table: ResultsTable, out) -> list[Path]:
    """The files :func:`render_report` writes for ``table``: ``out/summary.md``, then one
    ``out/<task>_<metric>.png`` per task and metric."""
    out = Path(out)
    plots = [out / f"{task}_{metric}.png" for task in table.tasks() for metric in table.metrics(task)]
    return [out / "summary.md"] + plots


def render_report(table: ResultsTable, out) -> list[Path]:
    """Write ``out/summary.md`` (arm tables and paired contrasts) and ``out/<task>_<metric>.png``
    strip plots, each atomically; returns :func:`report_paths`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = report_paths(table, out)
    plots = iter(paths[1:])
    for task in table.tasks():
        for metric in table.metrics(task):
            ax = strip_plot(table, task, metric)  # a matplotlib Figure outside pyplot: no backend change
            _save_figure_atomically(ax.figure, next(plots))
    remove_stale_temporaries(paths[0])
    atomic_write_text("# Sweep results\n\n" + report_text(table) + "\n", paths[0])
    return paths


def _save_figure_atomically(figure, path: Path) -> None:
    """``figure.savefig(path)`` through a temp file renamed into place: a reader (or a sweep
    stopped mid-write) never leaves half a PNG."""
    remove_stale_temporaries(path)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            figure.savefig(handle, dpi=100, format="png")
        os.chmod(handle.name, 0o666 & ~current_umask())
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m indexnet_edu.sweep", description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--upsamplers", nargs="+", default=["all"], metavar="NAME",
                        help="registry names, or 'all'")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--preset", default="quick", choices=("quick", "laptop", "full"))
    parser.add_argument("--out", type=output_dir_argument, default=Path("results"))
    parser.add_argument("--jobs", type=int, default=1, help="jobs side by side")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--model", default="light", choices=("light", "indexnet"))
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
