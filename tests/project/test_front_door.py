"""The README is a front door — short, its example runs, every path and name it gives exists — and
the book's reference pages are made from the project's files, never copied by hand."""
import importlib
import json
import re
import subprocess
import sys

import pytest

from conftest import REPO, load_tool

README = REPO / "README.md"
NAME = re.compile(r"\bindexnet_edu(?:\.[A-Za-z_]\w*)+")


def test_the_readme_is_a_front_door_of_at_most_12_kb():
    text = README.read_text(encoding="utf-8")
    assert len(text.encode()) <= 12 * 1024
    for part in ("## Two commands", "make lab", "make test", "## The lessons", "## The package", "## Where to read more"):
        assert part in text


def test_the_readme_lists_every_lesson():
    text = README.read_text(encoding="utf-8")
    assert all(f"`{notebook.stem}`" in text for notebook in sorted((REPO / "notebooks").glob("*.ipynb")))


def test_the_readme_package_example_runs_as_printed(tmp_path):
    text = README.read_text(encoding="utf-8")
    example = re.search(r"## The package\n\n```python\n(.*?)```", text, re.S).group(1)
    assert 8 <= len(example.strip().splitlines()) <= 12
    done = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, timeout=300)
    assert done.returncode == 0, done.stderr


def test_every_repository_path_the_readme_names_exists():
    text = README.read_text(encoding="utf-8")
    paths = set(re.findall(r"`((?:docs|results|tests|notebooks|tools|benchmarks|binder|indexnet_edu)/[\w./-]*)`", text))
    paths |= set(re.findall(r"\]\(((?:docs|results|tests|notebooks)/[\w./-]+)\)", text))
    assert paths and not [p for p in paths if not (REPO / p).exists()]


def _resolves(dotted: str) -> bool:
    """A module or attribute that exists, or an old module name that says where it moved."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError as error:
            if cut == len(parts) and "moved to indexnet_edu." in str(error):
                return True
            continue
        try:
            for attribute in parts[cut:]:
                obj = getattr(obj, attribute)
        except AttributeError:
            return False
        return True
    return False


def _texts():
    yield README
    yield from (REPO / "docs" / "book").rglob("*.md")
    yield from (REPO / "results").glob("*/README.md")
    yield from (REPO / "notebooks").glob("*.ipynb")
    yield from (REPO / "indexnet_edu").rglob("*.py")


def test_every_dotted_package_name_in_the_docs_lessons_and_docstrings_resolves():
    """After the move into layer folders no text points at a module path that is gone."""
    names = {(path.relative_to(REPO).as_posix(), name.rstrip("."))
             for path in _texts() for name in NAME.findall(path.read_text(encoding="utf-8"))}
    names = {(where, name) for where, name in names if not name.endswith((".py", ".ipynb", ".json"))
             and not name.startswith(("indexnet_edu.egg", "indexnet_edu.reassemble"))}
    assert len(names) > 50
    stale = sorted(f"{where}: {name}" for where, name in names if not _resolves(name))
    assert not stale


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    tool = load_tool("reference_pages")
    out = tmp_path_factory.mktemp("reference")
    return tool, {path.name: path.read_text(encoding="utf-8")
                  for path in tool.render_folder(REPO / "docs" / "book" / "reference", out)}, out


def test_every_reference_page_is_rendered_with_no_marker_left(pages):
    tool, rendered, out = pages
    sources = sorted(p.name for p in (REPO / "docs" / "book" / "reference").glob("*.md"))
    assert sorted(rendered) == sources and len(sources) >= 6
    assert not [name for name, text in rendered.items() if "<!-- generated" in text or "source-only" in text]
    # the sources, read on their own (a repository browser hides the markers), say where the tables are
    for source in (REPO / "docs" / "book" / "reference").glob("*.md"):
        text = source.read_text(encoding="utf-8")
        if "<!-- generated:" in text:
            assert "make book" in text.split("<!-- /source-only -->")[0], source.name
    for image in re.findall(r"\]\((images/[^)]+)\)", "".join(rendered.values())):
        assert (out / image).is_file()


def test_the_results_page_tables_are_the_shipped_results_read_at_build_time(pages):
    from indexnet_edu.experiments.results import load_results

    _, rendered, _ = pages
    for name in ("laptop", "laptop_successors"):
        table = load_results(REPO / "results" / name)
        for task in table.tasks():
            assert table.markdown(task) in rendered["results.md"]


def test_the_task_presets_and_registry_tables_follow_the_package(pages):
    from indexnet_edu.experiments.config import PRESETS
    from indexnet_edu.experiments.tasks import TASK_TABLE
    from indexnet_edu.upsamplers.registry import available_upsamplers

    _, rendered, _ = pages
    assert all(f"| `{task}` |" in rendered["training.md"] for task in TASK_TABLE)
    assert all(f"| `{preset}` |" in rendered["training.md"] for preset in PRESETS)
    assert all(f"| `{name}` |" in rendered["package.md"] for name in available_upsamplers())
    bench = json.loads((REPO / "benchmarks" / "results" / "cpu.json").read_text())
    assert bench["machine"]["cpu_model"] in rendered["speed.md"]


def test_an_unknown_or_incomplete_marker_is_an_error_never_a_hole():
    tool = load_tool("reference_pages")
    with pytest.raises(ValueError, match="unknown marker"):
        tool.render_page("<!-- generated: nonsense -->")
    with pytest.raises(ValueError, match="needs an argument"):
        tool.render_page("<!-- generated: results -->")
    with pytest.raises(FileNotFoundError):
        tool.render_page("<!-- generated: results no_such_set -->")
