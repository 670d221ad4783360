"""The CLIs answer mistakes with one line and exit 2 before any work; checkpoints fail
clearly."""
from dataclasses import asdict

import pytest
import torch

from indexnet_edu import checkpoint as ckpt
from indexnet_edu.experiments import config as config_module
from indexnet_edu.experiments import train as train_module
from indexnet_edu.experiments.train import CHECKPOINT_KEYS, train
from indexnet_edu.experiments.config import make_config

pytestmark = pytest.mark.usefixtures("one_thread")
TRAIN_ARGS = ["--task", "reconstruction", "--upsampler", "nearest", "--no-progress"]


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if data generation or a benchmark starts."""
    def refuse(*args, **kwargs):
        raise AssertionError("work started before the mistake was reported")
    monkeypatch.setattr(train_module, "_load_data", refuse)
    import indexnet_edu.bench.__main__ as bench_main
    import indexnet_edu.experiments.sweep as sweep_module
    monkeypatch.setattr(bench_main, "run_suite", refuse)
    monkeypatch.setattr(sweep_module, "_run_subprocess", refuse)
    monkeypatch.setattr(sweep_module, "_run_in_process", refuse)


def usage_error(main, argv, capsys) -> str:
    """Run a CLI's main; it must exit 2 with one 'error:' line (after argparse's usage line)."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    error_lines = [line for line in err.splitlines() if "error:" in line]
    assert len(error_lines) == 1 and "Traceback" not in err
    return error_lines[0]


def fake_checkpoint(path, config):
    state = {key: torch.zeros(1) for key in CHECKPOINT_KEYS}
    state["config"] = asdict(config)
    ckpt.atomic_save(state, path)


def test_train_out_naming_an_existing_file_exits_2_before_training(tmp_path, capsys, no_work):
    (tmp_path / "taken").write_text("x")
    line = usage_error(train_module.main, [*TRAIN_ARGS, "--out", str(tmp_path / "taken")], capsys)
    assert "taken exists and is not a directory" in line


def test_train_out_below_a_file_exits_2_before_training(tmp_path, capsys, no_work):
    (tmp_path / "taken").write_text("x")
    line = usage_error(train_module.main, [*TRAIN_ARGS, "--out", str(tmp_path / "taken" / "run")], capsys)
    assert "cannot write to" in line


def test_an_unwritable_train_out_exits_2_before_training(tmp_path, capsys, no_work, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(ckpt.tempfile, "TemporaryFile", denied)  # root ignores chmod: simulate it
    line = usage_error(train_module.main, [*TRAIN_ARGS, "--out", str(tmp_path / "run")], capsys)
    assert "cannot write to" in line and "Permission denied" in line


def test_a_resume_with_other_settings_exits_2_naming_them_before_data_generation(tmp_path, capsys, no_work):
    fake_checkpoint(tmp_path / "checkpoint.pt", make_config("reconstruction", "nearest", steps=3))
    line = usage_error(train_module.main, [*TRAIN_ARGS, "--steps", "5", "--resume", "--out", str(tmp_path)], capsys)
    assert "different config" in line and "steps: 3 → 5" in line


def test_a_corrupt_checkpoint_exits_2_naming_the_file_and_the_cure(tmp_path, capsys, no_work):
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    line = usage_error(train_module.main, [*TRAIN_ARGS, "--resume", "--out", str(tmp_path)], capsys)
    assert str(tmp_path / "checkpoint.pt") in line and "corrupt or truncated" in line and "delete it" in line


def test_a_truncated_checkpoint_is_a_checkpoint_error_naming_the_file(tmp_path):
    path = tmp_path / "checkpoint.pt"
    ckpt.atomic_save({"weights": torch.randn(1000)}, path)
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(ckpt.CheckpointError, match=r"checkpoint\.pt is corrupt or truncated .*fresh output folder"):
        ckpt.load_checkpoint(path)


def test_a_checkpoint_missing_keys_is_refused_as_incomplete(tmp_path):
    ckpt.atomic_save({"step": 1}, tmp_path / "checkpoint.pt")
    with pytest.raises(ckpt.CheckpointError, match=r"not a complete checkpoint \(missing \['config'"):
        ckpt.load_checkpoint(tmp_path / "checkpoint.pt", CHECKPOINT_KEYS)


def test_a_full_disk_during_torch_save_is_a_clear_os_error_and_leaves_no_temp(tmp_path, monkeypatch):
    def full_disk(obj, handle):
        handle.write(b"partial")
        raise RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 64 vs 0")
    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError, match=r"could not write .*checkpoint\.pt: .*unexpected pos.*is the disk full"):
        ckpt.atomic_save({"step": 1}, tmp_path / "checkpoint.pt")
    assert list(tmp_path.iterdir()) == []


def test_train_cli_reports_a_failed_save_in_one_line_with_exit_1(tmp_path, capsys, monkeypatch):
    def full_disk(obj, handle):
        raise RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 64 vs 0")
    monkeypatch.setattr(torch, "save", full_disk)
    monkeypatch.setattr(config_module, "PRESETS", {**config_module.PRESETS, "quick": dict(
        steps=1, batch_size=4, size=16, n_train=8, n_test=4, lr=1e-3, checkpoint_every=1, widths=(4, 8))})
    assert train_module.main([*TRAIN_ARGS, "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "could not write" in err[0] and "checkpoint.pt" in err[0]
    assert not list(tmp_path.glob(".*.tmp"))


def test_stale_checkpoint_temp_files_are_removed_when_a_run_starts(tmp_path):
    stale = tmp_path / ".checkpoint.pt.k1ll3d.tmp"
    stale.write_bytes(b"half a checkpoint")
    config = make_config("reconstruction", "nearest", steps=1, n_train=8, n_test=4, size=16, batch_size=4,
                         widths=(4, 8))
    train(config, tmp_path, progress=False)
    assert not stale.exists() and (tmp_path / "results.json").exists()


@pytest.mark.parametrize("argv, message", [
    (["--steps", "0"], "--steps must be >= 1, got 0"),
    (["--jobs", "0"], "--jobs must be >= 1, got 0"),
    (["--seeds", "-1"], "--seeds must be in [0, 4294967295]"),
])
def test_sweep_refuses_non_positive_counts_before_any_job(tmp_path, capsys, no_work, argv, message):
    from indexnet_edu.experiments.sweep import main

    line = usage_error(main, ["--tasks", "reconstruction", "--upsamplers", "nearest", "--out", str(tmp_path),
                              *argv], capsys)
    assert message in line


def test_sweep_out_naming_an_existing_file_exits_2(tmp_path, capsys, no_work):
    from indexnet_edu.experiments.sweep import main

    (tmp_path / "taken").write_text("x")
    line = usage_error(main, ["--tasks", "reconstruction", "--upsamplers", "nearest", "--out",
                              str(tmp_path / "taken")], capsys)
    assert "not a directory" in line


def test_sweep_report_only_without_a_results_folder_exits_2(tmp_path, capsys):
    from indexnet_edu.experiments.sweep import main

    line = usage_error(main, ["--report-only", "--out", str(tmp_path / "missing")], capsys)
    assert "is not a results folder" in line


def test_bench_out_naming_an_existing_file_exits_2_before_timing(tmp_path, capsys, no_work):
    from indexnet_edu.bench.__main__ import main

    (tmp_path / "taken").write_text("x")
    line = usage_error(main, ["--quick", "--out", str(tmp_path / "taken")], capsys)
    assert "not a directory" in line


@pytest.mark.parametrize("name", ["train", "sweep"])
def test_the_old_command_names_print_the_new_one_and_do_nothing(name, tmp_path):
    import os
    import subprocess
    import sys

    from conftest import REPO

    done = subprocess.run([sys.executable, "-m", f"indexnet_edu.{name}", "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert f"python -m indexnet_edu.experiments.{name}" in done.stderr and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ImportError, match=f"moved to indexnet_edu.experiments.{name}"):
        __import__(f"indexnet_edu.{name}")
