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

# Everything the pages load comes with them, so the book reads offline. Maths: MathJax 2 from the
# jupyter_server_mathjax package, copied into _static/mathjax by tools/book.py.
html_static_path = ["_static"]
html_css_files = ["lessons.css"]  # code and output wrap at the column (docs/book/_static)
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
mathjax2_config = {"tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]],
                               "processEscapes": True},
                   # the package ships the STIX web fonts only (no TeX fonts, no image fonts)
                   "HTML-CSS": {"availableFonts": [], "preferredFont": None, "webFont": "STIX-Web",
                                "imageFont": None},
                   "messageStyle": "none", "showMathMenu": False}
myst_update_mathjax = False  # myst would add a MathJax 3 configuration
# Widgets: their saved state would need require.js and the widget manager from a CDN. The book
# shows each widget's static figure (the cell after it) instead, and a note where the widget is.
nb_ipywidgets_js = {}
suppress_warnings = ["myst.header"]  # lessons go from '# title' straight to '### After this lesson'

# Executed in quick mode (tools/book.py sets INDEXNET_QUICK=1 for the kernels), cached by
# jupyter-cache in a folder keyed by the package's source: a rebuild re-executes only what changed.
nb_execution_mode = "cache"
nb_execution_cache_path = os.environ.get("INDEXNET_BOOK_CACHE", str(REPO / "build" / "book-cache" / "default"))
nb_execution_timeout = int(os.environ.get("INDEXNET_BOOK_CELL_TIMEOUT", "600"))
nb_execution_raise_on_error = True  # a failing cell fails the build
nb_execution_show_tb = True
nb_merge_streams = True
# Markdown that cells display (results tables, contrasts) is parsed as MyST, which has tables;
# myst-nb's default, CommonMark, has none and printed every table as one run-on paragraph.
nb_render_markdown_format = "myst"

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


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = ('<p class="widget-note"><em>An interactive widget runs here in JupyterLab, Colab or Binder '
               '(the launch buttons above); the figure below shows it at a few settings.</em></p>')


def replace_widget_views(app, doctree, docname):
    """Each saved widget view (blank without the widget manager) becomes a short note."""
    from docutils import nodes

    for node in list(doctree.findall(nodes.raw)):
        if WIDGET_VIEW in node.astext():
            node.replace_self(nodes.raw("", WIDGET_NOTE, format="html"))


def setup(app):
    app.connect("doctree-resolved", replace_widget_views)
