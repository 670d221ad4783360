"""What a sweep leaves on disk, read back: the folder layout, :class:`ResultsTable`, the
Markdown report and the strip plots.

    OUT/<task>/<upsampler>/seed<k>.json   a finished job's results (published atomically)
    OUT/<task>/<upsampler>/seed<k>/       where that job trains (checkpoint.pt, results.json)
    OUT/summary.md, OUT/<task>_<metric>.png   the report (:func:`render_report`)

The comparison table gives mean ± sample std over seeds, n, the learned-at-all gate and the
trivial baseline; the paired contrasts and their decision rule come from :mod:`.stats`.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..checkpoint import atomic_write_text, current_umask, remove_stale_temporaries
from ..upsamplers.registry import available_upsamplers
from .tasks import HIGHER_IS_BETTER, TASK_TABLE, TASKS


def result_path(out, task: str, upsampler: str, seed: int) -> Path:
    """``out/<task>/<upsampler>/seed<k>.json``: a finished job's published results."""
    return Path(out) / task / upsampler / f"seed{seed}.json"


def job_dir(out, task: str, upsampler: str, seed: int) -> Path:
    """``out/<task>/<upsampler>/seed<k>/``: where a job trains (its checkpoint, results.json)."""
    return result_path(out, task, upsampler, seed).with_suffix("")


@dataclass
class ResultsTable:
    """Per-seed results grouped by (task, upsampler): ``values[(task, upsampler)][metric] = [per seed]``.

    Lists are in the order of ``seeds[(task, upsampler)]`` (ascending seed); ``baselines``
    holds the trivial baseline's metrics on the same test set, when the results files have them;
    ``machines`` the CPU (or GPU) model each seed was trained on, when recorded.
    """

    values: dict = field(default_factory=dict)
    seeds: dict = field(default_factory=dict)
    baselines: dict = field(default_factory=dict)
    machines: dict = field(default_factory=dict)

    def machine_models(self) -> set:
        """Every processor model the table's runs were trained on (recorded ones only)."""
        return {model for models in self.machines.values() for model in models if model}

    def tasks(self) -> list[str]:
        return [t for t in TASKS if any(key[0] == t for key in self.values)]

    def upsamplers(self, task: str) -> list[str]:
        return [u for (t, u) in self.values if t == task]

    def metrics(self, task: str) -> list[str]:
        names = []
        for (t, _), metric_values in self.values.items():
            names += [m for m in metric_values if t == task and m not in names]
        primary = TASK_TABLE[task].primary_metric if task in TASK_TABLE else None
        return sorted(names, key=lambda m: (m != primary, m))  # the task's primary metric first

    def per_seed(self, task: str, upsampler: str, metric: str) -> dict:
        """{seed: value} of one arm."""
        return dict(zip(self.seeds[(task, upsampler)], self.values[(task, upsampler)][metric]))

    def summary(self, task: str, upsampler: str, metric: str):
        """:class:`~indexnet_edu.experiments.stats.ArmSummary` (n, mean, sample std) of one arm."""
        from .stats import summarize

        return summarize(self.values[(task, upsampler)][metric])

    def mean_std(self, task: str, upsampler: str, metric: str) -> tuple[float, float]:
        """Mean and sample standard deviation (ddof = 1; NaN for one seed) over seeds."""
        summary = self.summary(task, upsampler, metric)
        return summary.mean, summary.std

    def baseline(self, task: str, metric: str) -> float | None:
        """The trivial baseline's mean ``metric`` on the task's test set (None if not recorded)."""
        values = [v for (t, _), metrics in self.baselines.items() if t == task for v in metrics.get(metric, [])]
        return float(np.mean(values)) if values else None

    def learned(self, task: str, upsampler: str) -> bool | None:
        """Whether every seed of the arm passes :func:`~indexnet_edu.experiments.tasks.learned_at_all` (None: no baseline)."""
        from .tasks import learned_at_all

        baseline = self.baselines.get((task, upsampler))
        if not baseline:
            return None
        names = list(self.values[(task, upsampler)])
        rows = zip(*[self.values[(task, upsampler)][m] for m in names])
        base_rows = zip(*[baseline[m] for m in names if m in baseline])
        base_names = [m for m in names if m in baseline]
        return all(learned_at_all(task, dict(zip(names, row)), dict(zip(base_names, base)))
                   for row, base in zip(rows, base_rows))

    def ranking(self, task: str, metric: str | None = None) -> list[str]:
        """Upsamplers from best to worst by the mean of ``metric`` (default: the task's primary one).

        An order of means, not a finding: read it with :meth:`contrast`, which says whether a
        difference clears the decision rule of :mod:`indexnet_edu.experiments.stats`.
        """
        metric = metric or TASK_TABLE[task].primary_metric
        sign = -1.0 if HIGHER_IS_BETTER.get(metric, True) else 1.0
        return sorted(self.upsamplers(task), key=lambda u: sign * self.mean_std(task, u, metric)[0])

    def contrast(self, task: str, arm: str, reference: str = "bilinear", metric: str | None = None):
        """arm − reference paired over their common seeds: a :class:`~indexnet_edu.experiments.stats.PairedContrast`."""
        from .stats import paired_contrast

        metric = metric or TASK_TABLE[task].primary_metric
        for name in (arm, reference):
            if (task, name) not in self.values:
                raise ValueError(f"no results for {task}/{name}; have {self.upsamplers(task)}")
        a, b = self.per_seed(task, arm, metric), self.per_seed(task, reference, metric)
        seeds = sorted(set(a) & set(b))
        if not seeds:
            raise ValueError(f"{task}/{arm} and {task}/{reference} share no seed")
        # A seed fixes the initial weights and batches, not the floating-point order of another
        # processor's kernels: the same seed trained on another CPU differs by a few per cent, as
        # much as seeds do. Runs of different machines are not paired.
        models = [dict(zip(self.seeds[(task, name)], self.machines.get((task, name), []))) for name in (arm, reference)]
        unpaired = [s for s in seeds if models[0].get(s) and models[1].get(s) and models[0][s] != models[1][s]]
        if unpaired:
            s = unpaired[0]
            raise ValueError(f"{task}/{arm} and {task}/{reference} seed {s} were trained on different machines "
                             f"({models[0][s]} vs {models[1][s]}): not a paired comparison; rerun both on one machine")
        # Noise around the trivial solution only when *neither* arm learned: "one learned, the other
        # did not" is a real difference (the table's learned column says which).
        learned = [self.learned(task, arm), self.learned(task, reference)]
        return paired_contrast([a[s] for s in seeds], [b[s] for s in seeds], HIGHER_IS_BETTER.get(metric, True),
                               task=task, metric=metric, arm=arm, reference=reference, seeds=seeds,
                               learned=any(flag is not False for flag in learned))

    def contrasts(self, task: str, reference: str = "bilinear", metrics=None) -> list:
        """Every other arm − ``reference`` on each of ``metrics`` (default: the primary metric)."""
        metrics = metrics or [TASK_TABLE[task].primary_metric]
        return [self.contrast(task, arm, reference, metric) for metric in metrics
                for arm in self.upsamplers(task) if arm != reference]

    def markdown(self, task: str, digits: int = 4) -> str:
        """A markdown table: one row per upsampler (in the order loaded), ``mean ± sample std`` and n per
        metric, whether every seed passed the learned-at-all gate, and the trivial baseline's row."""
        metrics = self.metrics(task)
        arrows = [f"{m} {'↑' if HIGHER_IS_BETTER.get(m, True) else '↓'}" for m in metrics]
        lines = ["| upsampler | n | learned | " + " | ".join(arrows) + " |", "|---|---|---|" + "---|" * len(metrics)]
        for upsampler in self.upsamplers(task):
            cells = []
            for metric in metrics:
                mean, std = self.mean_std(task, upsampler, metric)
                cells.append(f"{mean:.{digits}g} ± {std:.2g}" if np.isfinite(std) else f"{mean:.{digits}g} (n=1)")
            learned = {True: "yes", False: "NO", None: "?"}[self.learned(task, upsampler)]
            lines.append(f"| {upsampler} | {len(self.seeds[(task, upsampler)])} | {learned} | " + " | ".join(cells) + " |")
        base = [self.baseline(task, m) for m in metrics]
        if any(v is not None for v in base):
            cells = [f"{v:.{digits}g}" if v is not None else "—" for v in base]
            lines.append("| *trivial baseline* | | | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def __len__(self):
        return len(self.values)


def machine_model(results: dict) -> str | None:
    """The processor a results file's run trained on: its GPU's name, else its CPU model (None if
    not recorded). Runs of one seed pair only when this agrees."""
    machine = results.get("machine") or {}
    return machine.get("gpu") or machine.get("cpu_model")


def load_results(directory, preset: str | None = None, tasks=None, upsamplers=None, seeds=None) -> ResultsTable:
    """Collect ``directory/<task>/<upsampler>/seed<k>.json`` files (optionally of one preset,
    some tasks, upsamplers, seeds), seeds ascending.

    Raises ValueError when two seeds of one (task, upsampler) were made with different
    settings (other than the seed): a table never mixes them.
    """
    table = ResultsTable()
    directory = Path(directory)
    settings = {}
    rows = []
    for path in sorted(directory.glob("*/*/seed*.json")):
        results = json.loads(path.read_text())
        task, upsampler = results["task"], results["upsampler"]
        if (preset and results.get("preset") != preset) or (tasks and task not in tasks) or \
                (upsamplers and upsampler not in upsamplers) or (seeds is not None and results["seed"] not in seeds):
            continue
        setting = {k: v for k, v in results.get("config", {}).items() if k != "seed"}
        first = settings.setdefault((task, upsampler), (path, setting))
        if first[1] != setting:
            differing = sorted(k for k in set(setting) | set(first[1]) if setting.get(k) != first[1].get(k))
            raise ValueError(f"{path} and {first[0]} were made with different settings ({', '.join(differing)}); "
                             "results of different settings are never averaged — move one of them away")
        rows.append((task, upsampler, int(results["seed"]), results))
    known = available_upsamplers()
    order = {name: i for i, name in enumerate(upsamplers or known)}
    rows.sort(key=lambda r: (r[0], order.get(r[1], len(order)), r[1], r[2]))  # the caller's / registry order
    for task, upsampler, seed, results in rows:
        metric_values = table.values.setdefault((task, upsampler), {})
        for metric, value in results["metrics"].items():
            metric_values.setdefault(metric, []).append(float(value))
        for metric, value in results.get("baseline", {}).items():
            table.baselines.setdefault((task, upsampler), {}).setdefault(metric, []).append(float(value))
        table.seeds.setdefault((task, upsampler), []).append(seed)
        table.machines.setdefault((task, upsampler), []).append(machine_model(results))
    return table


def strip_plot(table: ResultsTable, task: str, metric: str | None = None, ax=None, label: str = ""):
    """Every seed of every upsampler as a dot, the mean ± sample std as an error bar, and the trivial
    baseline as a dashed line (matplotlib object API: no global state is touched).

    Returns the Axes (a new Figure's when ``ax`` is None).
    """
    from matplotlib.figure import Figure

    from ..figure_sizes import FIGURE_WIDTH_IN, MIN_FONT_PT

    metric = metric or TASK_TABLE[task].primary_metric
    names = table.upsamplers(task)
    if ax is None:
        ax = Figure(figsize=(min(FIGURE_WIDTH_IN, max(4, 0.5 * len(names) + 1.5)), 3.4)).subplots()
    for i, name in enumerate(names):
        values = np.asarray(table.values[(task, name)][metric])
        offsets = np.linspace(-0.15, 0.15, len(values)) if len(values) > 1 else np.zeros(1)
        ax.scatter(i + offsets, values, s=12, color="tab:blue", alpha=0.7, zorder=3)
        mean, std = table.mean_std(task, name, metric)
        ax.errorbar(i + 0.3, mean, yerr=std if np.isfinite(std) else None, fmt="o", color="black", ms=4,
                    capsize=3, zorder=4)
    baseline = table.baseline(task, metric)
    if baseline is not None:
        ax.axhline(baseline, color="tab:red", linestyle="--", linewidth=1, label="trivial baseline")
        above = all(baseline >= v for name in names for v in table.values[(task, name)][metric])
        ax.annotate("trivial baseline", (1, baseline), xycoords=("axes fraction", "data"), color="tab:red",
                    xytext=(-3, -3 if above else 3), textcoords="offset points", ha="right",
                    va="top" if above else "bottom", fontsize=MIN_FONT_PT)  # on its line, not over the dots
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=MIN_FONT_PT)
    direction = "higher" if HIGHER_IS_BETTER.get(metric, True) else "lower"
    ax.set_ylabel(f"{metric} ({direction} is better)")
    seeds = max((len(table.seeds[(task, n)]) for n in names), default=0)
    ax.set_title(f"{task}{' — ' + label if label else ''}\nevery seed (dots), mean ± sd (bars), n ≤ {seeds}",
                 fontsize=MIN_FONT_PT)
    ax.figure.tight_layout()
    return ax


def _gate_text() -> str:
    gates = {task.kind: task.gate for task in TASK_TABLE.values()}  # one gate per kind of task
    parts = []
    for kind, (metric, rule, margin) in gates.items():
        parts.append(f"{kind} {metric} {'≥ baseline +' if rule == 'plus' else ('≤' if not HIGHER_IS_BETTER[metric] else '≥')}"
                     f" {margin:g}{(' dB' if metric == 'psnr' else '') if rule == 'plus' else ' × baseline'}")
    return "; ".join(parts)


def report_text(table: ResultsTable, reference: str = "bilinear") -> str:
    """Markdown: per task the arm table, then the paired contrasts against ``reference``."""
    from .stats import SD_BAR, contrasts_markdown

    sections = ["Decision rule: a difference is a *finding* only when all n ≥ 5 paired differences have the "
                f"same sign and |mean d| > {SD_BAR:g}·SD(d); otherwise *no detectable difference*. "
                "Std is the sample std (ddof = 1) over seeds. *learned*: every seed beats the trivial baseline "
                f"by the gate's margin ({_gate_text()}).\n"]
    for task in table.tasks():
        sections.append(f"## {task}\n\n{table.markdown(task)}\n")
        if (task, reference) in table.values and len(table.upsamplers(task)) > 1:
            metrics = [TASK_TABLE[task].primary_metric] + (["grad"] if "grad" in table.metrics(task) else [])
            try:
                contrasts = contrasts_markdown(table.contrasts(task, reference, metrics), per_seed=True)
            except ValueError as error:  # runs from different machines: say so instead of pairing them
                contrasts = f"No paired contrasts: {error}."
            sections.append(f"Paired contrasts against {reference}:\n\n{contrasts}\n")
    return "\n".join(sections)


def report_paths(table: ResultsTable, out) -> list[Path]:
    """The files :func:`render_report` writes for ``table``: ``out/summary.md``, then one
    ``out/<task>_<metric>.png`` per task and metric."""
    out = Path(out)
    plots = [out / f"{task}_{metric}.png" for task in table.tasks() for metric in table.metrics(task)]
    return [out / "summary.md"] + plots


def render_report(table: ResultsTable, out) -> list[Path]:
    """Write ``out/summary.md`` (arm tables and paired contrasts) and ``out/<task>_<metric>.png``
    strip plots, each atomically; returns :func:`report_paths`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = report_paths(table, out)
    plots = iter(paths[1:])
    for task in table.tasks():
        for metric in table.metrics(task):
            ax = strip_plot(table, task, metric)  # a matplotlib Figure outside pyplot: no backend change
            _save_figure_atomically(ax.figure, next(plots))
    remove_stale_temporaries(paths[0])
    atomic_write_text("# Sweep results\n\n" + report_text(table) + "\n", paths[0])
    return paths


def _save_figure_atomically(figure, path: Path) -> None:
    """``figure.savefig(path)`` through a temp file renamed into place: a reader (or a sweep
    stopped mid-write) never leaves half a PNG."""
    remove_stale_temporaries(path)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            figure.savefig(handle, dpi=100, format="png")
        os.chmod(handle.name, 0o666 & ~current_umask())
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
