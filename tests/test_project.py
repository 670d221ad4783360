"""The project's own promises: set-up files in sync, notebooks stored clean, CI runs the README."""
import json
import re
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"torch": "pytorch"}  # PyPI name -> conda-forge name where they differ


def _pyproject():
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _requirement_name(spec: str) -> str:
    return re.split(r"[<>=!~;\[ ]", spec.strip(), maxsplit=1)[0].lower()


def _environment_entries():
    conda, pip = {}, {}
    in_pip = in_dependencies = False
    for line in (REPO / "environment.yml").read_text().splitlines():
        stripped = line.split("#", 1)[0].rstrip()
        if re.match(r"^\w", stripped):  # a top-level key: name, channels, dependencies
            in_dependencies = stripped.startswith("dependencies:")
            continue
        if not in_dependencies:
            continue
        if re.match(r"^\s+- pip:\s*$", stripped):
            in_pip = True
            continue
        item = re.match(r"^(\s+)- (.+)$", stripped)
        if not item:
            continue
        target = pip if in_pip and len(item.group(1)) > 2 else conda
        spec = item.group(2).strip()
        target[_requirement_name(spec) if not spec.startswith("-e") else spec] = spec
    return conda, pip


def test_environment_yml_lists_every_dependency_of_pyproject():
    project = _pyproject()["project"]
    conda, pip = _environment_entries()
    wanted = project["dependencies"] + project["optional-dependencies"]["dev"]
    missing = []
    for spec in wanted:
        name = _requirement_name(spec)
        if CONDA_NAMES.get(name, name) not in conda and name not in pip:
            missing.append(name)
    assert not missing, f"environment.yml lacks {missing}"


def test_environment_yml_has_no_dependency_pyproject_lacks():
    project = _pyproject()["project"]
    known = {CONDA_NAMES.get(_requirement_name(s), _requirement_name(s))
             for s in project["dependencies"] + project["optional-dependencies"]["dev"]}
    conda, pip = _environment_entries()
    extra = (set(conda) | {n for n in pip if not n.startswith("-e")}) - known - {"python", "pip"}
    assert not extra, f"environment.yml lists {sorted(extra)} that pyproject.toml does not"


def test_environment_yml_uses_conda_forge_and_installs_the_package_editable():
    text = (REPO / "environment.yml").read_text()
    assert re.search(r"channels:\s*\n\s+- conda-forge", text)
    assert "-e ." in _environment_entries()[1]


def test_version_floors_agree_between_pyproject_and_environment_yml():
    conda, pip = _environment_entries()
    entries = {**conda, **pip}
    for spec in _pyproject()["project"]["dependencies"]:
        name = _requirement_name(spec)
        floor = re.search(r">=\s*([\w.]+)", spec)
        env_spec = entries[CONDA_NAMES.get(name, name)]
        assert floor and floor.group(1) in env_spec, f"{name}: pyproject {spec!r} vs environment.yml {env_spec!r}"


@pytest.mark.parametrize("notebook", sorted((REPO / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_are_stored_without_outputs(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    for cell in cells:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"{notebook.name}: a cell has stored outputs"
            assert cell.get("execution_count") is None, f"{notebook.name}: a cell has an execution count"


def test_there_are_notebooks_for_the_suite_to_run():
    assert sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    assert "make test" in readme and "make lab" in readme
    assert re.search(r"^make test$", ci, re.MULTILINE)


def test_makefile_pins_torch_and_binds_jupyterlab_to_loopback():
    makefile = (REPO / "Makefile").read_text()
    assert "torch==2.13.0" in makefile
    assert "--ServerApp.ip=127.0.0.1" in makefile
    assert "--allow-root" in makefile


def test_pytest_runs_the_notebooks_with_nbval_lax():
    options = _pyproject()["tool"]["pytest"]["ini_options"]
    assert "notebooks" in options["testpaths"] and "--nbval-lax" in options["addopts"]
