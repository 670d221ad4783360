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
At the end the comparison table (mean ± std over seeds, markdown) goes to ``OUT/summary.md``
and one bar chart per task and metric to ``OUT/<task>_<metric>.png``.

From a notebook: ``run_sweep(...)`` (``in_process=True`` trains in the kernel, sharing the
generated data) and ``load_results(dir)`` → :class:`ResultsTable`.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from numbers import Integral
from pathlib import Path

import numpy as np

from .checkpoint import atomic_write_json, atomic_write_text, prepare_output_dir, remove_stale_temporaries
from .data.datasets import CACHE_ENV
from .registry import available_upsamplers
from .tasks import HIGHER_IS_BETTER, TASKS

PRIMARY_METRIC = {"matting": "sad", "reconstruction": "psnr", "segmentation": "miou"}


def result_path(out, task: str, upsampler: str, seed: int) -> Path:
    return Path(out) / task / upsampler / f"seed{seed}.json"


def _check_names(tasks, upsamplers, seeds):
    for task in tasks:
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; expected some of {TASKS}")
    known = available_upsamplers()
    for name in upsamplers:
        if name not in known:
            raise ValueError(f"unknown upsampler {name!r}; expected some of {', '.join(known)}")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
            raise ValueError(f"seeds must be ints >= 0, got {seed!r}")
    if not tasks or not upsamplers or not seeds:
        raise ValueError("tasks, upsamplers and seeds must each name at least one value")


def _run_subprocess(task, upsampler, seed, preset, out, steps, model, threads) -> None:
    run_dir = result_path(out, task, upsampler, seed).with_suffix("")
    command = [sys.executable, "-m", "indexnet_edu.train", "--task", task, "--upsampler", upsampler,
               "--preset", preset, "--seed", str(seed), "--out", str(run_dir), "--model", model,
               "--resume", "--no-progress"]
    if steps is not None:
        command += ["--steps", str(steps)]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    # Jobs of one sweep share generated datasets through the data package's on-disk cache.
    env.setdefault(CACHE_ENV, str(Path(out) / ".data_cache"))
    package_root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"job {task}/{upsampler}/seed{seed} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    _publish(run_dir, task, upsampler, seed, out)


def _run_in_process(task, upsampler, seed, preset, out, steps, model) -> None:
    from .train import make_config, train

    run_dir = result_path(out, task, upsampler, seed).with_suffix("")
    train(make_config(task, upsampler, preset, seed, model, steps), run_dir, resume=True, progress=False)
    _publish(run_dir, task, upsampler, seed, out)


def _publish(run_dir: Path, task, upsampler, seed, out) -> None:
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
        checkpoint = done.with_suffix("") / CHECKPOINT_NAME
        for stored in (done, checkpoint):
            if stored.exists():
                differences = config_differences(_stored_config(stored), config)
                if differences:
                    raise ValueError(f"{stored} was made with other settings ({'; '.join(differences)}); "
                                     "use a fresh --out, or delete it to rerun that job")
        if not done.exists():
            todo.append((task, upsampler, seed))
    return todo


def run_sweep(tasks, upsamplers, seeds=(0,), preset: str = "quick", out="results", jobs: int = 1,
              steps: int | None = None, model: str = "light", in_process: bool = False,
              progress: bool = True, keep_checkpoints: bool = True) -> "ResultsTable":
    """Run every missing (task, upsampler, seed) job; return the table of the requested jobs.

    ``jobs`` subprocesses run at once (each with ``cpu_count // jobs`` threads);
    ``in_process=True`` runs the jobs one after another in this process instead.

    Raises (before any job starts): ValueError for unknown names, non-positive ``jobs`` or
    ``steps``, or an existing result/checkpoint in ``out`` made with other settings.
    """
    from tqdm.auto import tqdm

    tasks, upsamplers, seeds = list(tasks), list(upsamplers), [int(s) if isinstance(s, str) else s for s in seeds]
    _check_names(tasks, upsamplers, seeds)
    if isinstance(jobs, bool) or not isinstance(jobs, Integral) or jobs < 1:
        raise ValueError(f"jobs must be an int >= 1, got {jobs!r}")
    jobs = int(jobs)
    todo = check_existing_results([(t, u, s) for t in tasks for u in upsamplers for s in seeds], preset, out,
                                  steps, model)
    bar = tqdm(total=len(todo), desc="sweep", disable=not progress or not todo)
    if in_process:
        for task, upsampler, seed in todo:
            bar.set_postfix_str(f"{task}/{upsampler}/seed{seed}")
            _run_in_process(task, upsampler, seed, preset, out, steps, model)
            bar.update(1)
    else:
        threads = max(1, (os.cpu_count() or 1) // jobs)
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(_run_subprocess, t, u, s, preset, out, steps, model, threads) for t, u, s in todo]
            errors = []
            try:
                for future in futures:
                    try:
                        future.result()
                    except RuntimeError as error:
                        errors.append(str(error))
                    bar.update(1)
            except KeyboardInterrupt:  # Ctrl-C: running jobs checkpoint and stop; start no queued one
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        if errors:
            raise RuntimeError(f"{len(errors)} of {len(todo)} jobs failed; first:\n{errors[0]}")
    bar.close()
    if not keep_checkpoints:
        for task, upsampler, seed in todo:
            shutil.rmtree(result_path(out, task, upsampler, seed).with_suffix(""), ignore_errors=True)
    return load_results(out, preset=preset, tasks=tasks, upsamplers=upsamplers, seeds=seeds)


@dataclass
class ResultsTable:
    """Per-seed results grouped by (task, upsampler): ``values[(task, upsampler)][metric] = [per seed]``."""

    values: dict = field(default_factory=dict)
    seeds: dict = field(default_factory=dict)

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

    def mean_std(self, task: str, upsampler: str, metric: str) -> tuple[float, float]:
        """Mean and (population) standard deviation over seeds."""
        values = np.asarray(self.values[(task, upsampler)][metric], dtype=float)
        return float(values.mean()), float(values.std())

    def ranking(self, task: str, metric: str | None = None) -> list[str]:
        """Upsamplers from best to worst by the mean of ``metric`` (default: the task's primary one)."""
        metric = metric or PRIMARY_METRIC[task]
        sign = -1.0 if HIGHER_IS_BETTER.get(metric, True) else 1.0
        return sorted(self.upsamplers(task), key=lambda u: sign * self.mean_std(task, u, metric)[0])

    def markdown(self, task: str, digits: int = 4) -> str:
        """A markdown table: one row per upsampler, ``mean ± std`` per metric, best first."""
        metrics = self.metrics(task)
        arrows = [f"{m} {'↑' if HIGHER_IS_BETTER.get(m, True) else '↓'}" for m in metrics]
        lines = ["| upsampler | seeds | " + " | ".join(arrows) + " |", "|---|---|" + "---|" * len(metrics)]
        for upsampler in self.ranking(task, metrics[0]):
            cells = []
            for metric in metrics:
                mean, std = self.mean_std(task, upsampler, metric)
                cells.append(f"{mean:.{digits}g} ± {std:.2g}")
            lines.append(f"| {upsampler} | {len(self.seeds[(task, upsampler)])} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def __len__(self):
        return len(self.values)


def load_results(directory, preset: str | None = None, tasks=None, upsamplers=None, seeds=None) -> ResultsTable:
    """Collect ``directory/<task>/<upsampler>/seed<k>.json`` files (optionally of one preset,
    some tasks, upsamplers, seeds).

    Raises ValueError when two seeds of one (task, upsampler) were made with different
    settings (other than the seed): a table never mixes them.
    """
    table = ResultsTable()
    directory = Path(directory)
    settings = {}
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
        metric_values = table.values.setdefault((task, upsampler), {})
        for metric, value in results["metrics"].items():
            metric_values.setdefault(metric, []).append(float(value))
        table.seeds.setdefault((task, upsampler), []).append(int(results["seed"]))
    if upsamplers:  # keep the caller's order
        order = {name: i for i, name in enumerate(upsamplers)}
        table.values = dict(sorted(table.values.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 0))))
    return table


def plot_metric(table: ResultsTable, task: str, metric: str | None = None, ax=None, label: str = ""):
    """Bar chart of one metric over upsamplers, mean with ±std error bars, best first."""
    import matplotlib.pyplot as plt

    metric = metric or PRIMARY_METRIC[task]
    names = table.ranking(task, metric)
    stats = [table.mean_std(task, name, metric) for name in names]
    if ax is None:
        _, ax = plt.subplots(figsize=(max(4, 0.45 * len(names) + 1), 3))
    ax.bar(range(len(names)), [m for m, _ in stats], yerr=[s for _, s in stats], capsize=3, color="tab:blue")
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
    direction = "higher" if HIGHER_IS_BETTER.get(metric, True) else "lower"
    ax.set_ylabel(f"{metric} ({direction} is better)")
    ax.set_title(f"{task}{' — ' + label if label else ''}")
    low = min(m - s for m, s in stats)
    high = max(m + s for m, s in stats)
    pad = 0.1 * (high - low or 1.0)
    ax.set_ylim(low - pad, high + pad)
    return ax


def render_report(table: ResultsTable, out) -> list[Path]:
    """Write ``out/summary.md`` and ``out/<task>_<metric>.png``; returns the written paths.

    Figures are drawn on ``matplotlib.figure.Figure`` objects, outside pyplot: the caller's
    backend and open figures are left as they were.
    """
    from matplotlib.figure import Figure

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written, sections = [], []
    for task in table.tasks():
        sections.append(f"## {task}\n\n{table.markdown(task)}\n")
        for metric in table.metrics(task):
            figure = Figure(figsize=(max(4, 0.45 * len(table.upsamplers(task)) + 1), 3))
            ax = plot_metric(table, task, metric, ax=figure.subplots())
            path = out / f"{task}_{metric}.png"
            figure.tight_layout()
            figure.savefig(path, dpi=100)
            written.append(path)
    summary = out / "summary.md"
    remove_stale_temporaries(summary)
    text = "# Sweep results (mean ± std over seeds)\n\n" + "\n".join(sections)
    atomic_write_text(text, summary)
    return [summary] + written


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m indexnet_edu.sweep", description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--upsamplers", nargs="+", default=["all"], metavar="NAME",
                        help="registry names, or 'all'")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--preset", default="quick", choices=("quick", "full"))
    parser.add_argument("--out", type=Path, default=Path("results"))
    parser.add_argument("--jobs", type=int, default=1, help="jobs side by side")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--model", default="light", choices=("light", "indexnet"))
    parser.add_argument("--report-only", action="store_true", help="only render the table and plots")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    upsamplers = available_upsamplers() if args.upsamplers == ["all"] else args.upsamplers
    for flag, value in (("--jobs", args.jobs), ("--steps", args.steps)):
        if value is not None and value < 1:
            parser.error(f"{flag} must be >= 1, got {value}")
    if any(seed < 0 for seed in args.seeds):
        parser.error(f"--seeds must be >= 0, got {args.seeds}")
    try:
        if args.report_only:
            if not args.out.is_dir():
                parser.error(f"--report-only: {args.out} is not a results folder")
            table = load_results(args.out, preset=args.preset)
        else:
            prepare_output_dir(args.out)
            table = run_sweep(args.tasks, upsamplers, args.seeds, args.preset, args.out, args.jobs,
                              args.steps, args.model)
    except ValueError as error:  # raised before any job starts (OutputDirError included)
        parser.error(str(error))
    for path in render_report(table, args.out):
        print(path)
    for task in table.tasks():
        print(f"\n## {task}\n{table.markdown(task)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
