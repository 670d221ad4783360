"""A sweep never reports results made with other settings."""
import json
from dataclasses import asdict

import pytest

from indexnet_edu.experiments import results, sweep
from indexnet_edu.experiments import config as config_module
from indexnet_edu.experiments import train as train_module
from indexnet_edu.checkpoint import atomic_save

pytestmark = pytest.mark.usefixtures("one_thread")
TINY = dict(steps=3, batch_size=4, size=16, n_train=8, n_test=4, lr=1e-3, checkpoint_every=1, widths=(4, 8))


@pytest.fixture
def tiny_preset(monkeypatch):
    monkeypatch.setattr(config_module, "PRESETS", {**config_module.PRESETS, "quick": TINY})


@pytest.fixture
def three_step_sweep(tmp_path, tiny_preset):
    sweep.run_sweep(["reconstruction"], ["nearest"], [0], "quick", tmp_path, steps=3, in_process=True,
                    progress=False)
    return tmp_path


def test_results_store_the_config_they_were_made_with(three_step_sweep):
    stored = json.loads(results.result_path(three_step_sweep, "reconstruction", "nearest", 0).read_text())
    assert stored["config"]["steps"] == 3 and stored["config"]["preset"] == "quick"


def test_a_sweep_with_other_steps_into_the_same_out_is_refused_naming_the_setting(three_step_sweep):
    with pytest.raises(ValueError, match=r"seed0\.json was made with other settings \(steps: 3 → 5\)"):
        sweep.run_sweep(["reconstruction"], ["nearest"], [0], "quick", three_step_sweep, steps=5,
                        in_process=True, progress=False)


def test_the_sweep_cli_refuses_other_steps_with_exit_2_and_reports_nothing(three_step_sweep, capsys):
    with pytest.raises(SystemExit) as exit_info:
        sweep.main(["--tasks", "reconstruction", "--upsamplers", "nearest", "--seeds", "0", "--steps", "5",
                    "--out", str(three_step_sweep)])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert "steps: 3 → 5" in captured.err and "psnr" not in captured.out


def test_the_same_settings_skip_the_finished_job(three_step_sweep, monkeypatch):
    def refuse(*args):
        raise AssertionError("a finished job ran again")
    monkeypatch.setattr(sweep, "_run_in_process", refuse)
    table = sweep.run_sweep(["reconstruction"], ["nearest"], [0], "quick", three_step_sweep, steps=3,
                            in_process=True, progress=False)
    assert table.seeds[("reconstruction", "nearest")] == [0]


def test_an_unfinished_checkpoint_of_other_settings_is_refused_before_any_job(tmp_path, tiny_preset):
    config = config_module.make_config("reconstruction", "nearest", steps=3)
    run_dir = results.result_path(tmp_path, "reconstruction", "nearest", 0).with_suffix("")
    atomic_save({"config": asdict(config)}, run_dir / train_module.CHECKPOINT_NAME)
    with pytest.raises(ValueError, match=r"checkpoint\.pt was made with other settings \(steps: 3 → 4\)"):
        sweep.check_existing_results([("reconstruction", "nearest", 0)], "quick", tmp_path, 4, "light")


def test_a_table_never_averages_seeds_made_with_different_settings(three_step_sweep):
    first = results.result_path(three_step_sweep, "reconstruction", "nearest", 0)
    other = json.loads(first.read_text())
    other["seed"], other["config"]["seed"], other["config"]["steps"] = 1, 1, 60
    results.result_path(three_step_sweep, "reconstruction", "nearest", 1).write_text(json.dumps(other))
    with pytest.raises(ValueError, match=r"were made with different settings \(steps\)"):
        results.load_results(three_step_sweep)


def test_a_sweep_reports_only_the_seeds_it_was_asked_for(three_step_sweep, tiny_preset):
    table = sweep.run_sweep(["reconstruction"], ["nearest"], [1], "quick", three_step_sweep, steps=3,
                            in_process=True, progress=False)
    assert table.seeds[("reconstruction", "nearest")] == [1]
