"""Run folders are used by one process at a time, the CLIs refuse what they cannot honour (a seed
NumPy cannot take, an empty --out), and Ctrl-C stops a sweep with one line and a working resume."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import REPO
from indexnet_edu.checkpoint import LOCKED_EXIT_CODE, RunLockedError, exclusive_run_lock
from indexnet_edu.sweep import job_dir, result_path, run_sweep
from indexnet_edu.train import make_config, train

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
        code, _, err = finished(cli("train", "--task", "reconstruction", "--upsampler", "nearest", "--steps", "1",
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
        code, _, err = finished(cli("sweep", "--tasks", "reconstruction", "--upsamplers", "nearest", "--seeds", "0",
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
    code, _, err = finished(cli("train", "--task", "reconstruction", "--upsampler", "nearest", "--seed", str(seed),
                                "--out", str(tmp_path / "run")))
    assert code == 2 and message.replace("\\", "") in err and "Traceback" not in err
    code, _, err = finished(cli("sweep", "--tasks", "reconstruction", "--upsamplers", "nearest", "--seeds", str(seed),
                                "--out", str(tmp_path / "sweep")))
    assert code == 2 and "--seeds must be in [0, 4294967295]" in err
    assert not (tmp_path / "run").exists() and not (tmp_path / "sweep").exists()
    assert make_config("reconstruction", "nearest", seed=2**32 - 1).seed == 2**32 - 1  # the top of the range


@pytest.mark.parametrize("module, argv", [
    ("train", ["--task", "reconstruction", "--upsampler", "nearest"]),
    ("sweep", ["--tasks", "reconstruction", "--upsamplers", "nearest"]),
    ("bench", ["--quick"]),
])
@pytest.mark.parametrize("out", ["", "  "])
def test_an_empty_out_is_refused_instead_of_writing_into_the_current_folder(tmp_path, module, argv, out):
    code, _, err = finished(cli(module, *argv, "--out", out, cwd=tmp_path))
    assert code == 2 and "--out" in err and "must name a folder" in err
    assert list(tmp_path.iterdir()) == []


# --- Ctrl-C during a sweep ------------------------------------------------------------------------------

@pytest.mark.slow
def test_ctrl_c_stops_a_sweep_with_one_line_and_the_same_command_resumes_it(tmp_path):
    argv = ["--tasks", "reconstruction", "--upsamplers", "nearest", "--seeds", "0", "1",
            "--steps", "150", "--jobs", "1", "--out", str(tmp_path)]
    sweep = cli("sweep", *argv)
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
    done = {path for path in tmp_path.rglob("seed*.json")}
    assert done == {first}
    interrupted_at = torch.load(second, weights_only=True)["step"]
    assert 50 <= interrupted_at < 150  # the interrupted job checkpointed part-way
    stamp = first.stat().st_mtime_ns
    code, out, err = finished(cli("sweep", *argv), timeout=600)
    assert code == 0, err
    assert len(list(tmp_path.rglob("seed*.json"))) == 2
    assert first.stat().st_mtime_ns == stamp  # the finished job was skipped, not rerun
    assert torch.load(second, weights_only=True)["step"] == 150  # the interrupted one was finished
