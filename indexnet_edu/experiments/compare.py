"""Bring your own upsampler: one call trains it beside the shipped arms and says what the seeds show.

>>> result = compare_upsampler(MyUpsampler, name="mine", tasks=["reconstruction"], preset="laptop")
>>> result                       # in a notebook: verdicts, contrasts, cost, where the files are
>>> result.strip_plot("reconstruction")

``MyUpsampler(channels, stride)`` returns a module whose ``forward(y)`` (or ``forward(y, x)``,
x the encoder feature) upsamples a B×C×h×w map by ``stride``
(:mod:`indexnet_edu.upsamplers.custom` has the contract, checked before anything trains).

**Pairing.** Within a seed every arm of the light model starts from the same shared weights and
sees the same batches (:mod:`indexnet_edu.models.light`), so the per-seed difference between two
arms removes the seed's own luck. That holds only for runs made with one preset, one torch, one
kind of processor and one thread count: on another CPU, or with two threads instead of one, the
same seed trains a few per cent differently (bilinear reconstruction, laptop preset, seed 0:
15.53 dB at 1 thread, 15.69 dB at 2, on the same AMD EPYC). So every run here trains with
:data:`TRAIN_THREADS` thread, as the shipped sweeps did, and each reference arm is read from the
shipped results when they were made under those same conditions (then ONLY your arm trains),
and trained here, on the same seeds, when they were not (another preset or ``steps``, another
processor or torch). The returned :class:`Comparison` says which for every reference.

The contrasts use the suite's decision rule (:mod:`indexnet_edu.experiments.stats`): a *finding* needs all
n ≥ 5 paired differences of one sign and |mean d| > 3·SD(d); anything else is "no detectable
difference". Everything is written atomically into ``out``; a stopped call resumes where it
stopped when called again (finished runs are kept, an interrupted one continues from its
checkpoint), and a folder holding another module's runs under the same name is refused.
"""
from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .._checks import check_flag
from ..bench.cost import CostRow, cost_table
from ..bench.machine import cpu_model
from ..cache import display_path
from ..checkpoint import atomic_write_json, atomic_write_text
from ..shipped_files import RESULT_SETS, shipped_root
from ..upsamplers.custom import CustomResampler, as_resampler, check_upsampler, module_fingerprint
from ..upsamplers.registry import available_upsamplers, registered_upsampler
from .config import PRESETS, config_differences, make_config
from .results import ResultsTable, _save_figure_atomically, load_results, machine_model, result_path, strip_plot
from .sweep import _check_names, run_sweep
from .tasks import task_spec

#: Tasks compared by default: the three every shipped result set holds.
DEFAULT_TASKS = ("reconstruction", "texture_regions", "matting_noskip")
#: The shipped sweeps' paired seeds.
DEFAULT_SEEDS = (0, 1, 2, 3, 4)
#: CPU threads per training run: the shipped sweeps ran each job on one thread (two jobs on two cores).
TRAIN_THREADS = 1
#: The shipped results are of this preset; only it can pair with them.
SHIPPED_PRESET = "laptop"
MANIFEST = "upsamplers.json"
COST_CHANNELS, COST_SIZE = 64, 64


@dataclass
class Comparison:
    """What :func:`compare_upsampler` found.

    ``table``: per-seed results of the new arm and its references; ``contrasts``: new arm −
    reference per task and metric (:class:`~indexnet_edu.experiments.stats.PairedContrast`); ``costs``: one
    stage at 64 channels, 64×64 → its cost row and forward milliseconds measured here;
    ``reference_sources``: ``{(task, arm): "shipped: <set> (<machine>)" or "trained here"}``;
    ``files``: what was written in ``out``.
    """

    name: str
    preset: str
    table: ResultsTable
    contrasts: list
    costs: list
    forward_ms: dict
    reference_sources: dict
    out: Path
    files: list = field(default_factory=list)

    def contrast(self, task: str, reference: str = "bilinear", metric: str | None = None):
        """The new arm − ``reference`` contrast on ``task`` (default metric: the task's primary one)."""
        metric = metric or task_spec(task).primary_metric
        for c in self.contrasts:
            if (c.task, c.reference, c.metric) == (task, reference, metric):
                return c
        have = sorted({(c.task, c.reference, c.metric) for c in self.contrasts})
        raise ValueError(f"no contrast of {self.name} with {reference} on {task}/{metric}; have {have}")

    def strip_plot(self, task: str, metric: str | None = None, ax=None):
        """Every seed of every arm on ``task`` (dots), mean ± sd (bars); the new arm's label in bold."""
        ax = strip_plot(self.table, task, metric, ax=ax, label=f"{self.name} vs references")
        for label in ax.get_xticklabels():
            if label.get_text() == self.name:
                label.set_fontweight("bold")
        return ax

    def markdown(self) -> str:
        """The verdicts, the contrasts table, the arm tables, the cost and the provenance, as markdown."""
        from .stats import SD_BAR, contrasts_markdown

        lines = [f"## {self.name}: {self.preset} preset, seeds {_seed_list(self.table)}", "",
                 f"Decision rule: a *finding* needs all n ≥ 5 paired differences of one sign and "
                 f"|mean d| > {SD_BAR:g}·SD(d); otherwise *no detectable difference*.", ""]
        lines += [f"- {c.sentence()}" for c in self.contrasts]
        lines += ["", contrasts_markdown(self.contrasts), ""]
        for task in self.table.tasks():
            lines += [f"### {task}", "", self.table.markdown(task), ""]
        lines += [f"### Cost of one stage ({COST_CHANNELS} channels, {COST_SIZE}×{COST_SIZE} ↔ "
                  f"{COST_SIZE // 2}×{COST_SIZE // 2}; forward measured here, median)", "",
                  "| upsampler | parameters | down + up MFLOPs | forward ms |", "|---|---|---|---|"]
        lines += [f"| {row.name} | {row.parameters:,} | {row.total_flops / 1e6:.2f} | {self.forward_ms[row.name]:.2f} |"
                  for row in self.costs]
        lines += ["", "References: " + "; ".join(f"{task}/{arm} {source}"
                                                  for (task, arm), source in self.reference_sources.items()),
                  "", f"Files in `{display_path(self.out)}`: " + ", ".join(p.name for p in self.files)]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.markdown()


def _seed_list(table: ResultsTable) -> str:
    seeds = sorted({s for values in table.seeds.values() for s in values})
    return ", ".join(map(str, seeds))


_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")


def _check_arguments(factory, name, tasks, preset, seeds, against):

    if not callable(factory):
        raise TypeError(f"upsampler must be a class or function called as upsampler(channels, stride), got "
                        f"{type(factory).__name__}")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"name must be lower-case letters, digits and _ (it names folders), got {name!r}")
    if name in available_upsamplers():
        raise ValueError(f"{name!r} is already an upsampler of the suite; give yours a name of its own")
    if isinstance(tasks, str) or isinstance(against, str):
        raise TypeError("tasks and against are lists of names, e.g. tasks=['reconstruction']")
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {tuple(PRESETS)}, got {preset!r}")
    tasks, against, seeds = list(tasks), list(dict.fromkeys(["bilinear", *against])), list(seeds)
    _check_names(tasks, against, seeds)  # unknown task or arm, bad seed: ValueError naming it
    return tasks, against, [int(s) for s in seeds]


def _pairing_key(results: dict) -> tuple:
    machine = results.get("machine") or {}
    return machine.get("device"), machine_model(results), results.get("torch"), machine.get("torch_threads")


def _here_key() -> tuple:
    if torch.cuda.is_available():  # training runs on the GPU: no shipped CPU result pairs with it
        return ("cuda", torch.cuda.get_device_name(0), torch.__version__, TRAIN_THREADS)
    return ("cpu", cpu_model(), torch.__version__, TRAIN_THREADS)


def _shipped_reference(task: str, arm: str, seeds, preset: str, steps) -> tuple[str, list] | None:
    """(set name, per-seed results) of a shipped set that pairs with runs made here, or None."""

    if preset != SHIPPED_PRESET or steps is not None:
        return None
    here = _here_key()
    for folder in RESULT_SETS:
        records = []
        for seed in seeds:
            path = result_path(shipped_root() / folder, task, arm, seed)
            if not path.exists():
                break
            results = json.loads(path.read_text())
            if config_differences(results["config"], make_config(task, arm, preset, seed)) or \
                    _pairing_key(results) != here:
                break
            records.append(results)
        else:
            return folder, records
    return None


@contextlib.contextmanager
def _threads(count: int):
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _check_manifest(out: Path, manifest: dict) -> None:
    """Record which module trained under ``manifest["name"]`` in ``out`` (``out/upsamplers.json``,
    one entry per name); refuse a different module under a name already recorded."""
    path = out / MANIFEST
    entries = json.loads(path.read_text()) if path.exists() else {}
    stored = entries.get(manifest["name"])
    if stored and stored.get("fingerprint") != manifest["fingerprint"]:
        raise ValueError(f"{out} holds runs of another module called {manifest['name']!r} ({path}: "
                         f"{stored.get('factory')}, fingerprint {stored.get('fingerprint')}, not "
                         f"{manifest['fingerprint']}); use a fresh out= or another name")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(entries | {manifest["name"]: manifest}, path)


def _measure_costs(names) -> tuple[list[CostRow], dict]:
    from ..bench.measure import median_times
    from ..upsamplers.registry import create_upsampler

    rows = cost_table(COST_CHANNELS, COST_SIZE, names=names)
    x = torch.randn(1, COST_CHANNELS, COST_SIZE, COST_SIZE, generator=torch.Generator().manual_seed(0))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        stages = {name: create_upsampler(name, COST_CHANNELS).eval() for name in names}

    def forward(stage):
        def run():
            with torch.no_grad():
                stage.up(*stage.down(x))
        return run
    seconds = median_times({name: forward(stage) for name, stage in stages.items()}, repeats=7, warmup=2)
    return rows, {name: 1000 * s for name, s in seconds.items()}


def compare_upsampler(upsampler, name: str, tasks=DEFAULT_TASKS, preset: str = "laptop", seeds=DEFAULT_SEEDS,
                      against=(), out=None, steps: int | None = None, progress: bool = True) -> Comparison:
    """Train ``upsampler`` as the light model's upsampler on ``tasks`` and compare it, seed by seed,
    with bilinear and the arms named in ``against``.

    Args:
        upsampler: ``upsampler(channels, stride)`` → ``nn.Module`` (``forward(y)`` or ``forward(y, x)``,
            B×C×h×w → B×C×s·h×s·w), or a :class:`~indexnet_edu.upsamplers.resamplers.Resampler` subclass.
        name: your arm's name (lower case, digits, ``_``; not a name the suite already has).
        tasks: some of :data:`~indexnet_edu.experiments.tasks.TASKS` (default: the three every shipped set holds).
        preset: ``"laptop"`` pairs with the shipped results (seconds per run on a laptop CPU);
            ``"quick"`` (a smaller test set) and ``"full"`` train the references here too.
        seeds: paired seeds (default the shipped five; a finding needs n ≥ 5).
        against: shipped arms to compare with besides bilinear, e.g. ``["carafe", "fade"]``.
        out: the folder written (default ``compare_<name>`` in the working directory).
        steps: training steps per run instead of the preset's (then nothing pairs with shipped runs).

    Returns a :class:`Comparison`; ``out`` holds the per-seed results, ``comparison.md`` and one
    strip plot per task and metric (``<task>_<metric>.png``), each written atomically.

    Raises:
        TypeError / :class:`~indexnet_edu.upsamplers.custom.UpsamplerContractError` (a ValueError):
            the module breaks the contract — before anything trains.
        ValueError: a taken or malformed ``name``, unknown tasks, arms or preset, bad seeds, or
            ``out`` holding another module's runs under this name.
        :class:`~indexnet_edu.experiments.sweep.SweepInterrupted`: Ctrl-C; the same call resumes.
    """

    tasks, against, seeds = _check_arguments(upsampler, name, tasks, preset, seeds, against)
    progress = check_flag(progress, "progress")
    out = Path(out) if out is not None else Path(f"compare_{name}")
    widths = make_config(tasks[0], "bilinear", preset, steps=steps).widths
    check_upsampler(upsampler, channels=widths)
    build = as_resampler(upsampler)
    with torch.random.fork_rng(devices=[]):  # the caller's RNG is not ours to advance
        probe = build(widths[0], 2)
    reads_encoder = isinstance(probe, CustomResampler) and probe.reads_encoder
    kernel_source = "encoder+decoder" if reads_encoder else "decoder"
    factory_name = f"{getattr(upsampler, '__module__', '?')}.{getattr(upsampler, '__qualname__', repr(upsampler))}"
    manifest = {"name": name, "factory": factory_name, "fingerprint": module_fingerprint(upsampler),
                "preset": preset, "steps": steps, "threads": TRAIN_THREADS}
    _check_manifest(out, manifest)

    sources, to_train = {}, {}
    for task in tasks:
        for arm in against:
            shipped = _shipped_reference(task, arm, seeds, preset, steps)
            if shipped is None:
                sources[task, arm] = "trained here"
                to_train.setdefault(task, []).append(arm)
                continue
            folder, records = shipped
            sources[task, arm] = f"shipped: {folder} ({_pairing_key(records[0])[1]})"
            for results in records:
                target = result_path(out, task, arm, results["seed"])
                if not target.exists():
                    atomic_write_json(results, target)

    device_threads = _threads(TRAIN_THREADS) if not torch.cuda.is_available() else contextlib.nullcontext()
    with registered_upsampler(name, build, f"{name} ({factory_name})", kernel_source), device_threads:
        groups: dict[tuple, list] = {}
        for task in tasks:
            groups.setdefault(tuple(to_train.get(task, [])), []).append(task)
        for references, group in groups.items():
            run_sweep(group, [name, *references], seeds, preset, out, steps=steps, in_process=True,
                      progress=progress)
        table = load_results(out, preset=preset, tasks=tasks, upsamplers=[name, *against], seeds=seeds)
        contrasts = []
        for task in tasks:
            metrics = [task_spec(task).primary_metric] + (["grad"] if "grad" in table.metrics(task) else [])
            contrasts += [table.contrast(task, name, arm, metric) for arm in against for metric in metrics]
        costs, forward_ms = _measure_costs([name, *against])

    comparison = Comparison(name, preset, table, contrasts, costs, forward_ms, sources, out)
    for task in tasks:
        for metric in table.metrics(task):
            path = out / f"{task}_{metric}.png"
            _save_figure_atomically(comparison.strip_plot(task, metric).figure, path)
            comparison.files.append(path)
    comparison.files.insert(0, out / "comparison.md")
    atomic_write_text(comparison.markdown() + "\n", out / "comparison.md")
    return comparison
