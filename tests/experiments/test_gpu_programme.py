"""The GPU programme, rehearsed on the CPU: one command, every stage, one archive, nothing lost.

The rehearsal runs as the GPU machine would run it — a subprocess importing the package from
the checkout — with tqdm, pytest and the notebook stack made unimportable, since the GPU
machine has none of them.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from indexnet_edu.gpu_programme import run_programme
from indexnet_edu.gpu_programme.__main__ import main
from indexnet_edu.gpu_programme.archive import read_archive

ROOT = Path(__file__).resolve().parents[2]
#: What the GPU machine lacks; a sitecustomize on PYTHONPATH makes these absent in every
#: process of the rehearsal (the programme, its data processes and its training jobs).
ABSENT_ON_THE_GPU_MACHINE = ("tqdm", "pytest", "hypothesis", "ipywidgets", "IPython", "jupyterlab", "nbval")
BLOCKER = f"""
import sys
for name in {ABSENT_ON_THE_GPU_MACHINE!r}:
    sys.modules[name] = None  # import raises ImportError; importlib.util.find_spec answers None
"""


def run_command(tmp_path, out, work, *extra):
    blocker = tmp_path / "blocker"
    blocker.mkdir(exist_ok=True)
    (blocker / "sitecustomize.py").write_text(BLOCKER)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(blocker)]))
    command = [sys.executable, "-m", "indexnet_edu.gpu_programme", "--budget-s", "300", "--out", str(out),
               "--work", str(work), "--dry-run", "--quiet", *extra]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((out / "summary.json").read_text()), read_archive(out / "gpu_programme.tar.gz")


def results_in(archive):
    return sorted(name for name in archive if name.split("/")[-1].startswith("seed"))


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory):
    """The dry run cut off after 3 finished jobs, then run again into the same folders."""
    tmp_path = tmp_path_factory.mktemp("programme")
    out, work = tmp_path / "out", tmp_path / "work"
    first = run_command(tmp_path, out, work, "--stop-after-jobs", "3")
    stamps = {path: path.stat().st_mtime_ns for path in (work / "sweep").glob("*/*/*/seed*.json")}
    second = run_command(tmp_path, out, work)
    return {"first": first, "second": second, "stamps": stamps, "out": out, "work": work}


def test_a_run_cut_off_packs_every_job_it_finished(rehearsal):
    summary, archive = rehearsal["first"]
    jobs = json.loads(archive["gpu_programme/sweep.json"])["jobs"]
    done = [job for job in jobs if job["status"] == "done"]
    assert len(done) == 3 and len(results_in(archive)) == 3
    assert all(f"gpu_programme/{job['result']}" in archive for job in done)
    assert summary["stop_reason"].startswith("testing aid") and summary["passed"]
    assert all(job["reason"] for job in jobs if job["status"] in ("skipped", "interrupted"))


def test_a_rerun_skips_finished_jobs_and_stages_and_does_the_rest(rehearsal):
    summary, archive = rehearsal["second"]
    assert {path: path.stat().st_mtime_ns for path in rehearsal["stamps"]} == rehearsal["stamps"]
    assert summary["stages"]["checks"]["status"] == summary["stages"]["bench"]["status"] == "reused"
    assert summary["stages"]["sweep"]["counts"] == {"done": 6, "reused": 3, "failed": 0, "interrupted": 0,
                                                    "skipped": 0}
    assert len(results_in(archive)) == 9 and summary["passed"] and summary["stop_reason"] is None


def test_the_archive_holds_checks_bench_sweep_summaries_and_provenance(rehearsal):
    summary, archive = rehearsal["second"]
    names = set(archive)
    for name in ("checks.json", "bench.json", "sweep.json", "provenance.json", "log.txt",
                 "sweep/light/summary.md", "sweep/indexnet/summary.md"):
        assert f"gpu_programme/{name}" in names
    assert sorted(path.name for path in rehearsal["out"].iterdir()) == ["gpu_programme.tar.gz", "summary.json"]
    assert summary["archive_files"] == len(names)
    provenance = json.loads(archive["gpu_programme/provenance.json"])
    assert provenance["torch"] == torch.__version__ and provenance["plan"] == "dry_run"
    assert provenance["packages"]["torch"] and len(provenance["source_sha256"]) == 64
    bench = json.loads(archive["gpu_programme/bench.json"])
    assert bench["reassembly"]["status"] == "ok"
    assert {row["status"] for row in bench["indexnet"]["variants"][:4]} == {"ok"}


def test_cuda_only_checks_are_recorded_as_skipped_with_the_reason(rehearsal):
    _, archive = rehearsal["first"]
    records = json.loads(archive["gpu_programme/checks.json"])["records"]
    skipped = {record["check"]: record["reason"] for record in records if record["status"] == "skipped"}
    for check in ("check_reassembly_against_cpu", "check_gradcheck_float64", "check_training_precision"):
        assert "no CUDA" in skipped[check]
    assert all(record["status"] == "pass" for record in records if record["status"] != "skipped")


def test_a_budget_too_small_for_any_job_records_them_all_as_skipped(tmp_path):
    summary = run_programme(tmp_path / "out", 1.0, dry_run=True, work=tmp_path / "work", stages=("sweep",),
                            echo=None)
    jobs = json.loads(read_archive(tmp_path / "out" / "gpu_programme.tar.gz")["gpu_programme/sweep.json"])["jobs"]
    assert jobs and all(job["status"] == "skipped" and "budget" in job["reason"] for job in jobs)
    assert summary["passed"]


@pytest.mark.parametrize("argv, message", [
    (["--budget-s", "-5", "--out", "X"], "--budget-s must be a finite number of seconds > 0"),
    (["--budget-s", "0", "--out", "X"], "--budget-s must be"),
    (["--budget-s", "nan", "--out", "X"], "--budget-s must be"),
    (["--budget-s", "420", "--out", ""], "--out must name a folder"),
    (["--budget-s", "420", "--out", "X", "--workers", "0"], "--workers must be an int >= 1"),
])
def test_bad_arguments_are_refused_with_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stopped:
        main(argv + ["--dry-run"])
    assert stopped.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "X").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_the_gpu_run_without_cuda_points_to_the_dry_run(capsys, tmp_path):
    with pytest.raises(SystemExit) as stopped:
        main(["--budget-s", "420", "--out", str(tmp_path / "out")])
    assert stopped.value.code == 2 and "--dry-run" in capsys.readouterr().err
