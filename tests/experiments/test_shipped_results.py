"""The shipped laptop-preset results: complete, provenance-stamped, and what the lessons read."""
import json
import math
import re

import pytest

from indexnet_edu.lessons.shipped import (SHIPPED_DIR, SUCCESSOR_ARMS, SUCCESSOR_TASKS, SUCCESSORS_DIR,
                                          shipped_checkpoint, shipped_results, successor_results)
from indexnet_edu.experiments.results import load_results
from indexnet_edu.experiments.train import CHECKPOINT_NAME, _load_data, evaluate, load_trained_model
from indexnet_edu.experiments.config import PRESETS

pytestmark = pytest.mark.usefixtures("one_thread")

SETTINGS = ("matting_noskip", "reconstruction", "texture_regions")
UPSAMPLERS = ("nearest", "bilinear", "deconv", "pixel_shuffle", "max_unpool", "carafe", "dysample", "hin",
              "din_o2o", "din_m2o")
SEEDS = (0, 1, 2, 3, 4)
FILES = sorted(SHIPPED_DIR.glob("*/*/seed*.json")) + sorted(SUCCESSORS_DIR.glob("*/*/seed*.json"))
PROVENANCE = ("git_commit", "torch", "wall_time_s", "config", "device", "machine")
MACHINE = ("cpu_model", "logical_cpus", "torch_threads", "torch", "platform")


@pytest.mark.parametrize("folder, tasks, arms", [(SHIPPED_DIR, SETTINGS, UPSAMPLERS),
                                                (SUCCESSORS_DIR, SUCCESSOR_TASKS, SUCCESSOR_ARMS)])
def test_every_setting_upsampler_and_seed_is_there(folder, tasks, arms):
    present = {(p.parent.parent.name, p.parent.name, int(p.stem[4:])) for p in folder.glob("*/*/seed*.json")}
    missing = [(t, u, s) for t in tasks for u in arms for s in SEEDS if (t, u, s) not in present]
    assert not missing, f"{len(missing)} shipped results missing, e.g. {missing[:5]}"


@pytest.mark.parametrize("folder", [SHIPPED_DIR, SUCCESSORS_DIR], ids=["laptop", "laptop_successors"])
def test_each_shipped_set_was_trained_on_one_machine_so_its_contrasts_are_paired(folder):
    assert len(load_results(folder).machine_models()) == 1


@pytest.mark.parametrize("path", FILES, ids=lambda p: "/".join(p.parts[-3:]))
def test_result_file_schema_and_provenance(path):
    results = json.loads(path.read_text())
    assert (results["task"], results["upsampler"], f"seed{results['seed']}") == (
        path.parent.parent.name, path.parent.name, path.stem)
    assert results["preset"] == "laptop" and results["model"] == "light"
    for key in PROVENANCE:
        assert key in results, key
    assert re.fullmatch(r"[0-9a-f]{40}", results["git_commit"])
    assert results["wall_time_s"] > 0 and results["steps"] == results["config"]["steps"]
    assert set(results["config"]) >= set(PRESETS["laptop"]) | {"task", "upsampler", "seed", "preset"}
    assert results["config"]["seed"] == results["seed"] and results["config"]["task"] == results["task"]
    for key in MACHINE:
        assert key in results["machine"], key
    assert results["machine"]["torch_threads"] >= 1
    assert "test_loss" in results["metrics"] and set(results["baseline"]) <= set(results["metrics"])
    assert all(math.isfinite(v) for v in [*results["metrics"].values(), *results["baseline"].values()])


def test_the_lessons_loader_reads_five_paired_seeds_per_arm():
    table = shipped_results()
    for task in SETTINGS:
        for name in UPSAMPLERS:
            assert table.seeds[(task, name)] == list(SEEDS), (task, name)
            assert table.summary(task, name, table.metrics(task)[0]).n == 5
        assert table.contrast(task, "hin").n == 5


@pytest.mark.parametrize("task, upsampler", [("matting_noskip", "hin"), ("matting_noskip", "bilinear"),
                                             ("reconstruction", "hin")])
def test_shipped_checkpoints_load_and_match_their_results(task, upsampler):
    folder = shipped_checkpoint(task, upsampler, 0)
    assert (folder / CHECKPOINT_NAME).stat().st_size < 3_000_000
    model, config = load_trained_model(folder)
    assert (config.task, config.upsampler, config.seed, config.preset) == (task, upsampler, 0, "laptop")
    assert not model.training
    # the weights are the ones that produced the shipped numbers
    shipped = json.loads((SHIPPED_DIR / task / upsampler / "seed0.json").read_text())["metrics"]
    _, test_set = _load_data(config)
    metrics = evaluate(model, config, test_set, "cpu")
    assert metrics == pytest.approx(shipped, rel=1e-5, abs=1e-7)


def test_the_lessons_05_to_07_read_their_eleven_arms_and_lesson_09_its_own_set():
    from indexnet_edu.lessons.shipped import COMPARISON_ARMS

    default = shipped_results(["matting_noskip"])
    assert tuple(default.upsamplers("matting_noskip")) == COMPARISON_ARMS
    successors = successor_results()
    for task in SUCCESSOR_TASKS:
        assert tuple(successors.upsamplers(task)) == SUCCESSOR_ARMS
        for name in SUCCESSOR_ARMS:
            assert successors.seeds[(task, name)] == list(SEEDS), (task, name)
        assert successors.contrast(task, "sapa").n == 5


def test_the_packaged_copy_agrees_with_the_checkouts_results():
    # results/laptop and benchmarks/results are what the tools write; the package carries a copy
    # (what installed lessons read), kept in step by tools/refresh_shipped_data.py.
    import subprocess
    import sys

    from conftest import REPO

    done = subprocess.run([sys.executable, str(REPO / "tools" / "refresh_shipped_data.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
