"""The project's own promises: set-up files in sync, notebooks stored clean, CI runs the README."""
import ast
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import pyproject as _pyproject
from conftest import requirement_name as _requirement_name

REPO = Path(__file__).resolve().parents[2]
CONDA_NAMES = {"torch": "pytorch"}  # PyPI name -> conda-forge name where they differ
EXTRAS = ("dev", "book", "fast", "triton")  # optional dependencies environment.yml installs too


def _declared(project) -> list[str]:
    return project["dependencies"] + [spec for extra in EXTRAS for spec in project["optional-dependencies"][extra]]


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
    wanted = _declared(project)
    missing = []
    for spec in wanted:
        name = _requirement_name(spec)
        if CONDA_NAMES.get(name, name) not in conda and name not in pip:
            missing.append(name)
    assert not missing, f"environment.yml lacks {missing}"


def test_environment_yml_has_no_dependency_pyproject_lacks():
    project = _pyproject()["project"]
    known = {CONDA_NAMES.get(_requirement_name(s), _requirement_name(s))
             for s in _declared(project)}
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
    assert "--LabApp.news_url=None" in makefile  # no news pop-up over the widgets at first launch


@pytest.mark.parametrize("index, expected", [(None, None), ("https://download.pytorch.org/whl/cpu",
                                                            "--index-url https://download.pytorch.org/whl/cpu")])
def test_make_setup_takes_torch_from_the_index_the_user_names(tmp_path, index, expected):
    arguments = ["make", "-n", "-B", "-C", str(REPO), "setup", f"VENV={tmp_path / 'venv'}"]
    if index:
        arguments.append(f"TORCH_INDEX_URL={index}")
    commands = subprocess.run(arguments, capture_output=True, text=True, check=True).stdout
    torch_line = next(line for line in commands.splitlines() if '"torch==2.13.0"' in line and " -e " not in line)
    assert ("--index-url" in torch_line) == bool(expected)
    if expected:
        assert expected in torch_line


def test_pytest_runs_the_notebooks_with_nbval_lax():
    options = _pyproject()["tool"]["pytest"]["ini_options"]
    assert "--nbval-lax" in options["addopts"]
    # the lessons run through the installed wheel (once), not a second time from the checkout
    assert options["testpaths"] == ["tests"]
    assert "--nbval-lax" in (REPO / "tests" / "project" / "test_installed_wheel.py").read_text()


# --- declared support is real -------------------------------------------------------------------

SOURCE_AREAS = {  # folder → the dependency groups its imports may come from
    "indexnet_edu": ("runtime", "fast", "triton"),  # the optional kernels import their JIT lazily
    "benchmarks": ("runtime",), "notebooks": ("runtime",),
    "tests": ("runtime", "dev", "book", "fast", "triton"), "tools": ("runtime", "dev", "book"),
}
PYTHON_311_NAMES = {  # module → names that first appeared in Python 3.11 (or later)
    "typing": {"Self", "Never", "LiteralString", "assert_never", "assert_type", "reveal_type", "Required",
               "NotRequired", "TypeVarTuple", "Unpack", "dataclass_transform", "override", "get_overloads"},
    "enum": {"StrEnum", "verify", "member", "nonmember", "global_enum", "EnumCheck", "ReprEnum"},
    "datetime": {"UTC"}, "contextlib": {"chdir"}, "hashlib": {"file_digest"}, "itertools": {"batched"},
    "asyncio": {"TaskGroup", "timeout", "Runner"}, "math": {"cbrt", "exp2"}, "operator": {"call"},
}
PYTHON_311_MODULES = {"tomllib", "wsgiref.types"}
PYTHON_311_BUILTINS = {"ExceptionGroup", "BaseExceptionGroup"}


def _python_sources():
    """(area, label, source) of every Python file and notebook code cell of the project."""
    for area in SOURCE_AREAS:
        for path in sorted((REPO / area).rglob("*.py")):
            yield area, str(path.relative_to(REPO)), path.read_text()
        for path in sorted((REPO / area).rglob("*.ipynb")):
            for number, cell in enumerate(json.loads(path.read_text())["cells"]):
                if cell["cell_type"] == "code":
                    source = "".join(cell["source"])
                    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
                    yield area, f"{path.relative_to(REPO)} cell {number}", "\n".join(lines)


def _version_guarded(node, parents) -> bool:
    """Inside ``if sys.version_info >= (3, 11): ...`` (or its else branch)."""
    return any(isinstance(p, ast.If) and "version_info" in ast.unparse(p.test) for p in parents.get(node, ()))


def _parents(tree) -> dict:
    parents = {}
    for parent in ast.walk(tree):
        for child in ast.iter_child_nodes(parent):
            parents[child] = parents.get(parent, ()) + (parent,)
    return parents


def test_every_source_parses_as_python_3_10_and_uses_no_newer_library_names():
    """requires-python says >= 3.10: no 3.11+ syntax (except*, ...) nor 3.11+ standard-library names."""
    assert _pyproject()["project"]["requires-python"] == ">=3.10"
    problems = []
    for _, label, source in _python_sources():
        try:
            tree = ast.parse(source, feature_version=(3, 10))
        except SyntaxError as error:
            problems.append(f"{label}: not Python 3.10 syntax: {error.msg}")
            continue
        parents = _parents(tree)
        for node in ast.walk(tree):
            if _version_guarded(node, parents):
                continue
            if isinstance(node, ast.Import):
                problems += [f"{label}: imports {a.name}" for a in node.names if a.name in PYTHON_311_MODULES]
            elif isinstance(node, ast.ImportFrom) and node.module:
                if node.module in PYTHON_311_MODULES:
                    problems.append(f"{label}: imports from {node.module}")
                problems += [f"{label}: from {node.module} import {a.name}" for a in node.names
                             if a.name in PYTHON_311_NAMES.get(node.module, ())]
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                if node.attr in PYTHON_311_NAMES.get(node.value.id, ()):
                    problems.append(f"{label}: uses {node.value.id}.{node.attr}")
            elif isinstance(node, ast.Name) and node.id in PYTHON_311_BUILTINS:
                problems.append(f"{label}: uses {node.id}")
    assert not problems, "Python 3.11+ only:\n" + "\n".join(problems)


def _imported_modules(source: str) -> set[str]:
    """Top-level names of every module imported, including ``pytest.importorskip("name")``."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in ("importorskip", "import_module") and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            names.add(node.args[0].value.split(".")[0])
    return names


def _normalise(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def test_every_imported_third_party_package_is_declared():
    """Each import resolves to a distribution declared in pyproject.toml for that part of the project
    (the package and the lessons: runtime dependencies; tests and tools: also the dev/book extras)."""
    import importlib.metadata
    import sys

    project = _pyproject()["project"]
    groups = {"runtime": project["dependencies"], **project["optional-dependencies"]}
    declared = {group: {_normalise(_requirement_name(spec)) for spec in specs} for group, specs in groups.items()}
    providers = importlib.metadata.packages_distributions()
    local = {"indexnet_edu", "conftest"} | {p.stem for p in (REPO / "tools").glob("*.py")}
    undeclared = set()
    for area, label, source in _python_sources():
        allowed = set().union(*(declared[group] for group in SOURCE_AREAS[area]))
        for module in _imported_modules(source) - set(sys.stdlib_module_names) - local:
            distributions = {_normalise(d) for d in providers.get(module, [module])}
            if not distributions & allowed:
                undeclared.add(f"{label}: imports {module} (from {sorted(distributions)}), "
                               f"not declared in {SOURCE_AREAS[area]}")
    assert not undeclared, "\n".join(sorted(undeclared))


# --- make test: bounded, and never a silent pass ------------------------------------------------

def _make(tmp_path, *arguments, environment=None):
    import subprocess
    import sys

    env = dict(os.environ, **(environment or {}))
    return subprocess.run(["make", "--no-print-directory", "-C", str(REPO), "test", "SETUP=",
                           f"BIN={Path(sys.executable).parent}", *arguments],
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture
def mode_probe(tmp_path):
    """A one-test file that records the lesson mode, cell timeout and hypothesis profile the run got."""
    record = tmp_path / "mode.json"
    probe = tmp_path / "test_probe.py"
    probe.write_text("import json, os, sys\n"
                     "def test_record(request):\n"
                     f"    open({str(record)!r}, 'w').write(json.dumps([os.environ.get('INDEXNET_QUICK'),\n"
                     "        request.config.getoption('nbval_cell_timeout'), os.environ.get('INDEXNET_HYPOTHESIS_PROFILE')]))\n")
    return probe, record


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("arguments, expected", [
    ((), ["1", 600, "ci"]),               # the README's command: quick lessons and CI's examples, whatever the environment
    (("FULL=1",), ["0", 14400, "ci"]),    # the opt-in: full-scale lessons, a longer cell timeout
    (("HYPOTHESIS_PROFILE=dev",), ["1", 600, "dev"]),  # more examples a property, on request
])
def test_make_test_runs_quick_lessons_unless_asked_for_full_ones(tmp_path, mode_probe, arguments, expected):
    probe, record = mode_probe
    result = _make(tmp_path, f"TESTS={probe}", *arguments, environment={"INDEXNET_QUICK": "0", "CI": ""})
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(record.read_text()) == expected


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_test_fails_when_pytest_collects_nothing(tmp_path):
    (tmp_path / "empty").mkdir()
    result = _make(tmp_path, f"TESTS={tmp_path / 'empty'}")
    assert result.returncode != 0
    assert "collected no tests (exit 5)" in result.stderr


def test_the_hypothesis_profile_the_run_names_is_the_one_loaded():
    from hypothesis import settings

    import conftest

    assert settings().max_examples == {"ci": 25, "dev": 60}[conftest.HYPOTHESIS_PROFILE]
