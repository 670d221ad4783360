"""Sweep runner, results table and report."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from indexnet_edu.checkpoint import atomic_write_json
from indexnet_edu.experiments.sweep import run_sweep
from indexnet_edu.experiments.results import load_results, render_report, result_path

pytestmark = pytest.mark.usefixtures("one_thread")


ROOT = Path(__file__).resolve().parents[2]


def fake_result(out, task, upsampler, seed, **metrics):
    atomic_write_json({"task": task, "upsampler": upsampler, "seed": seed, "preset": "quick", "metrics": metrics},
                      result_path(out, task, upsampler, seed))


def test_sweep_writes_one_result_per_job_and_skips_existing(tmp_path):
    run_sweep(["reconstruction"], ["nearest", "max_unpool"], [0], "quick", tmp_path, steps=2, in_process=True,
              progress=False)
    first = result_path(tmp_path, "reconstruction", "nearest", 0)
    assert first.exists() and result_path(tmp_path, "reconstruction", "max_unpool", 0).exists()
    stamp = first.stat().st_mtime_ns
    table = run_sweep(["reconstruction"], ["nearest", "max_unpool"], [0], "quick", tmp_path, steps=2,
                      in_process=True, progress=False)
    assert first.stat().st_mtime_ns == stamp
    assert set(table.upsamplers("reconstruction")) == {"nearest", "max_unpool"}


def test_sweep_runs_jobs_as_parallel_subprocesses(tmp_path):
    env_before = dict(os.environ)
    table = run_sweep(["reconstruction"], ["bilinear"], [0, 1], "quick", tmp_path, jobs=2, steps=2, progress=False)
    assert os.environ == env_before
    assert table.seeds[("reconstruction", "bilinear")] == [0, 1]


def test_table_gives_mean_and_sample_std_over_seeds(tmp_path):
    fake_result(tmp_path, "matting", "hin", 0, sad=1.0)
    fake_result(tmp_path, "matting", "hin", 1, sad=3.0)
    mean, std = load_results(tmp_path).mean_std("matting", "hin", "sad")
    assert mean == 2.0 and std == pytest.approx(2 ** 0.5)  # sqrt(((1-2)² + (3-2)²) / (2 - 1))


def test_ranking_respects_metric_direction(tmp_path):
    fake_result(tmp_path, "matting", "a", 0, sad=2.0)
    fake_result(tmp_path, "matting", "b", 0, sad=1.0)
    fake_result(tmp_path, "reconstruction", "a", 0, psnr=20.0)
    fake_result(tmp_path, "reconstruction", "b", 0, psnr=10.0)
    table = load_results(tmp_path)
    assert table.ranking("matting") == ["b", "a"]
    assert table.ranking("reconstruction") == ["a", "b"]


def test_markdown_table_lists_every_upsampler_with_mean_and_std(tmp_path):
    fake_result(tmp_path, "reconstruction", "hin", 0, psnr=20.0)
    fake_result(tmp_path, "reconstruction", "hin", 1, psnr=22.0)
    text = load_results(tmp_path).markdown("reconstruction")
    assert "| hin | 2 | ? | 21 ± 1.4 |" in text  # no baseline recorded: the learned-at-all gate is unknown
    assert text.splitlines()[0] == "| upsampler | n | learned | psnr ↑ |"


def test_load_results_filters_by_preset(tmp_path):
    fake_result(tmp_path, "matting", "hin", 0, sad=1.0)
    assert len(load_results(tmp_path, preset="full")) == 0
    assert len(load_results(tmp_path, preset="quick")) == 1


def test_report_writes_summary_and_one_plot_per_metric(tmp_path):
    fake_result(tmp_path, "segmentation", "hin", 0, miou=0.5, boundary_iou=0.2)
    fake_result(tmp_path, "segmentation", "carafe", 0, miou=0.6, boundary_iou=0.1)
    paths = render_report(load_results(tmp_path), tmp_path)
    assert sorted(p.name for p in paths) == ["segmentation_boundary_iou.png", "segmentation_miou.png", "summary.md"]
    assert all(p.stat().st_size > 0 for p in paths)


def test_sweep_rejects_unknown_names(tmp_path):
    with pytest.raises(ValueError, match="unknown upsampler 'bicubic'"):
        run_sweep(["matting"], ["bicubic"], [0], out=tmp_path)
    with pytest.raises(ValueError, match="unknown task"):
        run_sweep(["depth"], ["hin"], [0], out=tmp_path)


def test_sweep_cli_renders_report_only(tmp_path):
    fake_result(tmp_path, "matting", "hin", 0, sad=1.0, mse=0.1, grad=2.0, conn=1.0)
    done = subprocess.run([sys.executable, "-m", "indexnet_edu.experiments.sweep", "--out", str(tmp_path), "--report-only"],
                          cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "| hin | 1 |" in done.stdout and (tmp_path / "matting_sad.png").exists()


def test_a_contrast_refuses_runs_of_one_seed_trained_on_different_machines(tmp_path):
    """The same seed trained on another CPU differs by a few per cent (the floating-point order of
    its kernels), as much as seeds differ: such runs are not paired."""
    import json as _json

    from indexnet_edu.experiments.results import load_results as _load

    for upsampler, model in (("bilinear", "Intel(R) Xeon(R) Processor"), ("hin", "AMD EPYC")):
        for seed in (0, 1):
            folder = tmp_path / "reconstruction" / upsampler
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"seed{seed}.json").write_text(_json.dumps({
                "task": "reconstruction", "upsampler": upsampler, "seed": seed, "preset": "laptop",
                "config": {"steps": 10}, "machine": {"cpu_model": model},
                "metrics": {"psnr": 20.0 + seed + (upsampler == "hin"), "test_loss": 0.1}}))
    table = _load(tmp_path)
    assert table.machine_models() == {"Intel(R) Xeon(R) Processor", "AMD EPYC"}
    with pytest.raises(ValueError, match="different machines .*Intel.* vs .*AMD|different machines .*AMD.* vs .*Intel"):
        table.contrast("reconstruction", "hin", "bilinear")
