"""The lessons' rerun table: a quick-mode smoke run is labelled as one, never shown as a result."""
from indexnet_edu.lessons.shipped import shipped_results
from indexnet_edu.lessons.training_views import rerun_markdown


def test_a_smoke_run_is_labelled_and_a_full_run_is_not():
    table = shipped_results()
    full = rerun_markdown(table, table, "reconstruction")
    smoke = rerun_markdown(table, table, "reconstruction", steps=10)
    assert "smoke" not in full and "your run: psnr" in full
    assert "smoke run, 10 steps: psnr (not comparable)" in smoke
    assert "not a reproduction" in smoke.splitlines()[-1]
    assert full.count("\n| ") == smoke.split("\n\n")[0].count("\n| ")  # the same rows
