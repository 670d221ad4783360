"""The lessons as a rendered book: `tools/book.py` builds it (quick mode, cached execution) and a real
headless Chromium opens every page: each renders, shows its figures, and holds no error output.

The pages are served by a ``http.server`` on 127.0.0.1 (a free port, stopped by the fixture). Every
request to another host is refused by the browser, as if the reader were offline: every image
must still load and every formula be typeset (MathJax is served with the pages).
"""
from __future__ import annotations

import functools
import json
import http.server
import re
import threading
from pathlib import Path

import pytest

from conftest import REPO, free_port, load_tool

LESSONS = sorted(p.stem for p in (REPO / "notebooks").glob("*.ipynb"))
SNAPSHOT_CALLS = ("pooling_snapshots(pooling.explorer)", 'upsampling_snapshots(upsampling.explorer, {"stride": 2})',
                  'kernel_snapshots(upsampling.explorer, {"stride": 2})',
                  'upsampling_snapshots(upsampling.explorer, {"stride": 4})', "temperature_snapshots(continuum.explorer)")
BOOK_SOURCE = REPO / "docs" / "book"
BOOK_VIEWPORT = {"width": 1280, "height": 1000}


def test_the_landing_page_maps_every_lesson():
    landing = (BOOK_SOURCE / "index.md").read_text()
    linked = re.findall(r"\]\(([0-9]{2}_\w+)\.ipynb\)", landing)
    assert linked == LESSONS


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    """The built book's html folder, served on 127.0.0.1: yields (folder, base URL)."""
    pytest.importorskip("myst_nb", reason="the book extra is not installed (pip install -e '.[book]')")
    out = tmp_path_factory.mktemp("book")
    index = load_tool("book").build_book(out, quiet=True)
    html = index.parent
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(html))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield html, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def page(browser_page, book):
    _, base = book
    host = base.split("//", 1)[1]
    browser_page.route("**/*", lambda route: route.continue_() if f"//{host}/" in route.request.url
                       else route.abort())
    # A laptop's window: the page column is 688 px here (730 px at the conftest's 1440), so what
    # fits is checked at the narrower of the two.
    browser_page.set_viewport_size(BOOK_VIEWPORT)
    return browser_page


IMAGES = """() => [...document.querySelectorAll('article img')]
    .map(img => ({src: img.getAttribute('src'), loaded: img.complete && img.naturalWidth > 0,
                  output: !!img.closest('.cell_output')}))"""

# Resolves once MathJax (served from the book's own _static) has typeset the page.
MATHJAX_DONE = """() => new Promise((resolve, reject) => {
    const start = Date.now();
    (function wait() {
        if (window.MathJax && MathJax.Hub && MathJax.isReady) { MathJax.Hub.Queue(() => resolve(true)); }
        else if (Date.now() - start > 20000) { reject(new Error('MathJax did not start')); }
        else { setTimeout(wait, 50); }
    })();
})"""
RAW_MATHS = re.compile(r"\\\(|\\\[|\$\$")


def _uses_maths(lesson: str) -> bool:
    notebook = json.loads((REPO / "notebooks" / f"{lesson}.ipynb").read_text(encoding="utf-8"))
    return any(cell["cell_type"] == "markdown" and "$" in "".join(cell["source"]) for cell in notebook["cells"])


ERROR_TEXT = re.compile(r"Traceback \(most recent call last\)|^\w*(Error|Exception)\b.*:", re.MULTILINE)


def _errors(page) -> list[str]:
    """Error outputs: a traceback block, or any output (stream, stderr, text) that reads like one."""
    found = page.locator(".cell_output .traceback, .cell_output .output.error").all_inner_texts()
    found += [text for text in page.locator(".cell_output .output").all_inner_texts() if ERROR_TEXT.search(text)]
    body = page.locator("article").inner_text()
    found += [f"a widget's text stand-in: {m}" for m in re.findall(r"[HV]Box\(children=.{0,40}", body)]
    return found


pytestmark = pytest.mark.browser


@pytest.mark.parametrize("lesson", LESSONS)
def test_each_lesson_page_renders_its_figures_and_no_errors(page, book, lesson):
    html, base = book
    assert (html / f"{lesson}.html").is_file()
    page.goto(f"{base}/{lesson}.html", wait_until="load")
    title = page.locator("article h1").first.inner_text()
    assert title.startswith(lesson[:2]), title
    assert page.locator("article .cell").count() > 0  # the notebook's cells were rendered
    images = page.evaluate(IMAGES)
    figures = [image for image in images if image["output"]]
    assert figures, f"{lesson}: no figure in any cell output"
    assert all(image["loaded"] for image in images), [image["src"] for image in images if not image["loaded"]]
    assert _errors(page) == []
    # tables a cell displays (results, contrasts) are tables, not rows of bars printed as text
    printed_tables = page.evaluate("""() => [...document.querySelectorAll('article p')]
        .map(p => p.innerText.trim()).filter(text => text.startsWith('|') && text.includes('---'))""")
    assert printed_tables == [], f"{lesson}: a markdown table printed as text: {printed_tables[0][:120]}"
    # no code or output line runs past the page column (cut off, or only readable by scrolling)
    overflowing = page.evaluate("""() => [...document.querySelectorAll('article div.cell pre')]
        .filter(pre => pre.scrollWidth > pre.clientWidth + 1).map(pre => pre.innerText.slice(0, 80))""")
    assert overflowing == [], f"{lesson}: {len(overflowing)} code blocks wider than the page, e.g. {overflowing[0]!r}"
    # no output that prints thousands of characters of a value nobody reads (a dict of PNG bytes)
    longest = max((len(text) for text in page.locator(".cell_output pre").all_inner_texts()), default=0)
    assert longest < 6000, f"{lesson}: a cell prints {longest} characters"
    # no table wider than the page column (cut off at its edge, or only readable by scrolling)
    wide_tables = page.evaluate("""() => { const right = document.querySelector('article').getBoundingClientRect().right;
        return [...document.querySelectorAll('article table')].filter(t => t.getBoundingClientRect().right > right + 1
            || t.parentElement.scrollWidth > t.parentElement.clientWidth + 1).map(t => t.innerText.slice(0, 60)); }""")
    assert wide_tables == [], f"{lesson}: {len(wide_tables)} tables wider than the page, e.g. {wide_tables[0]!r}"
    if _uses_maths(lesson):  # formulas typeset offline: no raw TeX left in the text
        page.evaluate(MATHJAX_DONE)
        assert page.locator("article .MathJax, article .MathJax_Display, article .MathJax_CHTML").count() > 0
        prose = page.evaluate("""() => { const copy = document.querySelector('article').cloneNode(true);
            copy.querySelectorAll('.cell, script').forEach(node => node.remove()); return copy.innerText; }""")
        raw = RAW_MATHS.findall(prose)
        assert not raw, f"{lesson}: {len(raw)} formulas left as raw TeX"


def test_playground_page_shows_a_static_figure_after_each_widget(page, book):
    _, base = book
    page.goto(f"{base}/02_index_playground.html", wait_until="load")
    for call in SNAPSHOT_CALLS:
        cell = page.locator("article .cell", has_text=call)
        assert cell.count() == 1, call
        figure = cell.locator(".cell_output img")
        assert figure.count() == 1, call
        assert figure.evaluate("img => img.complete && img.naturalWidth > 300"), call


def test_landing_page_links_every_lesson_page(page, book):
    _, base = book
    page.goto(f"{base}/index.html", wait_until="load")
    links = page.locator("article a.reference.internal").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    for lesson in LESSONS:
        assert f"{lesson}.html" in links, lesson


REFERENCE = sorted(p.stem for p in (REPO / "docs" / "book" / "reference").glob("*.md"))


@pytest.mark.parametrize("name", REFERENCE)
def test_each_reference_page_renders_its_generated_tables_within_the_column(page, book, name):
    html, base = book
    page.goto(f"{base}/reference/{name}.html", wait_until="load")
    body = page.locator("article").inner_text()
    assert "generated:" not in body and "<!--" not in body  # every marker was filled in
    images = page.evaluate(IMAGES)
    assert all(image["loaded"] for image in images), [image["src"] for image in images if not image["loaded"]]
    printed_tables = page.evaluate("""() => [...document.querySelectorAll('article p')]
        .map(p => p.innerText.trim()).filter(text => text.startsWith('|') && text.includes('---'))""")
    assert printed_tables == []
    wide = page.evaluate("""() => { const right = document.querySelector('article').getBoundingClientRect().right;
        return [...document.querySelectorAll('article table, article pre')]
            .filter(t => t.getBoundingClientRect().right > right + 1 || t.scrollWidth > t.clientWidth + 1)
            .map(t => t.innerText.slice(0, 60)); }""")
    assert wide == [], f"{name}: {len(wide)} tables or code blocks wider than the page, e.g. {wide[0]!r}"


def test_landing_page_links_every_reference_page(page, book):
    _, base = book
    page.goto(f"{base}/index.html", wait_until="load")
    links = page.locator("article a.reference.internal").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert all(f"reference/{name}.html" in links for name in REFERENCE), links
