"""What every lesson says: a recap and linked references at the end, no pointers to documents
learners do not have, and published numbers credited to the paper they come from."""
import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
LESSONS = sorted(NOTEBOOKS.glob("*.ipynb"))


def _markdown(lesson):
    notebook = json.loads((NOTEBOOKS / f"{lesson}.ipynb").read_text(encoding="utf-8"))
    return ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown"]


@pytest.mark.parametrize("notebook", LESSONS, ids=lambda path: getattr(path, "stem", None))
def test_lesson_ends_with_a_recap_and_linked_references(notebook):
    tail = "\n".join(_markdown(notebook.stem)[-2:])
    assert "## Recap" in tail and "## References" in tail
    references = tail.split("## References", 1)[1]
    assert len(re.findall(r"\]\((?:https://arxiv\.org/abs/\d{4}\.\d{5}|https://doi\.org/|https://github\.com/)",
                          references)) >= 3


@pytest.mark.parametrize("notebook", LESSONS, ids=lambda path: getattr(path, "stem", None))
def test_no_lesson_points_to_the_projects_internal_spec(notebook):
    assert "SPEC" not in notebook.read_text(encoding="utf-8")


def test_no_package_text_shown_to_learners_points_to_the_internal_spec():
    package = Path(__file__).resolve().parents[2] / "indexnet_edu"
    offenders = [str(path.relative_to(package)) for path in package.rglob("*.py") if "SPEC" in path.read_text()]
    assert not offenders


def test_code_and_tests_cite_papers_and_behaviour_not_issue_numbers_or_outside_documents():
    repo = Path(__file__).resolve().parents[2]
    cited = re.compile(r"\b[Ii]ssue ?#?\d+|\bSPEC\b|SPEC\.md|the seed's (?:code|bugs)")
    files = [path for folder in ("indexnet_edu", "tests", "tools", "benchmarks") for path in (repo / folder).rglob("*.py")]
    offenders = [f"{path.relative_to(repo)}:{number}" for path in files if path != Path(__file__).resolve()
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if cited.search(line)]
    assert len(files) > 100 and not offenders


@pytest.mark.parametrize("notebook", LESSONS, ids=lambda path: getattr(path, "stem", None))
def test_fade_numbers_are_credited_to_fade(notebook):
    """SAD 37.31 / 41.01 / 34.28 and mIoU 41.68 / 42.82 / 41.50 come from FADE (ECCV 2022)."""
    for text in _markdown(notebook.stem):
        if "34.28" in text or "42.82" in text:
            assert "FADE" in text and "ECCV 2022" in text, notebook.name


@pytest.mark.parametrize("notebook", LESSONS, ids=lambda path: getattr(path, "stem", None))
def test_display_maths_stands_in_its_own_paragraph(notebook):
    # A `$$…$$` line glued to the prose above or below it is one paragraph to the book's
    # Markdown parser (myst), which then reads the prose as part of the formula; Jupyter does not.
    glued = []
    for cell in _markdown(notebook.stem):
        lines = cell.split("\n")
        for i, line in enumerate(lines):
            if not line.strip().startswith("$$"):
                continue
            before = lines[i - 1].strip() if i > 0 else ""
            closes = line.strip().endswith("$$") and len(line.strip()) > 2
            after = lines[i + 1].strip() if closes and i + 1 < len(lines) else ""
            if before or after:
                glued.append(line.strip()[:60])
    assert not glued, f"display maths without a blank line around it: {glued}"


def test_index_networks_is_cited_with_its_journal_year():
    # Index Networks appeared online in 2020 and in print in IEEE TPAMI 44(1), 2022.
    repo = NOTEBOOKS.parent
    sources = [*NOTEBOOKS.glob("*.ipynb"), repo / "README.md", *(repo / "indexnet_edu").rglob("*.py"),
               *(repo / "docs").rglob("*.md")]
    stale = [path.name for path in sources if re.search(r"TPAMI(?: 44\(1\),)? 2020", path.read_text(encoding="utf-8"))]
    assert not stale, stale


def test_the_start_page_maps_every_lesson():
    start = "\n".join(_markdown("00_start_here"))
    table = start.split("## The map of lessons", 1)[1]
    listed = re.findall(r"^\| `(\d\d_\w+)` \|", table, re.MULTILINE)
    assert listed == [path.stem for path in LESSONS]
