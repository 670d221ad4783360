"""The machine's limit in the benchmark: how it is computed, what the report and figure show,
and what the committed run records."""
from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from conftest import numba_importable
from indexnet_edu.bench import limits
from indexnet_edu.bench.plots import plot_machine_limit
from indexnet_edu.bench.report import machine_limit_lines, render
from indexnet_edu.bench.suite import target_inputs
from indexnet_edu.bench.cost import reassembly_flops

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def test_reassembly_work_counts_flops_and_the_bytes_that_must_move():
    work = limits.reassembly_work(batch=1, channels=256, size=64, kernel_size=5, scale=2)
    y, kernels, out = 256 * 64 * 64, 25 * 128 * 128, 256 * 128 * 128
    assert work["forward"] == {"flops": reassembly_flops(256, 64, 64, 5, 2), "bytes": 4 * (y + kernels + out)}
    assert work["forward"]["flops"] == 2 * 25 * 256 * 4 * 64 * 64  # 2·k²·C·s²·h·w, about 210 MFLOP
    assert work["forward_backward"]["flops"] == 3 * work["forward"]["flops"]
    assert work["forward_backward"]["bytes"] == 4 * (y + kernels + out) + 4 * (y + kernels + out + y + kernels)
    assert limits.reassembly_work(2, 256, 64, 5, 2, groups=4)["forward"]["flops"] == 2 * work["forward"]["flops"]


@pytest.mark.parametrize("flop_rate, bandwidth, bound", [(1e9, 1e12, "flops"), (1e15, 1e6, "bytes")])
def test_the_limit_is_whichever_of_arithmetic_and_traffic_takes_longer(flop_rate, bandwidth, bound):
    work = {"flops": 2e9, "bytes": 3e6}
    want = work["flops"] / flop_rate if bound == "flops" else work["bytes"] / bandwidth
    assert limits.limit_seconds(work, flop_rate, bandwidth) == pytest.approx(want)


def test_machine_limit_report_times_every_implementation_against_one_limit(one_thread):
    report = limits.machine_limit_report("cpu", target_inputs("cpu", channels=16, size=16), repeats=1)
    names = [row["implementation"] for row in report["implementations"]]
    assert names[0] == "torch" and names[-1] == "naive" and ("numba" in names) == numba_importable()
    assert report["matmul_gflop_per_s"] > 0 and report["copy_gb_per_s"] > 0
    for row in report["implementations"]:
        for phase in ("forward", "forward_backward"):
            assert row[f"times_limit_{phase}"] == pytest.approx(row[f"{phase}_ms"] / report["limit_ms"][phase])
    goals = report["goals"]
    assert len(goals) == (2 if numba_importable() else 0)
    assert all(goal["met"] == (goal["value"] <= limits.GOAL_TIMES_LIMIT) for goal in goals)


def test_report_lines_show_the_limit_every_implementation_and_each_goal():
    report = {"matmul_gflop_per_s": 100.0, "copy_gb_per_s": 10.0,
              "limit_ms": {"forward": 2.0, "forward_backward": 6.0},
              "limit_bound_by": {"forward": "memory", "forward_backward": "arithmetic"},
              "implementations": [{"implementation": "numba", "forward_ms": 5.0, "times_limit_forward": 2.5,
                                   "forward_backward_ms": 30.0, "times_limit_forward_backward": 5.0}],
              "goals": [{"name": "numba forward within 3× of the machine's limit", "value": 2.5, "threshold": 3.0,
                         "met": True},
                        {"name": "numba forward+backward within 3× of the machine's limit", "value": 5.0,
                         "threshold": 3.0, "met": False}]}
    text = "\n".join(machine_limit_lines(report))
    assert "forward 2.00 ms (memory-bound), forward+backward 6.00 ms (arithmetic-bound)" in text
    assert "GOAL MET  numba forward within 3×" in text and "GOAL MISSED  numba forward+backward" in text
    assert "numba" in text.splitlines()[3] and "2.5" in text.splitlines()[3]


def test_the_figure_has_two_bars_per_implementation_and_the_limit_line():
    report = {"limit_ms": {"forward": 2.0, "forward_backward": 6.0}, "implementations": [
        {"implementation": name, "forward_ms": ms, "times_limit_forward": ms / 2, "forward_backward_ms": 3 * ms,
         "times_limit_forward_backward": ms / 2} for name, ms in (("torch", 40.0), ("numba", 10.0))]}
    fig = plot_machine_limit(report)
    ax = fig.axes[0]
    assert len(ax.patches) == 4 and ax.get_xscale() == "log"
    assert any(line.get_xdata()[0] == 1 for line in ax.get_lines())
    plt.close(fig)


def _committed(name):
    path = RESULTS / name
    if not path.exists():
        pytest.skip(f"no committed benchmarks/results/{name}")
    return json.loads(path.read_text())


@pytest.mark.parametrize("name", ["cpu.json", "cpu_2threads.json"])
def test_committed_runs_record_the_limit_and_the_fused_kernel(name):
    results = _committed(name)
    report = results["machine_limit"]
    rows = {row["implementation"]: row for row in report["implementations"]}
    assert set(rows) == {"torch", "numba", "naive"}
    assert rows["numba"]["forward_ms"] < rows["torch"]["forward_ms"] < rows["naive"]["forward_ms"]
    assert rows["numba"]["forward_backward_ms"] < rows["torch"]["forward_backward_ms"]
    assert [goal["name"].split()[0] for goal in report["goals"]] == ["numba", "numba"]
    assert set(results["numba_breakdown_ms"]) >= {"pad_channels_last", "forward", "backward", "fold_channels_first"}
    assert "how close to the machine" in render(results)


def test_the_fused_kernel_scales_with_threads_in_the_committed_runs():
    one, two = _committed("cpu.json"), _committed("cpu_2threads.json")
    assert (one["machine"]["torch_threads"], two["machine"]["torch_threads"]) == (1, 2)
    numba = [{row["implementation"]: row for row in r["machine_limit"]["implementations"]}["numba"] for r in (one, two)]
    assert numba[1]["forward_backward_ms"] < numba[0]["forward_backward_ms"]


def test_the_lesson_form_of_the_report_states_measurements_without_the_projects_verdicts():
    # A lesson explains what was measured; PASS/FAIL against targets and GOAL MET/MISSED are the
    # project's bookkeeping, kept to the benchmark's own report.
    from indexnet_edu.bench.plots import committed_results
    from indexnet_edu.bench.report import target_lines
    from indexnet_edu.bench.suite import load_results

    results = load_results(committed_results("cpu.json"))
    lesson = "\n".join(target_lines(results["targets"], verdicts=False)
                       + machine_limit_lines(results["machine_limit"], goals=False))
    assert not re.search(r"PASS|FAIL|GOAL|target|goal", lesson), lesson
    for target in results["targets"]:
        assert f"{target['value']:.3g}" in lesson
    full = "\n".join(target_lines(results["targets"]) + machine_limit_lines(results["machine_limit"]))
    assert "PASS" in full and "GOAL" in full
