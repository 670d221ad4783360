"""Where the data that ships inside the package lives: the one place that says so.

Lessons read three kinds of shipped data, all inside the installed package (so they work from
a wheel, on Colab and Binder, and for a lesson downloaded alone), found with
``importlib.resources``:

* ``laptop/<task>/<upsampler>/seed<k>.json`` — the laptop-preset comparison (5 paired seeds);
* ``laptop_successors/<task>/<upsampler>/seed<k>.json`` — the successors (A2U, FADE, SAPA and
  their variants) with the arms they are compared with, the same preset and seeds, all run on one
  machine (a paired comparison needs one: the same seed trains a few per cent differently on
  another CPU);
* ``laptop/checkpoints/<task>/<upsampler>/seed<k>/checkpoint.pt`` — a few trained models;
* ``benchmarks/<name>.json`` — the committed benchmark run lesson 08 plots.

In a checkout, ``results/laptop/`` and ``results/laptop_successors/`` (what the sweep writes) and ``benchmarks/results/`` (what
``python -m indexnet_edu.bench`` writes) stay the sources; :data:`REFRESH_COMMAND` copies them
here, and a test checks the two agree. Images come from scikit-image's own bundled data.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

#: The package folder holding the shipped data.
DATA_FOLDER = "_shipped"
#: Copies the checkout's results/laptop and benchmarks/results into the package.
REFRESH_COMMAND = "python tools/refresh_shipped_data.py"
#: Makes the laptop results (then refresh): the command the shipped folder's README records.
SWEEP_COMMAND = "python -m indexnet_edu.experiments.sweep --preset laptop --jobs 2 --out results/laptop"
#: The result sets that ship: folder name under ``results/`` and under the package's data folder.
RESULT_SETS = ("laptop", "laptop_successors")
#: Makes the committed benchmark run (then refresh).
BENCH_COMMAND = "python -m indexnet_edu.bench"
#: The benchmark files lessons read, copied by the refresh command.
BENCHMARK_FILES = ("cpu.json",)


class ShippedDataMissing(FileNotFoundError):
    """A file the lessons need is not in the installed package; the message names the file and
    the commands that make it."""


def shipped_root() -> Path:
    """The folder of the shipped data inside the installed package (a real folder on disk)."""
    return Path(str(resources.files("indexnet_edu").joinpath(DATA_FOLDER)))


def laptop_results_dir() -> Path:
    """``<package>/_shipped/laptop``: the laptop-preset results, as ``results/laptop`` lays them out."""
    return shipped_root() / "laptop"


def successor_results_dir() -> Path:
    """``<package>/_shipped/laptop_successors``: the successors' laptop-preset results, one machine."""
    return shipped_root() / "laptop_successors"


def laptop_checkpoints_dir() -> Path:
    """``<package>/_shipped/laptop/checkpoints``: the shipped trained weights."""
    return laptop_results_dir() / "checkpoints"


def benchmarks_dir() -> Path:
    """``<package>/_shipped/benchmarks``: the committed benchmark runs lessons read."""
    return shipped_root() / "benchmarks"


def require(path, made_by: str) -> Path:
    """``path`` if it exists, else :class:`ShippedDataMissing` naming it and ``made_by`` (the
    command that makes it), then the refresh command."""
    path = Path(path)
    if not path.exists():
        raise ShippedDataMissing(f"shipped data missing: {path} — make it with `{made_by}`, then copy it into the "
                                 f"package with `{REFRESH_COMMAND}`")
    return path


__all__ = ["DATA_FOLDER", "REFRESH_COMMAND", "SWEEP_COMMAND", "BENCH_COMMAND", "BENCHMARK_FILES", "RESULT_SETS",
           "ShippedDataMissing", "shipped_root", "laptop_results_dir", "successor_results_dir", "laptop_checkpoints_dir", "benchmarks_dir",
           "require"]
