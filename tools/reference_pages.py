"""The book's reference pages, completed from the project's own files at build time.

A page in ``docs/book/reference/`` is prose plus marker lines such as
``<!-- generated: results laptop -->``; :func:`render_page` replaces each marker with Markdown
made from what the marker names, so no table in the book is copied by hand:

==============================  =================================================================
marker                          what it becomes
==============================  =================================================================
``layout``                      the package's folders and modules, each with its docstring's
                                first sentence (read with ``ast``, nothing imported)
``upsamplers``                  the upsampler registry: name, kernel source, options, description
``tasks``                       the Task table of :mod:`indexnet_edu.experiments.tasks`
``presets``                     the training presets (:mod:`indexnet_edu.experiments.config`)
``results SET``                 ``results/SET``: per task the arm table and the paired contrasts
                                against bilinear, read from the results files as lessons read them
``results-plots SET``           the strip plots of ``results/SET`` (each task's primary metric)
``bench FILE``                  ``benchmarks/results/FILE`` as ``python -m indexnet_edu.bench`` prints it
``throughput``                  ``benchmarks/results/laptop_throughput.json``: images/s per case
``compile``                     ``benchmarks/results/compile_vs_eager.json``: compiled vs eager
``tests``                       the test folders and each test file's docstring first sentence
==============================  =================================================================

An unknown marker, or a marker naming a file that is not there, is an error: a page never
builds with a hole in it. A block between ``<!-- source-only -->`` and ``<!-- /source-only -->``
is for readers of the page's source (where the markers are invisible comments) and is dropped
from the book.
"""
from __future__ import annotations

import ast
import json
import re
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

MARKER = re.compile(r"^<!-- generated: ([\w-]+)(?: ([\w.-]+))? -->$", re.M)
SOURCE_ONLY = re.compile(r"^<!-- source-only -->\n.*?^<!-- /source-only -->\n?", re.M | re.S)
#: The package's folders in layer order (see indexnet_edu/__init__.py; tests/project/test_layers.py checks it).
PACKAGE_FOLDERS = ("ops", "upsamplers", "data", "models", "widgets", "released", "bench", "experiments", "gpu_programme",
                   "lessons")


ROLE = re.compile(r":(?:func|mod|class|data|meth|attr):`~?\.?([^`]+)`")


def first_sentence(docstring: str | None) -> str:
    """The first sentence of a docstring's first paragraph, on one line, its reST markup turned
    into Markdown (``"" for none``)."""
    if not docstring:
        return ""
    paragraph = " ".join(docstring.strip().split("\n\n")[0].split())
    match = re.match(r"(.+?\.)(\s|$)", paragraph)
    sentence = match.group(1) if match else paragraph
    return ROLE.sub(r"`\1`", sentence).replace("``", "`")


def _docstring(path: Path) -> str | None:
    return ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def layout_markdown(package: Path = REPO / "indexnet_edu") -> str:
    """Every folder of the package (in layer order) and its modules with their first sentence."""
    lines = []
    top = sorted(p for p in package.glob("*.py") if p.name != "__init__.py")
    lines.append(f"**`indexnet_edu/`** — {first_sentence(_docstring(package / '__init__.py'))}\n")
    lines += [f"- `{p.name}` — {first_sentence(_docstring(p))}" for p in top]
    for folder in PACKAGE_FOLDERS:
        root = package / folder
        lines.append(f"\n**`{folder}/`** — {first_sentence(_docstring(root / '__init__.py'))}\n")
        for path in sorted(root.rglob("*.py")):
            if path.name == "__init__.py" and path.parent == root:
                continue
            name = path.relative_to(root).as_posix()
            lines.append(f"- `{name}` — {first_sentence(_docstring(path))}")
    return "\n".join(lines)


def upsamplers_markdown() -> str:
    from indexnet_edu.upsamplers.registry import available_upsamplers, upsampler_spec

    rows = ["| name | kernels from | shared | options | what it is |", "|---|---|---|---|---|"]
    for name in available_upsamplers():
        spec = upsampler_spec(name)
        options = ", ".join(f"{key}={value}" for key, value in spec.options.items()) or "—"
        rows.append(f"| `{name}` | {spec.kernel_source} | {spec.share or '—'} | {_cell(options)} | "
                    f"{_cell(spec.description)} |")
    return "\n".join(rows)


def tasks_markdown() -> str:
    from indexnet_edu.experiments.tasks import HIGHER_IS_BETTER, TASK_TABLE

    rows = ["| task | data | kind | skips | classes | ranked by | learned at all | laptop steps |",
            "|---|---|---|---|---|---|---|---|"]
    for task in TASK_TABLE.values():
        metric, rule, margin = task.gate
        better = "≥" if HIGHER_IS_BETTER[metric] else "≤"
        gate = f"{metric} ≥ base + {margin:g}" if rule == "plus" else f"{metric} {better} {margin:g}× base"
        rows.append(f"| `{task.name}` | {task.data} | {task.kind} | {'yes' if task.skips else 'no'} | "
                    f"{task.classes or '—'} | {task.primary_metric} | {gate} | {task.laptop_steps or 'preset'} |")
    return "\n".join(rows)


def presets_markdown() -> str:
    """One row per TrainConfig field, one column per preset; what a preset changes is bold."""
    from indexnet_edu.experiments.config import PRESETS, preset_values

    values = {preset: preset_values(preset) for preset in PRESETS}
    rows = ["| field | " + " | ".join(f"`{preset}`" for preset in PRESETS) + " |", "|---|" + "---|" * len(PRESETS)]
    for field in values["quick"]:
        cells = [f"**{values[p][field]}**" if field in PRESETS[p] else str(values[p][field]) for p in PRESETS]
        rows.append(f"| `{field}` | " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(rows) + "\n\nBold: what the preset changes; the rest are `TrainConfig`'s defaults."


def results_markdown(name: str, root: Path = REPO / "results") -> str:
    """Per task of the result set: the arm table and the paired contrasts against bilinear."""
    from indexnet_edu.experiments.results import load_results
    from indexnet_edu.experiments.stats import contrasts_markdown
    from indexnet_edu.experiments.tasks import TASK_TABLE

    folder = root / name
    if not folder.is_dir():
        raise FileNotFoundError(f"no result set {folder}")
    table = load_results(folder)
    parts = []
    for task in table.tasks():
        parts.append(f"#### {task}\n\n{table.markdown(task)}\n")
        if "bilinear" in table.upsamplers(task):
            metrics = [TASK_TABLE[task].primary_metric] + (["grad"] if "grad" in table.metrics(task) else [])
            parts.append("Paired contrasts against bilinear:\n\n"
                         + contrasts_markdown(table.contrasts(task, "bilinear", metrics)) + "\n")
    return "\n".join(parts)


def results_plots(name: str, images: Path | None, root: Path = REPO / "results") -> str:
    """Markdown images of each task's primary-metric strip plot (copied into ``images``)."""
    from indexnet_edu.experiments.tasks import TASK_TABLE

    lines = []
    for task in TASK_TABLE.values():
        plot = root / name / f"{task.name}_{task.primary_metric}.png"
        if not plot.exists():
            continue
        if images is not None:
            images.mkdir(parents=True, exist_ok=True)
            shutil.copy2(plot, images / f"{name}_{plot.name}")
        lines.append(f"![{task.name}, {task.primary_metric}, every seed a dot (results/{name})]"
                     f"(images/{name}_{plot.name})")
    if not lines:
        raise FileNotFoundError(f"no strip plots in {root / name}")
    return "\n\n".join(lines)


def bench_markdown(file: str) -> str:
    from indexnet_edu.bench.report import render

    results = json.loads((REPO / "benchmarks" / "results" / file).read_text())
    return f"`benchmarks/results/{file}`:\n\n```text\n{render(results)}\n```"


def throughput_markdown(file: str = "laptop_throughput.json") -> str:
    data = json.loads((REPO / "benchmarks" / "results" / file).read_text())
    machine = data["machine"]
    rows = [f"`benchmarks/results/{file}` ({machine['cpu_model']}, {machine['logical_cpus']} logical CPUs, "
            f"torch {machine['torch']}, load average {machine.get('load_average_1min', '?')}; median of the "
            "interleaved rounds):", "",
            "| task | upsampler | threads | jobs | channels-last | loader only | images/s per job | total |",
            "|---|---|---|---|---|---|---|---|"]
    for row in data["rows"]:
        total = row.get("total_images_per_s")
        rows.append(f"| {row['task']} | {row['upsampler']} | {row['threads']} | {row['jobs']} | "
                    f"{'yes' if row['channels_last'] else 'no'} | {'yes' if row['loader_only'] else 'no'} | "
                    f"{row['images_per_s']:,.0f} | {'' if total is None else f'{total:,.0f}'} |")
    return "\n".join(rows)


def compile_markdown(file: str = "compile_vs_eager.json") -> str:
    data = json.loads((REPO / "benchmarks" / "results" / file).read_text())
    rows = [f"`benchmarks/results/{file}` (input {data['input']}, {data['device']}, torch {data['torch']}, "
            f"{data['threads']} threads):", "",
            "| upsampler | eager fwd ms | compiled fwd ms | speed-up | eager train step ms | compiled | speed-up |",
            "|---|---|---|---|---|---|---|"]
    for name, r in data["results"].items():
        rows.append(f"| {name} | {r['eager_forward_ms']:.2f} | {r['compiled_forward_ms']:.2f} | "
                    f"{r['forward_speedup']:.2f}× | {r['eager_train_step_ms']:.2f} | {r['compiled_train_step_ms']:.2f} | "
                    f"{r['train_step_speedup']:.2f}× |")
    return "\n".join(rows)


def tests_markdown(tests: Path = REPO / "tests") -> str:
    lines = []
    for folder in sorted(p for p in tests.iterdir() if p.is_dir() and list(p.glob("test_*.py"))):
        lines.append(f"\n**`tests/{folder.name}/`**\n")
        lines += [f"- `{path.name}` — {first_sentence(_docstring(path))}" for path in sorted(folder.glob("test_*.py"))]
    return "\n".join(lines).strip()


def generate(kind: str, argument: str | None, images: Path | None = None) -> str:
    """The Markdown a marker stands for. Raises ValueError for an unknown marker."""
    makers = {
        "layout": lambda: layout_markdown(), "upsamplers": lambda: upsamplers_markdown(),
        "tasks": lambda: tasks_markdown(), "presets": lambda: presets_markdown(),
        "results": lambda: results_markdown(argument), "results-plots": lambda: results_plots(argument, images),
        "bench": lambda: bench_markdown(argument), "throughput": lambda: throughput_markdown(),
        "compile": lambda: compile_markdown(), "tests": lambda: tests_markdown(),
    }
    if kind not in makers:
        raise ValueError(f"unknown marker 'generated: {kind}'; expected one of {', '.join(makers)}")
    if kind in ("results", "results-plots", "bench") and not argument:
        raise ValueError(f"the marker 'generated: {kind}' needs an argument (a result set or a file)")
    return makers[kind]()


def render_page(text: str, images: Path | None = None) -> str:
    """``text`` with every marker line replaced by what it names, and its source-only notes dropped."""
    return MARKER.sub(lambda m: generate(m.group(1), m.group(2), images), SOURCE_ONLY.sub("", text))


def render_folder(source: Path, target: Path) -> list[Path]:
    """Render every page of ``source`` into ``target`` (plots into ``target/images``)."""
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for page in sorted(source.glob("*.md")):
        out = target / page.name
        out.write_text(render_page(page.read_text(encoding="utf-8"), target / "images"), encoding="utf-8")
        written.append(out)
    return written
