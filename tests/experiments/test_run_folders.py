"""Run folders are used by one process at a time, the CLIs refuse what they cannot honour (a seed
NumPy cannot take, an empty --out), and Ctrl-C stops a sweep with one line and a working resume."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import REPO
from indexnet_edu.checkpoint import LOCKED_EXIT_CODE, RunLockedError, exclusive_run_lock
from indexnet_edu.experiments.sweep import run_sweep
from indexnet_edu.experiments.results import job_dir, result_path
from indexnet_edu.experiments.train import train
from indexnet_edu.experiments.config import make_config

TINY = dict(n_train=8, n_test=4, size=16, batch_size=4, widths=(4, 8))


def cli(module: str, *argv: str, cwd=None, **popen) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "INDEXNET_EDU_PROGRESS": "0"}
    return subprocess.Popen([sys.executable, "-m", f"indexnet_edu.{module}", *argv], cwd=cwd or REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def finished(process: subprocess.Popen, timeout: float = 300) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


# --- one process per run folder -------------------------------------------------------------------

def test_a_second_training_into_a_busy_folder_is_refused_and_touches_nothing(tmp_path):
    config = make_config("reconstruction", "nearest", steps=1, **TINY)
    with exclusive_run_lock(tmp_path, "train"):  # another run holds the folder
        with pytest.raises(RunLockedError, match=f"{tmp_path} is in use by another train run"):
            train(config, tmp_path, progress=False)
        code, _, err = finished(cli("experiments.train", "--task", "reconstruction", "--upsampler", "nearest", "--steps", "1",
                                    "--out", str(tmp_path), "--no-progress"))
    assert code == LOCKED_EXIT_CODE
    assert err.strip().count("\n") == 0 and "in use by another train run" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []
    train(config, tmp_path, progress=False)  # released: the folder is usable again
    assert (tmp_path / "results.json").exists()


def test_a_second_sweep_into_a_busy_folder_is_refused(tmp_path):
    with exclusive_run_lock(tmp_path, "sweep"):
        with pytest.raises(RunLockedError, match="in use by another sweep run"):
            run_sweep(["reconstruction"], ["nearest"], [0], "quick", tmp_path, steps=1, in_process=True,
                      progress=False)
        code, _, err = finished(cli("experiments.sweep", "--tasks", "reconstruction", "--upsamplers", "nearest", "--seeds", "0",
                                    "--steps", "1", "--out", str(tmp_path)))
    assert code == LOCKED_EXIT_CODE and "in use by another sweep run" in err and "Traceback" not in err
    assert not result_path(tmp_path, "reconstruction", "nearest", 0).exists()


# --- arguments the tools could not honour -----------------------------------------------------------

@pytest.mark.parametrize("seed", [2**32, 10**20])
def test_a_seed_numpy_cannot_take_is_refused_at_every_boundary(tmp_path, seed):
    message = "must be an int in \\[0, 4294967295\\]"
    with pytest.raises(ValueError, match=f"seed {message}"):
        make_config("reconstruction", "nearest", seed=seed)
    with pytest.raises(ValueError, match=f"data_seed {message}"):
        make_config("reconstruction", "nearest", data_seed=seed)
    with pytest.raises(ValueError, match="seeds must be ints in \\[0, 4294967295\\]"):
        run_sweep(["reconstruction"], ["nearest"], [seed], "quick", tmp_path, in_process=True)
    code, _, err = finished(cli("experiments.train", "--task", "reconstruction", "--upsampler", "nearest", "--seed", str(seed),
                                "--out", str(tmp_path / "run")))
    assert code == 2 and message.replace("\\", "") in err and "Traceback" not in err
    code, _, err = finished(cli("experiments.sweep", "--tasks", "reconstruction", "--upsamplers", "nearest", "--seeds", str(seed),
                                "--out", str(tmp_path / "sweep")))
    assert code == 2 and "--seeds must be in [0, 4294967295]" in err
    assert not (tmp_path / "run").exists() and not (tmp_path / "sweep").exists()
    assert make_config("reconstruction", "nearest", seed=2**32 - 1).seed == 2**32 - 1  # the top of the range


@pytest.mark.parametrize("module, argv", [
    ("experiments.train", ["--task", "reconstruction", "--upsampler", "nearest"]),
    ("experiments.sweep", ["--tasks", "reconstruction", "--upsamplers", "nearest"]),
    ("bench", ["--quick"]),
])
@pytest.mark.parametrize("out", ["", "  "])
def test_an_empty_out_is_refused_instead_of_writing_into_the_current_folder(tmp_path, module, argv, out):
    code, _, err = finished(cli(module, *argv, "--out", out, cwd=tmp_path))
    assert code == 2 and "--out" in err and "must name a folder" in err
    assert list(tmp_path.iterdir()) == []


# --- Ctrl-C during a sweep ------------------------------------------------------------------------------

def processes_mentioning(path) -> list[int]:
    """Ids of live processes whose command line names ``path`` (Linux /proc; [] elsewhere)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if str(path).encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue  # gone meanwhile
    return found


@pytest.mark.slow
def test_ctrl_c_stops_a_sweep_with_one_line_and_the_same_command_resumes_it(tmp_path):
    argv = ["--tasks", "reconstruction", "--upsamplers", "nearest", "--seeds", "0", "1",
            "--steps", "150", "--jobs", "1", "--out", str(tmp_path)]
    sweep = cli("experiments.sweep", *argv)
    first = result_path(tmp_path, "reconstruction", "nearest", 0)
    second = job_dir(tmp_path, "reconstruction", "nearest", 1) / "checkpoint.pt"
    deadline = time.monotonic() + 240
    while not second.exists() and time.monotonic() < deadline and sweep.poll() is None:
        time.sleep(0.05)
    assert first.exists() and second.exists(), "the second job never reached its first checkpoint (step 50)"
    sweep.send_signal(signal.SIGINT)  # what Ctrl-C sends to the sweep (its jobs run in their own sessions)
    code, _, err = finished(sweep, timeout=180)
    assert code == 130, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "sweep interrupted" in lines[0] and "resume" in lines[0], err
    assert processes_mentioning(tmp_path) == []  # no job outlives the sweep
    done = {path for path in tmp_path.rglob("seed*.json")}
    assert done == {first}
    interrupted_at = torch.load(second, weights_only=True)["step"]
    assert 50 <= interrupted_at < 150  # the interrupted job checkpointed part-way
    stamp = first.stat().st_mtime_ns
    code, out, err = finished(cli("experiments.sweep", *argv), timeout=600)
    assert code == 0, err
    assert len(list(tmp_path.rglob("seed*.json"))) == 2
    assert first.stat().st_mtime_ns == stamp  # the finished job was skipped, not rerun
    assert torch.load(second, weights_only=True)["step"] == 150  # the interrupted one was finished


# --- the lock names its holder; every tool that writes a results folder takes it ------------------------

HOLD_LOCK = ("import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDONLY); "
             "fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(120)")


@pytest.fixture
def held_by_another_process(tmp_path):
    """``tmp_path`` flock-ed by a separate process (as a running train or sweep holds it)."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    yield holder
    holder.kill()
    holder.wait()


@pytest.mark.skipif(not os.path.exists("/proc/locks"), reason="the holder's id is read from Linux's /proc/locks")
def test_a_refused_run_names_the_process_that_holds_the_folder(tmp_path, held_by_another_process):
    config = make_config("reconstruction", "nearest", steps=1, **TINY)
    holder = f"\\(process {held_by_another_process.pid}\\)"
    with pytest.raises(RunLockedError, match=f"in use by another train run {holder}"):
        train(config, tmp_path, progress=False)
    with pytest.raises(RunLockedError, match=holder):
        run_sweep(["reconstruction"], ["nearest"], [0], "quick", tmp_path, steps=1, in_process=True, progress=False)


def test_a_benchmark_into_a_busy_folder_exits_75_before_timing(tmp_path, capsys, monkeypatch):
    import indexnet_edu.bench.__main__ as bench_main

    monkeypatch.setattr(bench_main, "run_suite", lambda *a, **k: pytest.fail("timed while another run held --out"))
    with exclusive_run_lock(tmp_path, "bench"):
        assert bench_main.main(["--quick", "--out", str(tmp_path)]) == LOCKED_EXIT_CODE
    err = capsys.readouterr().err
    assert "in use by another bench run" in err and err.strip().count("\n") == 0


@pytest.mark.parametrize("busy", ["out", "work"])
def test_a_gpu_programme_into_a_busy_folder_is_refused_before_any_work(tmp_path, busy):
    from indexnet_edu.gpu_programme.programme import run_programme

    folders = {"out": tmp_path / "out", "work": tmp_path / "work"}
    with exclusive_run_lock(folders[busy], "gpu_programme"):
        with pytest.raises(RunLockedError, match=f"{folders[busy]} is in use by another gpu_programme run"):
            run_programme(folders["out"], 60, dry_run=True, work=folders["work"], echo=None)
    assert list(folders["out"].iterdir()) == [] and list(folders["work"].iterdir()) == []


def test_a_report_is_not_rendered_into_a_folder_a_sweep_is_writing(tmp_path, capsys):
    from indexnet_edu.experiments.sweep import main

    with exclusive_run_lock(tmp_path, "sweep"):
        assert main(["--report-only", "--out", str(tmp_path)]) == LOCKED_EXIT_CODE
    assert "in use by another sweep run" in capsys.readouterr().err and list(tmp_path.iterdir()) == []


def test_report_plots_are_written_atomically_and_stale_halves_removed(tmp_path):
    from indexnet_edu.checkpoint import atomic_write_json
    from indexnet_edu.experiments.results import load_results, render_report

    atomic_write_json({"task": "reconstruction", "upsampler": "nearest", "seed": 0, "preset": "quick",
                       "metrics": {"psnr": 20.0}}, result_path(tmp_path, "reconstruction", "nearest", 0))
    stale = tmp_path / ".reconstruction_psnr.png.k1ll3d.tmp"
    stale.write_bytes(b"half a png")
    paths = render_report(load_results(tmp_path), tmp_path)
    assert [p.name for p in paths] == ["summary.md", "reconstruction_psnr.png"]
    assert paths[1].read_bytes().startswith(b"\x89PNG") and not list(tmp_path.glob(".*.tmp"))


# --- more arguments the tools could not honour -------------------------------------------------------------

@pytest.mark.parametrize("field, value", [("seed", 2**32), ("data_seed", -1), ("steps", 0), ("batch_size", 2.5)])
def test_a_train_config_built_directly_is_checked_like_make_config(field, value):
    import dataclasses

    from indexnet_edu.experiments.config import TrainConfig

    with pytest.raises(ValueError, match=field):
        TrainConfig("reconstruction", "nearest", **{field: value})
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(make_config("reconstruction", "nearest"), **{field: value})


def test_train_refuses_what_is_not_a_config_and_a_non_positive_interrupt_step(tmp_path):
    with pytest.raises(TypeError, match="config must be a TrainConfig"):
        train({"task": "reconstruction"}, tmp_path)
    with pytest.raises(ValueError, match="interrupt_after must be None or an int >= 1, got 0"):
        train(make_config("reconstruction", "nearest", **TINY), tmp_path, interrupt_after=0)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("call", [
    lambda: __import__("indexnet_edu.widgets.pooling", fromlist=["x"]).random_index(torch.zeros(1, 1, 4, 4), 2, 2**64),
    lambda: __import__("indexnet_edu.widgets.upsampling", fromlist=["x"]).default_carafe(1, 2, seed=2**64),
    lambda: __import__("indexnet_edu.bench.cost", fromlist=["x"]).cost_table(8, 8, names=["nearest"],
                                                                                      seed=2**32),
    lambda: __import__("indexnet_edu.lessons.toy", fromlist=["x"]).train_index_block(steps=1, seed=2**32),
    lambda: __import__("indexnet_edu.data", fromlist=["x"]).make_dataset("reconstruction", n=2, size=16, seed=2**32),
])
def test_seeds_beyond_numpys_range_are_refused_by_every_public_function_that_seeds(call):
    with pytest.raises(ValueError, match=r"seed must be an int in \[0, 4294967295\]"):
        call()


def test_a_sweep_runs_a_job_named_twice_once(tmp_path, monkeypatch):
    import indexnet_edu.experiments.sweep as sweep_module

    ran = []
    monkeypatch.setattr(sweep_module, "_run_in_process", lambda task, upsampler, seed, *rest: ran.append(seed))
    run_sweep(["reconstruction", "reconstruction"], ["nearest", "nearest"], [0, 1, 0, "1"], "quick", tmp_path,
              steps=1, in_process=True, progress=False)
    assert ran == [0, 1]


def test_a_job_stopped_by_a_signal_from_outside_the_sweep_is_a_failure_not_a_gap(tmp_path, monkeypatch):
    import indexnet_edu.experiments.sweep as sweep_module

    monkeypatch.setattr(sweep_module._Jobs, "run", lambda self, command, env: (130, "interrupted after step 7"))
    with pytest.raises(RuntimeError, match="stopped by a signal from outside the sweep"):
        run_sweep(["reconstruction"], ["nearest"], [0], "quick", tmp_path, steps=1, progress=False)


@pytest.mark.parametrize("argv, message", [
    (["--quick", "--threads", str(10**6)], "--threads must be >= 1 and at most the"),
    (["--quick", "--threads", str(2**40)], "--threads must be >= 1 and at most the"),
])
def test_bench_refuses_more_threads_than_cores_before_timing(tmp_path, capsys, argv, message):
    from indexnet_edu.bench.__main__ import main

    with pytest.raises(SystemExit) as stop:
        main([*argv, "--out", str(tmp_path)])
    assert stop.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--out", ""], ["--out", "x", "--work", " "]])
def test_gpu_programme_refuses_a_blank_folder(tmp_path, capsys, argv):
    from indexnet_edu.gpu_programme.__main__ import main

    with pytest.raises(SystemExit) as stop:
        main(["--budget-s", "10", "--dry-run", *argv])
    assert stop.value.code == 2 and "must name a folder" in capsys.readouterr().err


def test_the_book_refuses_a_blank_out_instead_of_staging_into_the_current_folder(tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "tools" / "book.py"), "--out", " "], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "must name a folder" in done.stderr and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv", [["--steps", "0"], ["--warmup", "-1"], ["--repeats", "0"]])
def test_the_throughput_benchmark_refuses_counts_it_cannot_use(capsys, argv):
    import importlib.util

    spec = importlib.util.spec_from_file_location("laptop_throughput", REPO / "benchmarks" / "laptop_throughput.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(SystemExit) as stop:
        module.main(argv)
    assert stop.value.code == 2 and f"{argv[0]} must be >=" in capsys.readouterr().err


SIGINT_IGNORER = ("import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); print('ready', flush=True); "
                  "time.sleep(120)")


def ignoring_job(jobs) -> subprocess.Popen:
    """A stand-in job that ignores SIGINT (stuck in a long step), registered as running."""
    from indexnet_edu.experiments.sweep import _Jobs

    assert isinstance(jobs, _Jobs)
    process = subprocess.Popen([sys.executable, "-c", SIGINT_IGNORER], stdout=subprocess.PIPE, text=True,
                               start_new_session=True)
    assert process.stdout.readline().strip() == "ready"
    jobs.running.add(process)
    return process


def test_a_job_that_does_not_stop_after_ctrl_c_is_killed_after_the_grace_period():
    from indexnet_edu.experiments.sweep import _Jobs

    jobs = _Jobs()
    process = ignoring_job(jobs)
    started = time.monotonic()
    jobs.interrupt(grace_s=1.0)
    assert process.returncode == -signal.SIGKILL and time.monotonic() - started < 30


def test_a_second_ctrl_c_kills_the_jobs_instead_of_waiting_for_their_checkpoints():
    import threading

    from indexnet_edu.experiments.sweep import _Jobs

    jobs = _Jobs()
    process = ignoring_job(jobs)
    threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT)).start()  # the impatient second Ctrl-C
    started = time.monotonic()
    jobs.interrupt(grace_s=100.0)  # no KeyboardInterrupt escapes: the second signal is the kill order
    assert process.returncode == -signal.SIGKILL and time.monotonic() - started < 30


@pytest.mark.slow
def test_sigterm_stops_a_sweep_like_ctrl_c_and_its_jobs_with_it(tmp_path):
    argv = ["--tasks", "reconstruction", "--upsamplers", "nearest", "--seeds", "0", "--steps", "150",
            "--jobs", "1", "--out", str(tmp_path)]
    sweep = cli("experiments.sweep", *argv)
    checkpoint = job_dir(tmp_path, "reconstruction", "nearest", 0) / "checkpoint.pt"
    deadline = time.monotonic() + 240
    while not checkpoint.exists() and time.monotonic() < deadline and sweep.poll() is None:
        time.sleep(0.05)
    assert checkpoint.exists(), "the job never reached its first checkpoint (step 50)"
    sweep.send_signal(signal.SIGTERM)  # what `kill` or a batch system sends
    code, _, err = finished(sweep, timeout=180)
    assert code == 128 + signal.SIGTERM, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "sweep interrupted by SIGTERM: 0 of 1 jobs finished" in lines[0], err
    assert processes_mentioning(tmp_path) == []  # the job did not go on training in its own session
    assert 50 <= torch.load(checkpoint, weights_only=True)["step"] < 150
    assert not list(tmp_path.rglob("seed*.json")) and not list(tmp_path.rglob(".*.tmp"))


@pytest.mark.slow
def test_sigterm_makes_a_training_run_checkpoint_and_exit_143(tmp_path):
    run = cli("experiments.train", "--task", "reconstruction", "--upsampler", "nearest", "--steps", "100000",
              "--out", str(tmp_path), "--no-progress")
    deadline = time.monotonic() + 120
    while not (tmp_path / "checkpoint.pt").exists() and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.1)
    run.send_signal(signal.SIGTERM)
    code, _, err = finished(run, timeout=120)
    assert code == 128 + signal.SIGTERM, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "interrupted by SIGTERM after step" in lines[0] and "--resume" in lines[0], err
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["step"] >= 50
    assert not (tmp_path / "results.json").exists()
