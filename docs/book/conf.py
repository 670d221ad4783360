"""Sphinx + myst-nb configuration of the lessons' book (built by tools/book.py, which stages this
folder with a copy of notebooks/ and sets the environment read here)."""
import os
import sys
from pathlib import Path

REPO = Path(os.environ.get("INDEXNET_REPO", Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(REPO))
from indexnet_edu.lessons.env import REPOSITORY_URL  # noqa: E402

project = "indexnet_edu"
author = "the indexnet_edu authors"
copyright = "the indexnet_edu authors, MIT licence"
extensions = ["myst_nb"]
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints", "jupyter_execute"]
myst_enable_extensions = ["dollarmath"]
suppress_warnings = ["myst.header"]  # lessons go from '# title' straight to '### After this lesson'

# Executed in quick mode (tools/book.py sets INDEXNET_QUICK=1 for the kernels), cached by
# jupyter-cache in a folder keyed by the package's source: a rebuild re-executes only what changed.
nb_execution_mode = "cache"
nb_execution_cache_path = os.environ.get("INDEXNET_BOOK_CACHE", str(REPO / "build" / "book-cache" / "default"))
nb_execution_timeout = int(os.environ.get("INDEXNET_BOOK_CELL_TIMEOUT", "600"))
nb_execution_raise_on_error = True  # a failing cell fails the build
nb_execution_show_tb = True
nb_merge_streams = True

html_theme = "sphinx_book_theme"
html_title = "indexnet_edu — index functions, touched"
html_theme_options = {
    "repository_url": REPOSITORY_URL,
    "repository_branch": "main",
    "path_to_docs": "notebooks",
    "use_repository_button": True,
    "launch_buttons": {"binderhub_url": "https://mybinder.org", "colab_url": "https://colab.research.google.com",
                       "notebook_interface": "jupyterlab"},
    "show_toc_level": 2,
}
