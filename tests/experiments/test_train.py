"""Training CLI: exact resume, atomic checkpoints, clear errors, torchrun."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from indexnet_edu import checkpoint as ckpt
from indexnet_edu.experiments.tasks import build_model, charbonnier, matting_loss
from indexnet_edu.experiments.config import make_config, preset_values
from indexnet_edu.experiments.tasks import task_spec
from indexnet_edu.experiments.train import StepBatchSampler, train

pytestmark = pytest.mark.usefixtures("one_thread")


ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args, timeout=300):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")  # CPU: exact
    return subprocess.run([sys.executable, "-m", "indexnet_edu.experiments.train", *args, "--no-progress"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def tiny(task="matting", upsampler="hin", **kw):
    values = dict(steps=6, n_train=32, n_test=4, size=16, widths=(8, 16), batch_size=8, checkpoint_every=2)
    values.update(kw)
    return make_config(task, upsampler, "quick", 0, **values)


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory):
    """An uninterrupted quick matting run and one interrupted after 3 steps, then resumed."""
    base = tmp_path_factory.mktemp("runs")
    common = ["--task", "matting", "--upsampler", "din_o2o", "--preset", "quick", "--seed", "1", "--steps", "7"]
    whole = run_cli(*common, "--out", str(base / "whole"))
    interrupted = run_cli(*common, "--out", str(base / "split"), "--interrupt-after", "3")
    state_after_interrupt = ckpt.load_checkpoint(base / "split" / "checkpoint.pt")
    results_after_interrupt = (base / "split" / "results.json").exists()
    resumed = run_cli(*common, "--out", str(base / "split"), "--resume")
    return dict(base=base, whole=whole, interrupted=interrupted, resumed=resumed,
                state_after_interrupt=state_after_interrupt, results_after_interrupt=results_after_interrupt)


def test_interrupted_run_exits_nonzero_with_checkpoint_and_no_results(cli_runs):
    assert cli_runs["interrupted"].returncode == 130, cli_runs["interrupted"].stderr
    assert cli_runs["state_after_interrupt"]["step"] == 3
    assert not cli_runs["results_after_interrupt"]


def test_resumed_matting_run_ends_with_identical_metrics(cli_runs):
    assert cli_runs["whole"].returncode == 0, cli_runs["whole"].stderr
    assert cli_runs["resumed"].returncode == 0, cli_runs["resumed"].stderr
    whole = json.loads((cli_runs["base"] / "whole" / "results.json").read_text())
    split = json.loads((cli_runs["base"] / "split" / "results.json").read_text())
    assert whole["metrics"] == split["metrics"]
    assert set(whole["metrics"]) == {"sad", "mse", "grad", "conn", "test_loss"}


def test_resumed_run_ends_with_identical_weights(cli_runs):
    whole = ckpt.load_checkpoint(cli_runs["base"] / "whole" / "checkpoint.pt")
    split = ckpt.load_checkpoint(cli_runs["base"] / "split" / "checkpoint.pt")
    assert whole["step"] == split["step"] == 7
    for name, tensor in whole["model"].items():
        assert torch.equal(tensor, split["model"][name]), name


def test_results_file_records_the_run(cli_runs):
    results = json.loads((cli_runs["base"] / "whole" / "results.json").read_text())
    for key in ("task", "upsampler", "preset", "seed", "device", "git_commit", "config", "wall_time_s", "metrics"):
        assert key in results
    assert (results["task"], results["upsampler"], results["preset"], results["seed"]) == ("matting", "din_o2o", "quick", 1)
    assert results["config"]["steps"] == 7


def test_no_temporary_files_left_in_run_directory(cli_runs):
    assert sorted(p.name for p in (cli_runs["base"] / "split").iterdir()) == ["checkpoint.pt", "results.json"]


def test_checkpoint_save_failure_keeps_previous_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    ckpt.atomic_save({"step": 1}, path)

    def broken_save(obj, f):
        f.write(b"partial bytes")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        ckpt.atomic_save({"step": 2}, path)
    monkeypatch.undo()
    assert ckpt.load_checkpoint(path) == {"step": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


def test_rng_states_round_trip_through_a_weights_only_checkpoint(tmp_path):
    import random

    import numpy as np

    torch.manual_seed(3), np.random.seed(4), random.seed(5)
    ckpt.atomic_save({"rng": ckpt.capture_rng_state()}, tmp_path / "c.pt")
    first = (torch.rand(3), np.random.rand(3), random.random())
    ckpt.restore_rng_state(ckpt.load_checkpoint(tmp_path / "c.pt")["rng"])
    second = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(first[0], second[0]) and np.array_equal(first[1], second[1]) and first[2] == second[2]


def test_batch_order_depends_only_on_seed_and_step():
    whole = list(StepBatchSampler(20, 4, seed=2, total_steps=12))
    resumed = list(StepBatchSampler(20, 4, seed=2, total_steps=12, start_step=7))
    assert resumed == whole[7:]
    assert sorted(sum(whole[:5], [])) == list(range(20))  # one epoch covers every sample once


def test_ranks_split_the_global_batch():
    ranks = [StepBatchSampler(20, 4, 0, 3, rank=r, world_size=2).batch_indices(1) for r in (0, 1)]
    assert sorted(ranks[0] + ranks[1]) == sorted(StepBatchSampler(20, 4, 0, 3).batch_indices(1))


def test_in_process_training_is_reproducible_and_beats_nothing_wrong(tmp_path):
    first = train(tiny("reconstruction", "max_unpool"), tmp_path / "a", progress=False)
    second = train(tiny("reconstruction", "max_unpool"), tmp_path / "b", progress=False)
    assert first["metrics"] == second["metrics"]
    assert torch.isfinite(torch.tensor(first["metrics"]["psnr"]))


def test_segmentation_run_reports_miou_and_boundary_iou(tmp_path):
    results = train(tiny("segmentation", "carafe", steps=2), tmp_path, progress=False)
    assert set(results["metrics"]) == {"miou", "boundary_iou", "pixel_accuracy", "test_loss"}
    assert 0 <= results["metrics"]["miou"] <= 1
    assert set(results["baseline"]) == {"miou", "boundary_iou", "pixel_accuracy"}


def test_texture_regions_run_scores_four_classes_with_its_test_loss(tmp_path):
    results = train(tiny("texture_regions", "bilinear", steps=2), tmp_path, progress=False)
    assert set(results["metrics"]) == {"miou", "boundary_iou", "pixel_accuracy", "test_loss"}
    # an untrained 4-class model's cross-entropy is near ln 4
    assert 0.5 * math.log(4) < results["metrics"]["test_loss"] < 2 * math.log(4)
    assert results["machine"]["torch_threads"] >= 1 and "cpu_model" in results["machine"]


def test_laptop_preset_sets_steps_per_task():
    assert make_config("texture_regions", "hin", "laptop").steps == task_spec("texture_regions").laptop_steps == 200
    assert make_config("matting_noskip", "hin", "laptop").steps == preset_values("laptop")["steps"]
    assert make_config("texture_regions", "hin", "laptop", steps=7).steps == 7


def test_existing_checkpoint_without_resume_is_refused(tmp_path):
    train(tiny("reconstruction", "nearest", steps=2), tmp_path, progress=False)
    with pytest.raises(FileExistsError, match="--resume"):
        train(tiny("reconstruction", "nearest", steps=2), tmp_path, progress=False)


def test_resume_with_a_different_config_is_refused(tmp_path):
    train(tiny("reconstruction", "nearest", steps=2), tmp_path, progress=False)
    with pytest.raises(ValueError, match="steps"):
        train(tiny("reconstruction", "nearest", steps=3), tmp_path, resume=True, progress=False)


@pytest.mark.parametrize("args, message", [
    (["--task", "matting", "--upsampler", "bicubic"], "unknown --upsampler 'bicubic'"),
    (["--task", "depth", "--upsampler", "hin"], "invalid choice: 'depth'"),
    (["--task", "matting", "--upsampler", "hin", "--steps", "0"], "--steps must be >= 1"),
    (["--task", "matting", "--upsampler", "hin", "--preset", "huge"], "invalid choice: 'huge'"),
    (["--task", "segmentation", "--upsampler", "hin", "--model", "indexnet"], "matting model"),
    (["--task", "matting", "--upsampler", "carafe", "--model", "indexnet"], "--model indexnet takes an index network"),
])
def test_bad_cli_arguments_give_clear_errors(tmp_path, capsys, args, message):
    from indexnet_edu.experiments.train import main

    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--out", str(tmp_path), "--no-progress"])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("upsampler, index, nonlinear, context", [
    ("max_unpool", "maxpool", False, False), ("hin_ctx", "holistic", False, True),
    ("din_m2o_nl_ctx", "m2o", True, True), ("din_o2o_nl", "o2o", True, False),
])
def test_the_indexnet_model_takes_its_index_network_from_the_registry_options(upsampler, index, nonlinear, context):
    from indexnet_edu.upsamplers.registry import upsampler_spec

    assert dict(upsampler_spec(upsampler).options) == {"index": index, "nonlinear": nonlinear, "context": context}
    model = build_model("matting", upsampler, "indexnet")
    assert (model.index, model.nonlinear, model.context) == (index, nonlinear, context)


def test_the_indexnet_model_refuses_a_shared_or_non_index_upsampler_naming_the_ones_it_takes():
    for upsampler in ("din_o2o_modelwise", "carafe"):
        with pytest.raises(ValueError, match=r"takes an index network \(max_unpool, hin, .*din_m2o_nl_ctx\)"):
            build_model("matting", upsampler, "indexnet")


def test_matting_loss_is_charbonnier_floor_for_a_perfect_prediction():
    alpha = torch.rand(2, 1, 8, 8)
    fg, bg = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    batch = {"alpha": alpha, "fg": fg, "bg": bg, "image": alpha * fg + (1 - alpha) * bg,
             "trimap": torch.full_like(alpha, 0.5)}
    assert matting_loss(alpha, batch).item() == pytest.approx(1e-3, rel=1e-3)  # sqrt(eps) with eps=1e-6


def test_charbonnier_ignores_pixels_outside_the_weight():
    diff = torch.tensor([[[[3.0, 100.0]]]])
    weight = torch.tensor([[[[1.0, 0.0]]]])
    assert charbonnier(diff, weight).item() == pytest.approx(3.0, abs=1e-6)


def test_torchrun_two_processes_on_cpu_write_results_once(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")  # CPU: exact
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "indexnet_edu.experiments.train", "--task", "reconstruction", "--upsampler", "hin",
                           "--steps", "3", "--out", str(tmp_path), "--no-progress"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt", "results.json"]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["world_size"] == 2 and results["steps"] == 3
    assert 0 < results["metrics"]["psnr"] < 100
    assert done.stdout.count("reconstruction/hin/seed0:") == 1


def test_ctrl_c_writes_a_checkpoint_and_exits_130(tmp_path):
    import signal
    import time

    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")  # CPU: exact
    process = subprocess.Popen([sys.executable, "-m", "indexnet_edu.experiments.train", "--task", "reconstruction",
                                "--upsampler", "nearest", "--steps", "100000", "--out", str(tmp_path), "--no-progress"],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (tmp_path / "checkpoint.pt").exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)  # the first periodic checkpoint proves training is under way
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    state = ckpt.load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["step"] >= 50 and "interrupted after step" in stderr
    assert not (tmp_path / "results.json").exists()


def test_indexnet_model_option_trains_the_full_matting_model(tmp_path):
    config = make_config("matting", "max_unpool", model="indexnet", steps=1, n_train=8, n_test=2, size=32,
                         batch_size=4)
    results = train(config, tmp_path, progress=False)
    assert results["parameters"] == 3_753_259
    assert set(results["metrics"]) == {"sad", "mse", "grad", "conn", "test_loss"}


@pytest.mark.parametrize("field", ["checkpoint_every", "batch_size", "n_test"])
def test_make_config_refuses_a_non_positive_count(field):
    with pytest.raises(ValueError, match=rf"{field} must be an int >= 1, got 0"):
        make_config("matting", "hin", "quick", 0, **{field: 0})
