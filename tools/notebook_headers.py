"""Insert or update every lesson's launch header: Colab/Binder badges and the Colab install cell.

    python tools/notebook_headers.py            # rewrite notebooks/*.ipynb and README.md where needed
    python tools/notebook_headers.py --check    # exit 1 (listing them) if any file is out of date
    python tools/notebook_headers.py notebooks/05_*.ipynb

Idempotent: run it again after notebooks change (a merge, a new lesson) and only what is
missing or stale is rewritten. Three things per notebook:

1. the header (first) markdown cell gets, right under its ``# title`` line, a marked line of
   badges "Open in Colab" / "Launch on Binder" for that notebook;
2. the first code cell becomes the Colab install cell (tagged ``colab-install``): on Colab it
   pip-installs the package from ``indexnet_edu.lessons.env.REPOSITORY_URL`` (never pinning torch:
   Colab's own build stays); anywhere else it does nothing;
3. the notebook metadata (kernelspec, language_info) becomes what JupyterLab writes on opening
   it, so opening a lesson leaves it unmodified.

The README gets the same badge line under its title (opening lesson 00). Every URL comes from
``REPOSITORY_URL``: change it there and re-run this script.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the checkout's package, also when it is not installed

from indexnet_edu.lessons.env import REPOSITORY_URL  # noqa: E402

BADGE_MARKER = "<!-- launch badges: written by tools/notebook_headers.py -->"
INSTALL_TAG = "colab-install"
INSTALL_FIRST_LINE = "# On Google Colab only: install the lessons' package (elsewhere this cell does nothing)."
# The notebook metadata JupyterLab writes when it opens a lesson with the project's Python (3.11,
# as on Binder and in CI): stored so, opening a lesson changes nothing and leaves `git status` clean.
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {"codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
                 "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python",
                 "pygments_lexer": "ipython3", "version": "3.11.7"}
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
BINDER_BADGE = "https://mybinder.org/badge_logo.svg"


def _github_path() -> str:
    match = re.fullmatch(r"https://github\.com/([\w.-]+/[\w.-]+?)(?:\.git)?/?", REPOSITORY_URL)
    if not match:
        raise ValueError(f"REPOSITORY_URL must be https://github.com/OWNER/REPO, got {REPOSITORY_URL!r}")
    return match.group(1)


def colab_url(notebook: str) -> str:
    """Colab's URL for ``notebooks/<notebook>`` on the default branch."""
    return f"https://colab.research.google.com/github/{_github_path()}/blob/main/notebooks/{notebook}"


def binder_url(notebook: str | None = None) -> str:
    """mybinder.org's URL for the repository, opening ``notebooks/<notebook>`` in JupyterLab."""
    url = f"https://mybinder.org/v2/gh/{_github_path()}/HEAD"
    return url + ("?labpath=" + quote(f"notebooks/{notebook}", safe="")) if notebook else url


def badges(notebook: str) -> str:
    """The markdown line of badges for one notebook."""
    return (f"[![Open in Colab]({COLAB_BADGE})]({colab_url(notebook)}) "
            f"[![Launch on Binder]({BINDER_BADGE})]({binder_url(notebook)})")


def install_source() -> str:
    """The Colab install cell. Inert outside Colab: it only imports os, subprocess and sys."""
    return "\n".join([
        INSTALL_FIRST_LINE,
        "import os, subprocess, sys",
        'if "google.colab" in sys.modules or any(name.startswith("COLAB_") for name in os.environ):',
        f'    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "git+{REPOSITORY_URL}"], check=True)',
    ])


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _with_badges(markdown: str, notebook: str) -> str:
    lines = markdown.splitlines()
    line = badges(notebook)
    if BADGE_MARKER in lines:
        at = lines.index(BADGE_MARKER)
        lines[at + 1:at + 2] = [line]
        return "\n".join(lines)
    title = next((i for i, text in enumerate(lines) if text.startswith("# ")), None)
    if title is None:
        raise ValueError(f"{notebook}: the first cell has no '# title' line to put the badges under")
    lines[title + 1:title + 1] = ["", BADGE_MARKER, line]
    if title + 4 < len(lines) and lines[title + 4].strip():
        lines.insert(title + 4, "")
    return "\n".join(lines)


def _is_install_cell(cell: dict) -> bool:
    source = "".join(cell["source"])
    return cell["cell_type"] == "code" and (INSTALL_TAG in cell.get("metadata", {}).get("tags", [])
                                            or source.startswith(INSTALL_FIRST_LINE))


def updated(notebook: dict, name: str) -> dict:
    """A copy of ``notebook`` (nbformat 4 JSON) with current badges and install cell."""
    notebook = json.loads(json.dumps(notebook))
    cells = notebook["cells"]
    if not cells or cells[0]["cell_type"] != "markdown":
        raise ValueError(f"{name}: expected a markdown header cell first, got "
                         f"{cells[0]['cell_type'] if cells else 'no cells'}")
    cells[0]["source"] = _lines(_with_badges("".join(cells[0]["source"]), name))
    install = [cell for cell in cells if _is_install_cell(cell)]
    cells[:] = [cell for cell in cells if not _is_install_cell(cell)]
    cell = install[0] if install else {"cell_type": "code", "execution_count": None, "id": INSTALL_TAG,
                                       "metadata": {}, "outputs": []}
    cell["source"] = _lines(install_source())
    tags = cell["metadata"].setdefault("tags", [])
    if INSTALL_TAG not in tags:
        tags.append(INSTALL_TAG)
    first_code = next((i for i, c in enumerate(cells) if c["cell_type"] == "code"), len(cells))
    cells.insert(first_code, cell)
    notebook["metadata"].update(kernelspec=dict(KERNELSPEC), language_info=json.loads(json.dumps(LANGUAGE_INFO)))
    return notebook


def _dumps(notebook: dict) -> str:
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def _updated_text(path: Path, text: str) -> str:
    if path.suffix == ".ipynb":
        return _dumps(updated(json.loads(text), path.name))
    return _with_badges(text, "00_start_here.ipynb") + "\n"  # the README: a door to lesson 00


def process(paths, check: bool = False) -> list[Path]:
    """Update (or with ``check``, only compare) notebooks and markdown files (the README); returns
    those that were/are stale."""
    stale = []
    for path in map(Path, paths):
        text = path.read_text(encoding="utf-8")
        new = _updated_text(path, text)
        if new != text:
            stale.append(path)
            if not check:
                path.write_text(new, encoding="utf-8")
    return stale


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb and README.md")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if any notebook is stale")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((REPO / "notebooks").glob("*.ipynb")) + [REPO / "README.md"]
    stale = process(paths, check=args.check)
    for path in stale:
        print(("stale: " if args.check else "updated: ") + str(path))
    if not stale:
        print(f"{len(paths)} file(s) up to date")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
