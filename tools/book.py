"""Build the lessons as a static HTML book (Sphinx + myst-nb), every notebook executed in quick mode.

    python tools/book.py                     # → build/book/html/index.html (what `make book` runs)
    python tools/book.py --out /tmp/book     # → /tmp/book/html/index.html

The sources are staged in OUT/src: docs/book (conf.py, the landing page, the reference pages
completed from the project's files by tools/reference_pages.py) plus a copy of notebooks/*.ipynb. Executed notebooks are cached by jupyter-cache under build/book-cache/<key>,
the key being a digest of the package's source: a rebuild re-executes only notebooks whose code
changed, and never reuses outputs made by other package code. A failing cell fails the build.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the checkout's package, also when it is not installed

from indexnet_edu.checkpoint import (LOCKED_EXIT_CODE, RunLockedError, exclusive_run_lock,  # noqa: E402
                                     output_dir_argument)
from indexnet_edu.lessons.env import package_digest  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_pages import render_folder  # noqa: E402

BOOK_SOURCE = REPO / "docs" / "book"
DEFAULT_OUT = REPO / "build" / "book"
DEFAULT_CACHE = REPO / "build" / "book-cache"


def cache_dir(root: Path = DEFAULT_CACHE) -> Path:
    """The execution cache for the current package source (older keys are removed)."""
    root = Path(root)
    current = root / package_digest("book", "quick")
    if root.is_dir():
        for stale in root.iterdir():
            if stale != current and stale.is_dir():
                shutil.rmtree(stale)
    return current


#: MathJax 2 as the jupyter_server_mathjax package ships it: the loader, the one configuration
#: the book names, the input/output processors, extensions and web fonts (not the translations
#: or the PNG image fonts). The book's pages load it from _static/mathjax: formulas render offline.
MATHJAX_PARTS = ("MathJax.js", "LICENSE", "config/TeX-AMS-MML_HTMLorMML-full.js", "jax", "extensions",
                 "fonts/HTML-CSS/STIX-Web/woff")
#: The launch badges are pictures on other hosts; in the book (which has its own launch buttons)
#: they become plain links, so a page read offline shows no broken image.
BADGE = re.compile(r"\[!\[([^\]]+)\]\(https?://[^)]+\)\]\((https?://[^)]+)\)")


def mathjax_source() -> Path:
    """The folder of MathJax's files inside the installed jupyter_server_mathjax package."""
    try:
        import jupyter_server_mathjax
    except ImportError as error:
        raise SystemExit("the book needs jupyter_server_mathjax (the book extra: pip install -e '.[book]') "
                         "to serve MathJax with the pages") from error
    return Path(jupyter_server_mathjax.__file__).parent / "static"


def stage_mathjax(static: Path) -> None:
    origin, target = mathjax_source(), static / "mathjax"
    for part in MATHJAX_PARTS:
        if (origin / part).is_dir():
            shutil.copytree(origin / part, target / part)
        elif (origin / part).is_file():
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin / part, target / part)


def stage_notebook(notebook: Path, target: Path) -> None:
    """Copy a lesson, its badge pictures turned into text links."""
    content = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in content["cells"]:
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"])
            if BADGE.search(text):
                cell["source"] = BADGE.sub(r"[\1](\2)", text).splitlines(keepends=True)
    target.write_text(json.dumps(content, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def stage(out: Path) -> Path:
    """OUT/src: the book's configuration, landing page and reference pages (their generated
    sections filled in) beside a fresh copy of the lessons."""
    source = out / "src"
    if source.exists():
        shutil.rmtree(source)
    shutil.copytree(BOOK_SOURCE, source, ignore=shutil.ignore_patterns("__pycache__"))
    render_folder(BOOK_SOURCE / "reference", source / "reference")
    stage_mathjax(source / "_static")
    for notebook in sorted((REPO / "notebooks").glob("*.ipynb")):
        stage_notebook(notebook, source / notebook.name)
    return source


def build_book(out=DEFAULT_OUT, cache_root=DEFAULT_CACHE, quiet: bool = False) -> Path:
    """Stage, execute (quick mode, cached) and render the book; returns OUT/html/index.html.

    Raises subprocess.CalledProcessError when Sphinx fails (a cell raised, a notebook is broken).
    """
    if not str(out).strip():  # Path("") is the current folder, whose src/ staging would replace
        raise ValueError(f"out must name a folder, got {str(out)!r}")
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    source = stage(out)
    env = dict(os.environ, INDEXNET_QUICK="1", INDEXNET_REPO=str(REPO), INDEXNET_EDU_PROGRESS="0",
               INDEXNET_BOOK_CACHE=str(cache_dir(cache_root)),
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    command = [sys.executable, "-m", "sphinx", "-b", "html", "--keep-going", "-j", "1",
               str(source), str(out / "html")] + (["-q"] if quiet else [])
    subprocess.run(command, env=env, check=True, cwd=source)
    return out / "html" / "index.html"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=output_dir_argument, default=DEFAULT_OUT,
                        help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--quiet", action="store_true", help="only warnings and errors")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        # Two builds into one folder would delete each other's staged sources (and share the cache).
        with exclusive_run_lock(args.out, "book build"), exclusive_run_lock(DEFAULT_CACHE, "book build"):
            index = build_book(args.out, quiet=args.quiet)
    except RunLockedError as error:
        print(f"book: error: {error}", file=sys.stderr)
        return LOCKED_EXIT_CODE
    except subprocess.CalledProcessError as error:
        print(f"the book did not build (sphinx exited {error.returncode}); see the messages above", file=sys.stderr)
        return 1
    print(f"book built in {time.perf_counter() - started:.0f} s: open {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
