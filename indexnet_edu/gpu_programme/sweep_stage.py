"""The sweep stage: many small training jobs side by side on one GPU, within the budget.

It reuses :mod:`indexnet_edu.experiments.sweep`: each job is the sweep's own ``python -m indexnet_edu.experiments.train
... --resume`` process (:func:`~indexnet_edu.experiments.sweep.job_command`), its result is published
atomically to the sweep's :func:`~indexnet_edu.experiments.results.result_path`, and finished jobs are
found (and jobs made with other settings refused) by
:func:`~indexnet_edu.experiments.sweep.check_existing_results`. What this module adds:

* the data generated once, in background processes started before the checks and the bench
  run (so it overlaps them), into the on-disk cache every job reads;
* a scheduler that launches a job only when the budget left can fit it (its estimate is the
  longest finished job of its kind so far, else the plan's prior), interrupts the running jobs
  when the work time is over or the programme is stopped (SIGINT: they write a checkpoint and a
  re-run resumes them), and records every job as done, reused, failed, interrupted or skipped
  with the reason.

Job order is seed-major (every task and upsampler of seed 0, then of seed 1, …), so a run that
is cut short still holds complete paired comparisons for the seeds it reached.
"""
from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import signal
import subprocess
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from ..data.datasets import CACHE_ENV
from ..experiments.sweep import check_existing_results, job_command, job_environment, publish
from ..experiments.results import job_dir, result_path

#: How long an interrupted job may take to write its checkpoint before it is killed.
INTERRUPT_GRACE_S = 15.0


@dataclass(frozen=True)
class Job:
    """One (task, upsampler, seed) training run of the light model or the full IndexNet."""

    task: str
    upsampler: str
    seed: int
    model: str = "light"

    @property
    def name(self) -> str:
        return f"{self.model}/{self.task}/{self.upsampler}/seed{self.seed}"


def sweep_root(work, model: str) -> Path:
    """``work/sweep/<model>``: the sweep folder (results, run folders) of one model kind."""
    return Path(work) / "sweep" / model


def plan_jobs(plan: dict) -> list[Job]:
    """Every job of the plan, seed-major: ``plan["groups"]`` is a list of
    ``{"model", "tasks", "upsamplers"}``, ``plan["seeds"]`` the seeds."""
    return [Job(task, upsampler, int(seed), group["model"])
            for seed in plan["seeds"] for group in plan["groups"]
            for task in group["tasks"] for upsampler in group["upsamplers"]]


def dataset_specs(jobs, preset: str, steps: int | None) -> dict:
    """``{key: (data task, split, n, size, data seed)}`` of every dataset the jobs read, and for
    each job the keys it needs: ``(specs, needs)``."""
    from ..experiments.tasks import task_spec
    from ..experiments.config import make_config

    specs, needs = {}, {}
    for job in jobs:
        config = make_config(job.task, job.upsampler, preset, job.seed, job.model, steps)
        keys = []
        for split, n in (("train", config.n_train), ("test", config.n_test)):
            spec = (task_spec(job.task).data, split, n, config.size, config.data_seed)
            key = "{}-{}-n{}-size{}-seed{}".format(*spec)
            specs[key] = spec
            keys.append(key)
        needs[job] = keys
    return specs, needs


def prepare_dataset(spec: tuple, cache_dir: str) -> float:
    """Generate one dataset into ``cache_dir`` (or validate it there); returns the seconds taken."""
    import torch

    from ..data import make_dataset

    torch.set_num_threads(1)
    started = time.perf_counter()
    task, split, n, size, seed = spec
    make_dataset(task, split=split, n=n, size=size, seed=seed, cache_dir=cache_dir).materialize()
    return time.perf_counter() - started


def start_data_preparation(specs: dict, cache_dir, processes: int):
    """Begin generating every dataset in ``processes`` spawned processes (spawn: safe after CUDA
    was initialised here); returns (executor, {key: future}). Shut the executor down when done."""
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    executor = concurrent.futures.ProcessPoolExecutor(max_workers=max(1, min(processes, len(specs) or 1)),
                                                      mp_context=multiprocessing.get_context("spawn"))
    # The largest first: they decide when the last dataset is ready.
    order = sorted(specs, key=lambda key: -specs[key][2] * specs[key][3] ** 2)
    return executor, {key: executor.submit(prepare_dataset, specs[key], str(cache_dir)) for key in order}


class Scheduler:
    """Runs jobs ``workers`` at a time within ``budget`` (see the module docstring)."""

    def __init__(self, jobs, plan: dict, work, budget, workers: int, data_futures: dict, needs: dict,
                 cache_dir, stop_after_jobs: int | None = None, log=print, on_progress=lambda: None):
        self.jobs, self.plan, self.work, self.budget = list(jobs), plan, Path(work), budget
        self.workers, self.data_futures, self.needs = workers, data_futures, needs
        self.cache_dir, self.stop_after_jobs = str(cache_dir), stop_after_jobs
        self.log, self.on_progress = log, on_progress
        self.records: dict[Job, dict] = {}
        self.durations = defaultdict(list)
        self.threads = max(1, (os.cpu_count() or 1) // workers)

    def estimate(self, job: Job) -> float:
        """Seconds the job is expected to take: the longest finished job of its kind, else the prior."""
        seen = self.durations[(job.model, job.task)] or self.durations[job.model]
        return max(seen) if seen else float(self.plan["prior_job_s"][job.model])

    def _data_state(self, job: Job) -> tuple[bool, str | None]:
        """(ready, the reason it never will be, or None)."""
        for key in self.needs[job]:
            future = self.data_futures[key]
            if not future.done():
                return False, None
            if future.exception() is not None:
                error = future.exception()
                return False, f"its data ({key}) could not be generated: {type(error).__name__}: {error}"
        return True, None

    def _record(self, job: Job, status: str, **fields) -> None:
        self.records[job] = {"job": job.name, "task": job.task, "upsampler": job.upsampler, "seed": job.seed,
                             "model": job.model, "status": status, **fields}

    def _start(self, job: Job):
        root = sweep_root(self.work, job.model)
        env = job_environment(root, self.threads)
        env[CACHE_ENV] = self.cache_dir
        log_path = self.work / "logs" / (job.name.replace("/", "-") + ".log")
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "w") as stream:
            process = subprocess.Popen(job_command(job.task, job.upsampler, job.seed, self.plan["preset"], root,
                                                   self.plan["steps"], job.model),
                                       env=env, stdout=stream, stderr=subprocess.STDOUT)
        return {"process": process, "started": time.monotonic(), "log": log_path, "interrupted_at": None}

    def _finish(self, job: Job, state: dict) -> None:
        seconds = time.monotonic() - state["started"]
        code = state["process"].returncode
        root = sweep_root(self.work, job.model)
        if code == 0:
            publish(job_dir(root, job.task, job.upsampler, job.seed), job.task, job.upsampler, job.seed, root)
            self.durations[(job.model, job.task)].append(seconds)
            self.durations[job.model].append(seconds)
            self._record(job, "done", seconds=round(seconds, 2),
                         result=str(result_path(root, job.task, job.upsampler, job.seed).relative_to(self.work)))
        else:
            tail = state["log"].read_text(errors="replace")[-2000:] if state["log"].exists() else ""
            if state["interrupted_at"] is not None:
                self._record(job, "interrupted", seconds=round(seconds, 2), returncode=code,
                             reason=f"{self.budget.stop_reason or 'the work time ran out'}; its checkpoint "
                                    "(if it reached a step) lets a re-run resume it")
            else:
                self._record(job, "failed", seconds=round(seconds, 2), returncode=code, log_tail=tail)
        self.log(f"sweep: {job.name}: {self.records[job]['status']} ({seconds:.1f} s)")

    def run(self, pending) -> dict:
        pending, running = list(pending), {}
        done_here = 0
        while pending or running:
            for job, state in list(running.items()):
                if state["process"].poll() is not None:
                    del running[job]
                    self._finish(job, state)
                    done_here += self.records[job]["status"] == "done"
                    self.on_progress()
            if self.stop_after_jobs is not None and done_here >= self.stop_after_jobs:
                self.budget.request_stop(f"testing aid: stopped after {self.stop_after_jobs} finished jobs")
            if self.budget.stopped or self.budget.work_left() <= 0:
                for state in running.values():  # SIGINT: the job checkpoints at the end of its step and exits
                    if state["interrupted_at"] is None:
                        state["process"].send_signal(signal.SIGINT)
                        state["interrupted_at"] = time.monotonic()
                    elif time.monotonic() - state["interrupted_at"] > INTERRUPT_GRACE_S:
                        state["process"].kill()
                if not running:
                    break
                time.sleep(0.1)
                continue
            waiting_for_data = False
            for job in list(pending):
                if len(running) >= self.workers:
                    break
                ready, never = self._data_state(job)
                if never:
                    pending.remove(job)
                    self._record(job, "skipped", reason=never)
                    continue
                if not ready:
                    waiting_for_data = True
                    continue
                if self.estimate(job) > self.budget.work_left():
                    continue
                pending.remove(job)
                running[job] = self._start(job)
            if not running and not waiting_for_data and pending:
                break  # nothing runs, and no pending job fits the budget left
            time.sleep(0.1)
        left = max(0.0, self.budget.work_left())
        for job in pending:
            why = (self.budget.stop_reason if self.budget.stopped else
                   f"budget: needs ~{self.estimate(job):.0f} s, {left:.0f} s of work time left")
            self._record(job, "skipped", reason=why, estimate_s=round(self.estimate(job), 1))
        return self.records


def run_sweep_stage(plan: dict, work, budget, workers: int, data_futures: dict, needs: dict, cache_dir,
                    stop_after_jobs: int | None = None, log=print, on_progress=lambda: None) -> dict:
    """Run the plan's jobs; returns ``{"jobs": [records, in plan order], "counts": {...}}``.

    Jobs already finished in ``work`` (with the same settings) are recorded as ``"reused"``.
    Raises ValueError (before any job starts) for a finished job or checkpoint in ``work`` made
    with other settings, as :func:`~indexnet_edu.experiments.sweep.check_existing_results` does.
    """
    jobs = plan_jobs(plan)
    todo = []
    for model in dict.fromkeys(job.model for job in jobs):
        mine = [(job.task, job.upsampler, job.seed) for job in jobs if job.model == model]
        left = check_existing_results(mine, plan["preset"], sweep_root(work, model), plan["steps"], model)
        todo += [Job(task, upsampler, seed, model) for task, upsampler, seed in left]
    scheduler = Scheduler(jobs, plan, work, budget, workers, data_futures, needs, cache_dir, stop_after_jobs, log,
                          on_progress)
    for job in jobs:
        if job not in todo:
            root = sweep_root(work, job.model)
            scheduler._record(job, "reused", result=str(result_path(root, job.task, job.upsampler, job.seed)
                                                        .relative_to(Path(work))))
    log(f"sweep: {len(jobs)} jobs, {len(jobs) - len(todo)} already done, {workers} side by side")
    todo_set = set(todo)
    records = scheduler.run([job for job in jobs if job in todo_set])
    ordered = [records[job] for job in jobs]
    statuses = [record["status"] for record in ordered]
    counts = {status: statuses.count(status) for status in ("done", "reused", "failed", "interrupted", "skipped")}
    return {"jobs": ordered, "counts": counts}


def write_summaries(plan: dict, work) -> dict:
    """``work/sweep/<model>/summary.md`` (the sweep's arm tables and paired contrasts) for each
    model kind with results; returns ``{model: path or the error that prevented it}``."""
    from ..checkpoint import atomic_write_text
    from ..experiments.results import load_results, report_text

    written = {}
    for model in dict.fromkeys(group["model"] for group in plan["groups"]):
        root = sweep_root(work, model)
        try:
            table = load_results(root, preset=plan["preset"]) if root.is_dir() else None
            if table is None or not len(table):
                written[model] = "no results"
                continue
            atomic_write_text(f"# Sweep results ({model} model)\n\n" + report_text(table) + "\n", root / "summary.md")
            written[model] = str((root / "summary.md").relative_to(Path(work)))
        except Exception as error:  # a report that cannot be drawn must not cost the results
            written[model] = f"error: {type(error).__name__}: {error}"
    return written
