"""The whole GPU programme: checks, bench, sweep, packed — within one wall-clock budget.

Stages run in order, each with a share of the budget (the sweep gets whatever is left), with
:data:`RESERVE_S` seconds kept back for packing. The sweep's data starts generating in
background processes first, so it overlaps the checks and the bench. After every stage (and
every few finished jobs) the archive is re-packed, so a run killed at any moment still leaves
the last complete archive. A stage that finished before in the same work folder is reused,
and so is every finished job: a re-run does only what is missing.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import importlib.metadata
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

from ..checkpoint import atomic_write_json, exclusive_run_lock, prepare_output_dir
from .archive import write_archive, write_summary
from .budget import Budget, stop_on_signals

STAGES = ("checks", "bench", "sweep")
#: Share of the whole budget each stage may use before it stops starting work.
STAGE_SHARES = {"checks": 0.15, "bench": 0.25}
#: The sweep's light-model upsamplers: ten, one or two of each kind of kernel source (fixed,
#: learned, encoder, decoder, encoder+decoder), bilinear first as every contrast's reference.
SWEEP_UPSAMPLERS = ("bilinear", "nearest", "deconv", "pixel_shuffle", "max_unpool", "carafe", "dysample", "hin",
                    "din_m2o", "fade")
LIGHT_TASKS = ("reconstruction", "matting_noskip", "matting", "texture_regions")
INDEXNET_UPSAMPLERS = ("max_unpool", "hin", "din_m2o")
#: Seconds held back from the work for the final packing.
RESERVE_S = {"device": 15.0, "dry_run": 3.0}

PLANS = {
    # The GPU run. The full IndexNet jobs, the longest, go first within each seed. Job priors
    # are guesses until a job of that kind has finished (then the
    # longest finished one is the estimate): train.py's full preset is itself an estimate.
    "device": {
        "device": "cuda",
        "bench": {"reassembly_repeats": 11, "reassembly_target": {}, "model_size": 320, "model_batch": 16,
                  "model_repeats": 10, "model_warmup": 3, "compile_backend": "inductor", "compile_min_s": 60.0},
        "sweep": {"preset": "full", "steps": None, "seeds": [0, 1, 2, 3, 4],
                  "groups": [{"model": "indexnet", "tasks": ["matting"], "upsamplers": list(INDEXNET_UPSAMPLERS)},
                             {"model": "light", "tasks": list(LIGHT_TASKS), "upsamplers": list(SWEEP_UPSAMPLERS)}],
                  "prior_job_s": {"light": 40.0, "indexnet": 120.0}, "workers": 8, "data_processes": 8},
        "main_threads": None,  # PyTorch's default in this process (the GPU does the work)
    },
    # The CPU rehearsal: the same stages and code paths at toy sizes (seconds per job).
    "dry_run": {
        "device": "cpu",
        "bench": {"reassembly_repeats": 1, "reassembly_target": {"channels": 16, "size": 16}, "model_size": 32,
                  "model_batch": 2, "model_repeats": 1, "model_warmup": 1, "compile_backend": None,
                  "compile_min_s": 0.0},
        "sweep": {"preset": "quick", "steps": 2, "seeds": [0],
                  "groups": [{"model": "indexnet", "tasks": ["matting"], "upsamplers": ["max_unpool"]},
                             {"model": "light", "tasks": list(LIGHT_TASKS), "upsamplers": ["bilinear", "hin"]}],
                  "prior_job_s": {"light": 10.0, "indexnet": 20.0}, "workers": 2, "data_processes": 1},
        # One thread here and one data process: on a 2-core machine more only oversubscribes it.
        "main_threads": 1,
    },
}
#: Distributions whose versions the provenance records (None: not installed).
PACKAGES = ("torch", "numpy", "einops", "matplotlib", "scikit-image", "scipy", "triton", "numba", "tqdm", "pillow",
            "ipywidgets", "jupyterlab", "pytest")


def default_work_dir(out, plan_name: str) -> Path:
    """Checkpoints, data and per-job files live outside ``out`` (only the archive and the summary
    belong there): ``$TMPDIR/indexnet_edu_gpu_programme/<hash of out>-<plan>``, the same for
    every run into the same ``out``, so a re-run finds what an earlier one finished."""
    digest = hashlib.sha1(str(Path(out).resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / "indexnet_edu_gpu_programme" / f"{digest}-{plan_name}"


def check_arguments(out, budget_s, workers=None, stop_after_jobs=None, stages=STAGES) -> None:
    """ValueError naming the argument for anything the programme cannot run with."""
    if out is None or not str(out).strip():
        raise ValueError("--out must name a folder (got an empty path)")
    if isinstance(budget_s, bool) or not isinstance(budget_s, (int, float)) or not budget_s == budget_s \
            or budget_s in (float("inf"),) or budget_s <= 0:
        raise ValueError(f"--budget-s must be a finite number of seconds > 0, got {budget_s!r}")
    for flag, value in (("--workers", workers), ("--stop-after-jobs", stop_after_jobs)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{flag} must be an int >= 1, got {value!r}")
    unknown = [stage for stage in stages if stage not in STAGES]
    if unknown or not stages:
        raise ValueError(f"--stages must name some of {', '.join(STAGES)}, got {list(stages)}")


def source_digest() -> str:
    """sha256 over the package's Python sources: identifies the code where git cannot."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def provenance(device: torch.device, plan_name: str, plan: dict, budget_s: float, work: Path) -> dict:
    from ..experiments.runtime import git_commit

    record = {"programme": "python -m indexnet_edu.gpu_programme", "argv": sys.argv, "plan": plan_name,
              "plan_settings": plan, "budget_s": budget_s, "work_dir": str(work), "device": str(device),
              "torch": torch.__version__, "cuda": torch.version.cuda, "python": platform.python_version(),
              "platform": platform.platform(), "cpu_count": os.cpu_count(), "git_commit": git_commit(),
              "source_sha256": source_digest(), "packages": {name: _version(name) for name in PACKAGES},
              "started_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    if device.type == "cuda":
        properties = torch.cuda.get_device_properties(device)
        record.update(gpu=torch.cuda.get_device_name(device),
                      gpu_capability=list(torch.cuda.get_device_capability(device)),
                      gpu_memory_gib=round(properties.total_memory / 2**30, 1))
    return record


class _Log:
    """Prints each line with the elapsed time and keeps it in ``work/log.txt``."""

    def __init__(self, path: Path, budget: Budget, echo=print):
        self.path, self.budget, self.echo = path, budget, echo

    def __call__(self, line: str) -> None:
        text = f"[{self.budget.elapsed():6.1f} s] {line}"
        if self.echo:
            self.echo(text)
        with open(self.path, "a") as stream:
            stream.write(text + "\n")


def _reusable(path: Path, plan_name: str) -> dict | None:
    """A stage file of an earlier run of the same plan that ran to completion, else None."""
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return stored if stored.get("plan") == plan_name and stored.get("complete") else None


def _checks_complete(results: dict) -> bool:
    return not any(item["status"] == "skipped" and item.get("reason", "").startswith(("out of time", "the programme"))
                   for item in results["records"])


def _bench_complete(results: dict) -> bool:
    parts = [results["reassembly"]] + results["indexnet"]["variants"]
    return not any(part.get("status") == "skipped" and not part.get("reason", "").startswith("not in this plan")
                   for part in parts)


def run_programme(out, budget_s: float, dry_run: bool = False, work=None, workers: int | None = None,
                  stages=STAGES, stop_after_jobs: int | None = None, echo=print) -> dict:
    """Run the programme; returns the summary also written to ``out/summary.json``.

    Args:
        out: folder for ``gpu_programme.tar.gz`` and ``summary.json`` (created).
        budget_s: wall-clock seconds for everything, packing included.
        dry_run: the CPU rehearsal (:data:`PLANS` ``"dry_run"``) instead of the GPU run.
        work: folder for checkpoints, data and per-job files (default :func:`default_work_dir`).
        workers: jobs side by side (default: the plan's).
        stages: which of :data:`STAGES` to run.
        stop_after_jobs: testing aid — act as if the run were cut off once this many jobs finished.
        echo: where progress lines go (None: nowhere; they are in the archive's log.txt anyway).

    Raises:
        ValueError: bad arguments, an unusable ``out``, or no CUDA for the GPU run.
        RunLockedError: another programme is using ``out`` or ``work``
            (:class:`~indexnet_edu.checkpoint.RunLockedError`), before any work.
    """
    check_arguments(out, budget_s, workers, stop_after_jobs, stages)
    plan_name = "dry_run" if dry_run else "device"
    plan = PLANS[plan_name]
    if plan["device"] == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"no CUDA device (torch {torch.__version__}, torch.cuda.is_available() is False); "
                         "rehearse on the CPU with --dry-run")
    device = torch.device(plan["device"])
    out = prepare_output_dir(out)
    work = prepare_output_dir(work if work is not None else default_work_dir(out, plan_name))
    workers = workers or plan["sweep"]["workers"]
    # One programme per folder: a second run into the same --out or --work is refused before any work.
    with contextlib.ExitStack() as locks:
        for folder in dict.fromkeys([out.resolve(), work.resolve()]):
            locks.enter_context(exclusive_run_lock(folder, "gpu_programme"))
        budget = Budget(float(budget_s), min(RESERVE_S[plan_name], 0.2 * float(budget_s)))
        log = _Log(work / "log.txt", budget, echo)
        log(f"programme: plan {plan_name} on {device}, budget {budget_s:g} s, out {out}, work {work}")
        record = provenance(device, plan_name, plan, float(budget_s), work)
        stages_done: dict = {}
        last_pack = [0.0]

        def pack(force: bool = True) -> None:
            if not force and time.monotonic() - last_pack[0] < 10.0:
                return
            record.update(wall_s=round(budget.elapsed(), 2), stop_reason=budget.stop_reason, stages=stages_done,
                          finished_utc=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
            atomic_write_json(record, work / "provenance.json")
            path, sha256, count = write_archive(work, out)
            write_summary(_summary(record, stages_done, path, sha256, count), out)
            last_pack[0] = time.monotonic()

        executor, threads = None, torch.get_num_threads()
        if plan["main_threads"]:
            torch.set_num_threads(plan["main_threads"])
        with stop_on_signals(budget):
            try:
                if "sweep" in stages:  # the data first: it is generated while the checks and bench run
                    from .sweep_stage import dataset_specs, plan_jobs, start_data_preparation

                    sweep_plan = plan["sweep"]
                    specs, needs = dataset_specs(plan_jobs(sweep_plan), sweep_plan["preset"], sweep_plan["steps"])
                    executor, futures = start_data_preparation(specs, work / "data_cache", sweep_plan["data_processes"])
                    log(f"data: generating {len(specs)} datasets in the background")
                for stage in ("checks", "bench"):
                    if stage in stages:
                        stages_done[stage] = _run_stage(stage, device, plan, plan_name, work, budget, log)
                        pack()
                if "sweep" in stages:
                    stages_done["sweep"] = _run_sweep(plan, work, budget, workers, futures, needs, stop_after_jobs, log,
                                                      lambda: pack(force=False))
            finally:
                if executor is not None:
                    _stop_data_preparation(executor)
                torch.set_num_threads(threads)
                log(f"programme: {'stopped: ' + budget.stop_reason if budget.stopped else 'finished'}; packing")
                pack()
        return json.loads((out / "summary.json").read_text())


def _stop_data_preparation(executor) -> None:
    """Cancel queued datasets and end the processes still generating one (a run stopped before
    its sweep must not wait minutes for data nobody will read)."""
    for future in getattr(executor, "_pending_work_items", {}).values():
        future.future.cancel()
    if hasattr(executor, "terminate_workers"):  # Python >= 3.14
        executor.terminate_workers()
        return
    for process in list((getattr(executor, "_processes", None) or {}).values()):
        if process.is_alive():
            process.terminate()
    executor.shutdown(wait=True, cancel_futures=True)


def _run_stage(stage, device, plan, plan_name, work, budget, log) -> dict:
    path = work / f"{stage}.json"
    previous = _reusable(path, plan_name)
    if previous is not None:
        log(f"{stage}: reusing {path.name} from an earlier run")
        return {"status": "reused", "passed": previous.get("passed", True)}
    started = time.monotonic()
    deadline = budget.stage_deadline(STAGE_SHARES[stage])
    stopped = lambda: budget.stopped  # noqa: E731
    if stage == "checks":
        from .checks import run_checks

        results = run_checks(device, deadline, stopped, log)
        complete, passed = _checks_complete(results), results["passed"]
    else:
        from .bench_stage import run_bench

        results = run_bench(device, plan["bench"], deadline, stopped, log)
        parts = [results["reassembly"]] + results["indexnet"]["variants"]
        complete, passed = _bench_complete(results), not any(part.get("status") == "error" for part in parts)
    seconds = round(time.monotonic() - started, 2)
    atomic_write_json({"plan": plan_name, "complete": complete, "passed": passed, "seconds": seconds, **results}, path)
    log(f"{stage}: {'passed' if passed else 'FAILED'}{'' if complete else ' (incomplete: out of time)'} ({seconds} s)")
    return {"status": "ran", "passed": passed, "complete": complete, "seconds": seconds}


def _run_sweep(plan, work, budget, workers, futures, needs, stop_after_jobs, log, on_progress) -> dict:
    from .sweep_stage import run_sweep_stage, write_summaries

    started = time.monotonic()
    results = run_sweep_stage(plan["sweep"], work, budget, workers, futures, needs, work / "data_cache",
                              stop_after_jobs, log, on_progress)
    data = {key: ({"status": "ok", "seconds": round(future.result(), 2)} if future.done() and not future.exception()
                  else {"status": "error", "error": repr(future.exception())} if future.done()
                  else {"status": "not finished"}) for key, future in futures.items()}
    summaries = write_summaries(plan["sweep"], work)
    seconds = round(time.monotonic() - started, 2)
    atomic_write_json({"workers": workers, "data": data, "summaries": summaries, "seconds": seconds, **results},
                      work / "sweep.json")
    log("sweep: " + ", ".join(f"{n} {status}" for status, n in results["counts"].items() if n) + f" ({seconds} s)")
    return {"status": "ran", "passed": results["counts"]["failed"] == 0, "counts": results["counts"],
            "seconds": seconds}


def _summary(record: dict, stages: dict, archive: Path, sha256: str, count: int) -> dict:
    return {"archive": archive.name, "archive_sha256": sha256, "archive_files": count, "plan": record["plan"],
            "device": record["device"], "gpu": record.get("gpu"), "torch": record["torch"],
            "git_commit": record["git_commit"], "wall_s": record["wall_s"], "budget_s": record["budget_s"],
            "stop_reason": record["stop_reason"], "stages": stages,
            "passed": all(stage.get("passed", True) for stage in stages.values())}
