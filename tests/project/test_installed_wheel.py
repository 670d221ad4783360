"""The suite as users get it: every lesson runs from the installed package (built into a wheel and
installed non-editably by ``binder/postBuild``), each lesson alone in an empty folder, from a
working directory outside the checkout, with the checkout's package out of reach — as on Colab,
on Binder or for a lesson downloaded on its own.

This is where the lessons run under ``make test`` (nbval, in quick mode unless FULL=1): once,
through the wheel, rather than a second time from the source tree. ``pytest notebooks/X.ipynb``
still runs one lesson from the checkout.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

LESSONS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh virtual environment with the package installed the way Binder does it:
    ``binder/postBuild`` run in a copy of the checkout (a non-editable install).

    Its third-party packages (torch, pip, setuptools and the rest, already installed here) are
    reached through a plain path entry to this interpreter's site-packages: a path entry runs none of that folder's
    ``.pth`` hooks, so this checkout's editable install stays out of the new environment.
    """
    work = tmp_path_factory.mktemp("installed")
    source = work / "checkout"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "results",
                                                               "__pycache__", ".hypothesis"))
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    packages = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   check=True, capture_output=True, text=True).stdout.strip())
    (packages / "dependencies-of-the-test.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    # The user cache stays the usual one: compiled numba kernels and lesson runs are keyed by the
    # package's source, which the installed copy shares with the checkout.
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
               INDEXNET_EDU_PROGRESS="0", PIP_DISABLE_PIP_VERSION_CHECK="1",
               # offline: build with the setuptools already here (pip reads "0" as "no isolation")
               PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="0")
    env.setdefault("INDEXNET_QUICK", "1")
    built = subprocess.run(["bash", str(source / "binder" / "postBuild")], cwd=source, env=env, capture_output=True,
                           text=True)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-3000:]
    shutil.rmtree(source)  # the installed package must not need the checkout it came from
    return {"python": python, "packages": packages, "env": env, "work": work}


def test_the_wheel_carries_the_shipped_data_and_imports_from_the_environment(installed):
    probe = subprocess.run(
        [str(installed["python"]), "-c",
         "import indexnet_edu, indexnet_edu.shipped_files as s; print(indexnet_edu.__file__); "
         "print(s.laptop_results_dir()); print(len(list(s.laptop_results_dir().glob('*/*/seed*.json'))))"],
        cwd=installed["work"], env=installed["env"], capture_output=True, text=True, check=True)
    package_file, results, count = probe.stdout.split()
    assert Path(package_file).is_relative_to(installed["packages"]), package_file
    assert not Path(package_file).is_relative_to(REPO)
    assert Path(results).is_relative_to(installed["packages"])
    assert int(count) == len(list((REPO / "results" / "laptop").glob("*/*/seed*.json")))
    size = sum(path.stat().st_size for path in (installed["packages"] / "indexnet_edu").rglob("*") if path.is_file())
    assert size < 12 * 2**20  # lean: the code, the results and a few small checkpoints
    # postBuild also turns off JupyterLab's news prompt in the environment (as `make lab` does)
    overrides = installed["python"].parent.parent / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert json.loads(overrides.read_text())["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"


@pytest.mark.slow
def test_every_lesson_runs_alone_from_the_installed_wheel(installed, request):
    lessons = installed["work"] / "lessons"
    for lesson in LESSONS:  # each in an empty folder of its own
        folder = lessons / lesson.stem
        folder.mkdir(parents=True)
        shutil.copy2(lesson, folder / lesson.name)
    timeout = request.config.getoption("nbval_cell_timeout", default=600) or 600
    outside = installed["work"] / "elsewhere"
    outside.mkdir()
    done = subprocess.run(
        [str(installed["python"]), "-m", "pytest", "--nbval-lax", f"--nbval-cell-timeout={timeout}", "-p",
         "no:cacheprovider", "-q", "-rf", "--rootdir", str(lessons), str(lessons)],
        cwd=outside, env=installed["env"], capture_output=True, text=True)
    tail = done.stdout[-6000:] + done.stderr[-2000:]
    assert done.returncode == 0, tail
    assert {path.parent.name for path in lessons.rglob("*.ipynb")} == {lesson.stem for lesson in LESSONS}
    passed = re.search(r"(\d+) passed", done.stdout)
    code_cells = sum(cell["cell_type"] == "code" for lesson in LESSONS
                     for cell in json.loads(lesson.read_text(encoding="utf-8"))["cells"])
    assert passed and int(passed.group(1)) == code_cells, tail  # every cell of every lesson ran
    assert len(LESSONS) == 11


def test_a_lesson_with_its_data_removed_fails_with_one_line_naming_the_file_and_the_command(installed):
    """Remove one shipped file from the installed package: the call that needs it says which
    file and how to make it, in one line (never an empty table or a silent training run)."""
    from indexnet_edu.cache import cache_root

    def trained_runs():
        return {str(path) for path in (cache_root() / "lessons").rglob("matting_noskip/hin/seed0/checkpoint.pt")}

    before = trained_runs()
    shipped = installed["packages"] / "indexnet_edu" / "_shipped"
    hidden = installed["work"] / "hidden"
    shutil.copytree(shipped, hidden / "_shipped")
    try:
        (shipped / "laptop" / "reconstruction" / "bilinear" / "seed0.json").unlink()
        (shipped / "laptop" / "checkpoints" / "matting_noskip" / "hin" / "seed0" / "checkpoint.pt").unlink()
        (shipped / "benchmarks" / "cpu.json").unlink()
        calls = {
            "results": "from indexnet_edu.lessons.shipped import shipped_results; shipped_results(['reconstruction'])",
            "checkpoint": "from indexnet_edu.lessons.shipped import model_or_train; model_or_train('matting_noskip', 'hin')",
            "benchmark": "from indexnet_edu.bench.plots import committed_results; committed_results('cpu.json')",
        }
        expected = {"results": ("reconstruction/bilinear/seed0.json", "python -m indexnet_edu.experiments.sweep"),
                    "checkpoint": ("matting_noskip/hin/seed0/checkpoint.pt", "retrain=True"),
                    "benchmark": ("benchmarks/cpu.json", "python -m indexnet_edu.bench")}
        for name, code in calls.items():
            done = subprocess.run([str(installed["python"]), "-c",
                                   f"import sys\ntry:\n    {code}\nexcept FileNotFoundError as e:\n    print(e); sys.exit(3)"],
                                  cwd=installed["work"], env=installed["env"], capture_output=True, text=True)
            assert done.returncode == 3, (name, done.stdout, done.stderr)
            message = done.stdout.strip()
            assert "\n" not in message and message.startswith("shipped data missing: ")
            for part in expected[name]:
                assert part in message, (name, message)
        assert trained_runs() == before, "a missing checkpoint started a training run"
    finally:
        shutil.rmtree(shipped)
        shutil.copytree(hidden / "_shipped", shipped)
