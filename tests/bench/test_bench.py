"""The benchmark's machinery: timing, memory accounting, results files, devices, widget row."""
from __future__ import annotations

import json
import sys
import types

import pytest
import torch

from indexnet_edu.bench import measure, suite
from indexnet_edu.bench.__main__ import main
from indexnet_edu.bench.machine import machine_report
from indexnet_edu.bench.report import format_table, target_lines


def test_repeats_of_compared_callables_are_interleaved():
    calls = []
    measure.median_times({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3, warmup=1)
    assert calls == ["a", "b"] + ["a", "b"] * 3


def test_median_time_excludes_the_warm_up():
    durations = iter([0.2, 0.0, 0.0, 0.0])  # a slow first call must not reach the median

    def slow_then_fast():
        import time
        time.sleep(next(durations))

    assert measure.median_time(slow_then_fast, repeats=3, warmup=1) < 0.1


def test_peak_extra_bytes_sees_a_temporary_that_is_freed():
    x = torch.randn(1000, 1000)  # 4 MB, exists before: not counted

    def two_temporaries():
        a = x * 2
        b = a + 1  # a and b alive together: 8 MB
        del a
        return float((b * 3).sum())  # b and this product: again 8 MB

    peak = measure.peak_extra_bytes(two_temporaries)
    assert 8_000_000 <= peak < 8_100_000


def test_fast_reassembly_needs_far_less_memory_than_naive_on_a_small_case():
    fast = suite.measure_reassembly_op("fast", 32, 32, "cpu", repeats=1)
    naive = suite.measure_reassembly_op("naive", 32, 32, "cpu", repeats=1)
    assert fast["peak_extra_mib"] < 0.25 * naive["peak_extra_mib"]


def test_measure_upsampler_reports_every_column():
    row = suite.measure_upsampler("carafe", 16, 16, "cpu", repeats=1)
    assert row["forward_ms"] > 0 and row["forward_backward_ms"] > 0 and row["peak_extra_mib"] > 0
    assert row["parameters"] > 0 and row["flops"] > 0


def test_results_are_written_atomically_and_read_back(tmp_path):
    path = suite.write_json({"answer": [1, 2.5, "×"]}, tmp_path / "results", "cpu.json")
    assert suite.load_results(path) == {"answer": [1, 2.5, "×"]}
    assert [p.name for p in path.parent.iterdir()] == ["cpu.json"]  # no temp file left behind


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_request_without_cuda_is_a_clear_error():
    with pytest.raises(RuntimeError, match="torch.cuda.is_available"):
        suite.resolve_device("cuda")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_command_line_refuses_cuda_without_cuda(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--device", "cuda", "--quick", "--out", "unused"])
    assert stop.value.code == 2 and "--device cpu" in capsys.readouterr().err


def test_unknown_device_name_is_refused():
    with pytest.raises(ValueError, match="'cpu' or 'cuda'"):
        suite.resolve_device("tpu")


def test_widget_latency_is_unavailable_when_the_module_cannot_be_imported(monkeypatch):
    monkeypatch.setitem(sys.modules, "indexnet_edu.widgets", None)  # makes the import fail
    row = suite.widget_latency()
    assert row["status"] == "unavailable" and "cannot be imported" in row["reason"]


def test_widget_latency_reports_the_module_medians(monkeypatch):
    fake = types.ModuleType("indexnet_edu.widgets")
    fake.measure_update_latency = lambda size, repeats: {"stride": 1.5 * size / 256, "kernel": 2.0}
    monkeypatch.setitem(sys.modules, "indexnet_edu.widgets", fake)
    assert suite.widget_latency(256, 3) == {"status": "ok", "size": 256, "repeats": 3,
                                            "median_ms": {"stride": 1.5, "kernel": 2.0}}


def test_widget_latency_errors_are_not_hidden(monkeypatch):
    fake = types.ModuleType("indexnet_edu.widgets")

    def broken(size, repeats):
        raise ZeroDivisionError("bug in the widget")

    fake.measure_update_latency = broken
    monkeypatch.setitem(sys.modules, "indexnet_edu.widgets", fake)
    with pytest.raises(ZeroDivisionError):
        suite.widget_latency()


def test_target_lines_say_pass_or_fail_with_the_ratio():
    passed = suite._target("forward speed-up", 12.0, 10, "higher", {"fast_ms": 1.0})
    failed = suite._target("memory", 0.5, 0.25, "lower", {"fast_mib": 2.0}, unit="")
    lines = target_lines([passed, failed])
    assert lines[0].startswith("PASS  forward speed-up: 12×") and lines[1].startswith("FAIL  memory: 0.5")


def test_table_aligns_columns_and_marks_missing_values():
    text = format_table([{"name": "a", "ms": 1.0}, {"name": "bbb", "ms": None}],
                        [("name", "upsampler", "s"), ("ms", "ms", ".1f")])
    lines = text.splitlines()
    assert len({len(line) for line in lines}) == 1 and lines[-1].endswith("–")


def test_machine_report_names_cpu_threads_and_torch():
    report = machine_report(torch.device("cpu"))
    assert report["cpu_model"] and report["torch"] == torch.__version__ and report["torch_threads"] >= 1


def test_committed_results_record_the_machine_and_all_upsamplers():
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "cpu.json"
    if not path.exists():
        pytest.skip("no committed benchmarks/results/cpu.json yet")
    results = json.loads(path.read_text())
    assert {"cpu_model", "torch_threads", "torch"} <= set(results["machine"])
    assert {row["name"] for row in results["upsamplers"]} >= {"nearest", "bilinear", "carafe", "hin", "din_m2o"}
    assert [t["passed"] for t in results["targets"]] == [True] * 4


def test_command_line_refuses_zero_threads(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--threads", "0", "--out", "unused"])
    assert stop.value.code == 2 and "--threads must be >= 1" in capsys.readouterr().err


def test_throughput_is_a_fraction_of_peak_bandwidth_when_the_peak_is_known():
    report = suite.reassembly_throughput("cpu", forward_ms=10.0, peak_bandwidth_gbs=100.0)
    assert report["fraction_of_peak_bandwidth"] == pytest.approx(report["gb_per_s"] / 100.0)
    assert "fraction_of_peak_bandwidth" not in suite.reassembly_throughput("cpu", forward_ms=10.0)


def test_committed_results_render_as_a_report_with_four_target_lines():
    from pathlib import Path

    from indexnet_edu.bench.report import render

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "cpu.json"
    if not path.exists():
        pytest.skip("no committed benchmarks/results/cpu.json yet")
    text = render(suite.load_results(path))
    assert sum(line.startswith(("PASS ", "FAIL ")) for line in text.splitlines()) == 4
    assert "carafe" in text and "scaling with channels" in text


def test_peak_memory_hides_the_profilers_trace_lines_but_keeps_other_stderr(capfd):
    import os

    from indexnet_edu.bench.measure import peak_extra_bytes

    def work():
        os.write(2, b"USDT:fake profiler line\nnative warning kept\n")
        return torch.randn(64, 64) @ torch.randn(64, 64)

    assert peak_extra_bytes(work) > 0
    err = capfd.readouterr().err
    assert "USDT" not in err and "native warning kept" in err
    os.write(2, b"after\n")  # file descriptor 2 works again
    assert capfd.readouterr().err == "after\n"


def _fake_curves(names):
    return {axis: [{"name": name, axis: value, "forward_ms": (1 + number) * value, "peak_extra_mib": value}
                   for number, name in enumerate(names) for value in (16, 32, 64, 128)]
            for axis in ("size", "channels")}


def test_scaling_plot_gives_each_series_one_fixed_distinct_colour():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from indexnet_edu.bench.plots import plot_scaling, series_colour

    names = ["nearest", "bilinear", "carafe", "hin", "din_o2o", "din_m2o", "reassembly op (fast)",
             "reassembly op (naive)", "some_new_upsampler"]
    figure = plot_scaling(_fake_curves(names))
    lines = [line for axis in figure.axes for line in axis.lines]
    colours = {line.get_label(): matplotlib.colors.to_hex(line.get_color()) for line in lines}
    assert len(set(colours.values())) == len(names)                      # no two series alike
    assert colours == {name: matplotlib.colors.to_hex(series_colour(name)) for name in names}
    subset = plot_scaling(_fake_curves(names), names=("reassembly op (fast)", "reassembly op (naive)"))
    assert [matplotlib.colors.to_hex(line.get_color()) for line in subset.axes[0].lines] == \
        [colours["reassembly op (fast)"], colours["reassembly op (naive)"]]   # the same colour in every figure
    plt.close("all")


def test_scaling_plot_puts_each_kind_of_upsampler_in_its_own_row_of_few_lines():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from indexnet_edu.bench.plots import SCALING_GROUPS, plot_scaling

    names = [name for members in SCALING_GROUPS.values() for name in members] + ["some_new_upsampler"]
    figure = plot_scaling(_fake_curves(names))
    rows = [[line.get_label() for line in axis.lines] for axis in figure.axes[::2]]   # the left panel of each row
    assert rows == [list(members) for members in SCALING_GROUPS.values()] + [["some_new_upsampler"]]
    assert max(len(row) for row in rows) <= 5
    assert [axis.get_legend().get_title().get_text() for axis in figure.axes[1::2]] == [*SCALING_GROUPS, "others"]
    plt.close("all")


def test_log_axes_label_only_the_measured_values():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from indexnet_edu.bench.plots import plot_memory_model, plot_scaling

    for figure in (plot_scaling(_fake_curves(["nearest"])), plot_memory_model()):
        figure.canvas.draw()
        for axis in figure.axes:
            minor = [tick.get_text() for tick in axis.get_xticklabels(minor=True)]
            assert not any(minor)                                          # no minor labels to overlap
            assert [tick.get_text() for tick in axis.get_xticklabels()] == ["16", "32", "64", "128"]
    plt.close("all")
