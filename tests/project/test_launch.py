"""One-click launch: Colab install cell and badges in every lesson, a Binder configuration, the lesson
list outside a checkout. Colab and Binder cannot be reached from here: these tests check what can be."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, load_tool, pyproject, requirement_name
from indexnet_edu.lessons.env import LESSONS, REPOSITORY_URL, lessons_present

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
headers = load_tool("notebook_headers")


def cells(path):
    return json.loads(path.read_text())["cells"]


def source(cell) -> str:
    return "".join(cell["source"])


# --- every lesson ------------------------------------------------------------------------------

def test_the_header_script_finds_nothing_to_update():
    """Re-run `python tools/notebook_headers.py` after changing notebooks or REPOSITORY_URL."""
    assert headers.process(NOTEBOOKS + [REPO / "README.md"], check=True) == []


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_each_lesson_header_has_colab_and_binder_badges_for_itself(notebook):
    header = source(cells(notebook)[0])
    title = header.splitlines()[0]
    assert title.startswith("# ")
    colab = f"https://colab.research.google.com/github/{REPOSITORY_URL.removeprefix('https://github.com/')}" \
            f"/blob/main/notebooks/{notebook.name}"
    binder = f"https://mybinder.org/v2/gh/{REPOSITORY_URL.removeprefix('https://github.com/')}/HEAD" \
             f"?labpath=notebooks%2F{notebook.name}"
    assert f"]({colab})" in header and f"]({binder})" in header
    assert header.splitlines()[2] == headers.BADGE_MARKER  # right under the title


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_each_lessons_first_code_cell_is_the_colab_install_cell(notebook):
    first = next(cell for cell in cells(notebook) if cell["cell_type"] == "code")
    assert source(first) == headers.install_source()
    assert "colab-install" in first["metadata"]["tags"]
    assert sum(headers.INSTALL_FIRST_LINE in source(c) for c in cells(notebook)) == 1


def _run_install_cell(monkeypatch, on_colab: bool, colab_variable: str | None = None) -> list:
    """Execute the install cell's source; returns the commands it tried to run (none are run)."""
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *args, **kwargs: calls.append((args, kwargs)))
    for name in [n for n in os.environ if n.startswith("COLAB_")]:
        monkeypatch.delenv(name)
    if colab_variable:
        monkeypatch.setenv(colab_variable, "1")
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", type(sys)("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(headers.install_source(), "install cell", "exec"), {})
    return calls


def test_install_cell_is_inert_outside_colab(monkeypatch):
    assert _run_install_cell(monkeypatch, on_colab=False) == []


@pytest.mark.parametrize("on_colab, variable", [(True, None), (False, "COLAB_RELEASE_TAG")])
def test_install_cell_installs_the_package_on_colab_without_pinning_torch(monkeypatch, on_colab, variable):
    calls = _run_install_cell(monkeypatch, on_colab, variable)
    assert len(calls) == 1
    (command,), options = calls[0]
    assert command[:4] == [sys.executable, "-m", "pip", "install"]
    assert command[-1] == f"git+{REPOSITORY_URL}" and options == {"check": True}
    assert not any("torch" in part for part in command)


def test_install_cell_runs_in_a_real_kernel_free_python_without_side_effects(tmp_path):
    """Outside Colab the cell is plain Python that prints nothing and starts no process."""
    result = subprocess.run([sys.executable, "-c", headers.install_source() + "\nprint('done')"],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path,
                            env={k: v for k, v in os.environ.items() if not k.startswith("COLAB_")})
    assert result.returncode == 0 and result.stdout == "done\n" and result.stderr == ""


def test_header_script_is_idempotent_and_repairs_a_notebook(tmp_path):
    original = json.loads(NOTEBOOKS[0].read_text())
    bare = json.loads(json.dumps(original))
    bare["cells"] = [c for c in bare["cells"] if "colab-install" not in c["metadata"].get("tags", [])]
    header = bare["cells"][0]["source"]
    at = header.index(headers.BADGE_MARKER + "\n")
    del header[at - 1:at + 2]  # the blank line, the marker and the badges
    repaired = headers.updated(bare, NOTEBOOKS[0].name)
    assert repaired == original
    assert headers.updated(repaired, NOTEBOOKS[0].name) == repaired


def test_header_script_moves_a_misplaced_install_cell_first(tmp_path):
    notebook = json.loads(NOTEBOOKS[1].read_text())
    install = notebook["cells"].pop(1)
    notebook["cells"].append(install)
    path = tmp_path / NOTEBOOKS[1].name
    path.write_text(json.dumps(notebook))
    assert headers.main(["--check", str(path)]) == 1
    assert headers.main([str(path)]) == 0
    assert path.read_text() == NOTEBOOKS[1].read_text()


def test_header_script_refuses_a_notebook_without_a_title(tmp_path):
    notebook = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["no title here"]}]}
    with pytest.raises(ValueError, match="no '# title' line"):
        headers.updated(notebook, "x.ipynb")


# --- README --------------------------------------------------------------------------------------

def test_readme_has_the_badges_and_says_how_to_read_the_book_and_run_full_lessons():
    readme = (REPO / "README.md").read_text()
    assert headers.binder_url() in readme and headers.BINDER_BADGE in readme
    assert headers.colab_url(NOTEBOOKS[0].name) in readme and headers.COLAB_BADGE in readme
    assert "make book" in readme and "build/book/html/index.html" in readme
    assert "make test-full" in readme


# --- Binder ----------------------------------------------------------------------------------------

def _binder_requirements() -> dict[str, str]:
    entries = {}
    for line in (REPO / "binder" / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            entries[requirement_name(line)] = line
    return entries


def test_binder_installs_exactly_the_runtime_dependencies_of_pyproject():
    runtime = {requirement_name(spec): spec for spec in pyproject()["project"]["dependencies"]}
    assert _binder_requirements() == runtime  # same names, same version floors: no dev/book tools


def test_binder_takes_torch_from_the_cpu_index():
    text = (REPO / "binder" / "requirements.txt").read_text()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in text


def test_binder_python_satisfies_requires_python():
    version = re.fullmatch(r"python-(\d+)\.(\d+)\s*", (REPO / "binder" / "runtime.txt").read_text())
    floor = re.fullmatch(r">=(\d+)\.(\d+)", pyproject()["project"]["requires-python"])
    assert version and floor
    assert tuple(map(int, version.groups())) >= tuple(map(int, floor.groups()))


def test_binder_postbuild_is_executable():
    # What it installs is tested by behaviour: tests/project/test_installed_wheel.py installs the package
    # with this script into a fresh environment and runs every lesson from it.
    assert os.access(REPO / "binder" / "postBuild", os.X_OK)


def test_binder_start_switches_quick_mode_on_and_runs_the_server_command():
    start = REPO / "binder" / "start"
    assert os.access(start, os.X_OK)
    result = subprocess.run([str(start), sys.executable, "-c",
                             "from indexnet_edu.lessons.env import quick_mode; print(quick_mode())"],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "INDEXNET_QUICK": "0", "CI": "",
                                 "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


# --- lesson 00 outside a checkout ----------------------------------------------------------------

def test_lesson_list_matches_the_notebooks_in_the_checkout():
    assert tuple(p.stem for p in NOTEBOOKS) == LESSONS
    assert lessons_present(REPO / "notebooks") == {name: True for name in LESSONS}


def test_outside_a_checkout_no_lesson_files_is_not_an_error(tmp_path):
    assert lessons_present(tmp_path) is None
    (tmp_path / "00_start_here.ipynb").write_text("{}")  # a lesson downloaded alone: still no checkout
    assert lessons_present(tmp_path) is None
    (tmp_path / "02_index_playground.ipynb").write_text("{}")
    present = lessons_present(tmp_path)
    assert present["02_index_playground"] and present["00_start_here"] and not present["01_upsampling_is_indexing"]


def test_lesson_list_refuses_a_missing_folder(tmp_path):
    with pytest.raises(ValueError, match="expected an existing folder"):
        lessons_present(tmp_path / "nowhere")


def test_lesson_00_runs_its_environment_check_outside_a_checkout(tmp_path):
    """The first cells of lesson 00 (install, picture, lesson list, environment check), executed
    in an empty folder as on Colab: no assertion needs the lesson files."""
    lesson = cells(REPO / "notebooks" / "00_start_here.ipynb")
    code = [source(c) for c in lesson if c["cell_type"] == "code"]
    check = next(i for i, s in enumerate(code) if "environment_report()" in s)
    script = "import matplotlib\nmatplotlib.use('Agg')\n" + "\n\n".join(code[:check + 1])
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Not in a checkout" in result.stdout and "quick mode" in result.stdout


def test_package_digest_keys_caches_by_source_and_extra_strings(tmp_path, monkeypatch):
    from indexnet_edu.lessons import env

    first = env.package_digest("quick")
    assert re.fullmatch(r"[0-9a-f]{16}", first) and env.package_digest("quick") == first
    assert env.package_digest("full") != first
    copy = tmp_path / "indexnet_edu"
    copy.mkdir()
    for path in env.PACKAGE_DIR.rglob("*.py"):
        target = copy / path.relative_to(env.PACKAGE_DIR)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    monkeypatch.setattr(env, "PACKAGE_DIR", copy)
    assert env.package_digest("quick") == first  # the same source, wherever it lies
    (copy / "ops" / "indexing.py").write_text((copy / "ops" / "indexing.py").read_text() + "\n# changed\n")
    assert env.package_digest("quick") != first
