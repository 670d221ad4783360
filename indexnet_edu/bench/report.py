"""Turn a results dict into the printed tables and PASS/FAIL lines."""
from __future__ import annotations


def format_table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """A fixed-width text table; ``columns`` are (key, header, format spec)."""
    cells = [[header for _, header, _ in columns]]
    for row in rows:
        cells.append([("–" if row.get(key) is None else format(row[key], spec)) for key, _, spec in columns])
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = ["  ".join(cell.ljust(width) if i == 0 else cell.rjust(width)
                       for i, (cell, width) in enumerate(zip(line, widths))) for line in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def target_lines(targets: list[dict], verdicts: bool = True) -> list[str]:
    """One line per target: the ratio and what it was measured from, headed ``PASS``/``FAIL``
    against the project's target (``verdicts=False``, for a lesson: the measurement alone)."""
    lines = []
    for target in targets:
        measured = ", ".join(f"{key} {value:.1f}" for key, value in target["measured"].items())
        if not verdicts:
            lines.append(f"{target['name']}: {target['value']:.3g}{target['unit']} ({measured})")
            continue
        verdict = "PASS" if target["passed"] else "FAIL"
        lines.append(f"{verdict}  {target['name']}: {target['value']:.3g}{target['unit']} "
                     f"(target {target['rule']}; {measured})")
    return lines


LIMIT_COLUMNS = [("implementation", "implementation", "s"), ("forward_ms", "fwd ms", ".2f"),
                 ("times_limit_forward", "× limit", ".1f"), ("forward_backward_ms", "fwd+bwd ms", ".2f"),
                 ("times_limit_forward_backward", "× limit", ".1f")]


def machine_limit_lines(report: dict, goals: bool = True) -> list[str]:
    """The machine's measured rates and limits, each implementation's time as a multiple of the
    limit, and (``goals``; not in a lesson) one ``GOAL MET``/``GOAL MISSED`` line per goal."""
    limit = report["limit_ms"]
    lines = [f"the machine's limit (matmul {report['matmul_gflop_per_s']:.0f} GFLOP/s, copy "
             f"{report['copy_gb_per_s']:.1f} GB/s, measured in the same interleaved run): forward "
             f"{limit['forward']:.2f} ms ({report['limit_bound_by']['forward']}-bound), forward+backward "
             f"{limit['forward_backward']:.2f} ms ({report['limit_bound_by']['forward_backward']}-bound)",
             format_table(report["implementations"], LIMIT_COLUMNS)]
    for goal in report.get("goals", []) if goals else []:
        lines.append(f"{'GOAL MET' if goal['met'] else 'GOAL MISSED'}  {goal['name']}: {goal['value']:.1f}× "
                     f"(goal <= {goal['threshold']:g}×)")
    return lines


UPSAMPLER_COLUMNS = [("name", "upsampler", "s"), ("forward_ms", "fwd ms", ".2f"),
                     ("forward_backward_ms", "fwd+bwd ms", ".2f"), ("peak_extra_mib", "peak MiB", ".1f"),
                     ("parameters", "params", ","), ("flops", "FLOPs", ",")]
SCALING_COLUMNS = [("name", "upsampler", "s"), ("channels", "C", "d"), ("size", "H=W", "d"),
                   ("forward_ms", "fwd ms", ".2f"), ("flops", "FLOPs", ","), ("peak_extra_mib", "peak MiB", ".1f")]


def render(results: dict) -> str:
    """The whole report as text."""
    machine = results["machine"]
    parts = [f"machine: {machine['cpu_model']}, {machine['logical_cpus']} logical CPUs, "
             f"{machine['torch_threads']} torch threads, torch {machine['torch']}, device {machine['device']}"
             + (f" ({machine['gpu']})" if "gpu" in machine else "")
             + (f", load average {machine.get('load_average_1min')} → {machine.get('load_average_1min_end')}"
                if "load_average_1min" in machine else ""),
             "", "reassembly targets (y 1×256×64×64, k=5, ×2, groups 1; fast vs naive in one interleaved run):"]
    parts += target_lines(results["targets"])
    throughput = results.get("reassembly_throughput")
    if throughput:
        parts.append(f"fast reassembly forward moves ≥ {throughput['bytes_moved'] / 2**20:.0f} MiB: "
                     f"{throughput['gb_per_s']:.1f} GB/s, {throughput['gflop_per_s']:.1f} GFLOP/s"
                     + (f", {100 * throughput['fraction_of_peak_bandwidth']:.1f}% of peak memory bandwidth"
                        if "fraction_of_peak_bandwidth" in throughput else ""))
    if "machine_limit" in results:
        parts += ["", "how close to the machine (same reassembly; each implementation vs the measured limit):"]
        parts += machine_limit_lines(results["machine_limit"])
    if results.get("numba_breakdown_ms"):
        parts.append("the fused numba kernel's passes (median ms): " + ", ".join(
            f"{name} {ms:.2f}" for name, ms in results["numba_breakdown_ms"].items()))
    parts += ["", f"every upsampler, pair up(*down(x)) with x 1×{results['standard']['channels']}×"
              f"{results['standard']['size']}×{results['standard']['size']}:",
              format_table(results["upsamplers"], UPSAMPLER_COLUMNS)]
    for axis in ("size", "channels"):
        parts += ["", f"scaling with {'H×W' if axis == 'size' else 'channels'}:",
                  format_table(results["scaling"][axis], SCALING_COLUMNS)]
    widget = results["widget_latency"]
    parts.append("")
    if widget["status"] == "ok":
        parts.append("playground widget update latency (median ms per control):")
        parts += [f"  {control}: {ms:.1f}" for control, ms in widget["median_ms"].items()]
    else:
        parts.append(f"playground widget update latency: unavailable — {widget['reason']}")
    parts.append(f"\nelapsed {results['elapsed_s']:.0f} s")
    return "\n".join(parts)
