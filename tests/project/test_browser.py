"""A real browser runs the playground: JupyterLab 4 + headless Chromium (Debian's, never downloaded).

The fixture starts ``python -m jupyter lab`` on 127.0.0.1 (free port, random token) with a
temporary copy of the notebooks as its root and isolated Jupyter config/runtime/workspace
folders; the test opens ``02_index_playground.ipynb``, runs all cells, checks that the widgets
rendered and no cell shows an error, moves a slider and checks the picture changed. A
screenshot goes to the pytest temp dir (and to ``docs/images/playground.png`` when
``INDEXNET_SAVE_SCREENSHOT=1``). Skipped, with the reason, where chromium or playwright is absent.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import free_port

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = "02_index_playground.ipynb"
SERVER_START_S = 90
KERNEL_RUN_S = 180


def _wait_for_server(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"jupyter lab did not answer within {SERVER_START_S} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def jupyter_lab(tmp_path):
    """(base URL, token) of a JupyterLab serving a copy of notebooks/; stopped on teardown."""
    root = tmp_path / "notebooks"
    shutil.copytree(REPO / "notebooks", root)
    home = tmp_path / "jupyter"
    settings = home / "lab-settings" / "@jupyterlab"
    for extension, name, values in [
        ("apputils-extension", "notification", {"fetchNews": "false", "checkForUpdates": False}),
        # every cell stays in the DOM; the notebook's own kernel starts without asking
        ("notebook-extension", "tracker", {"windowingMode": "none", "autoStartDefaultKernel": True}),
    ]:
        (settings / extension).mkdir(parents=True)
        (settings / extension / f"{name}.jupyterlab-settings").write_text(json.dumps(values))
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
               INDEXNET_QUICK="1", JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTERLAB_SETTINGS_DIR=str(home / "lab-settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"))
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}", "--LabApp.news_url=None", "--LabApp.check_for_updates_class="
               "jupyterlab.handlers.announcements.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = tmp_path / "jupyter-lab.log"
    with open(log, "wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=env, cwd=root,
                                   start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_server(f"{base}/api/status?token={token}", process, log)
        yield base, token
    finally:
        process.send_signal(signal.SIGINT)  # jupyter's clean shutdown: stops its kernels too
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGINT)  # the second ^C skips the confirmation prompt
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # the group this fixture started, and only it
                process.wait()


PROMPTS = "[...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(p => p.textContent)"


def _accept_kernel_dialog(page) -> None:
    """JupyterLab sometimes asks which kernel to use: take the notebook's own (Python 3)."""
    dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    if dialog.count():
        try:
            dialog.locator(".jp-Dialog-button.jp-mod-accept").click(timeout=5_000)
            dialog.wait_for(state="detached", timeout=5_000)
        except Exception:  # a dialog still opening or already closing: the caller's loop comes back
            pass


def _run_all_cells(page) -> None:
    """Run > Run All Cells until every code cell has an execution count ("[n]:").

    If the kernel is swapped or was not ready (JupyterLab then drops the queued cells: they
    fall back to "[ ]:" with nothing running for a while), Run All is clicked again.
    """
    deadline = time.monotonic() + KERNEL_RUN_S
    while time.monotonic() < deadline:
        _accept_kernel_dialog(page)
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator('li[data-command="runmenu:run-all"]').click()
        quiet_since = None
        while time.monotonic() < deadline:
            _accept_kernel_dialog(page)
            prompts = page.evaluate(PROMPTS)
            if prompts and all(re.search(r"\[\d+\]", p) for p in prompts):
                return
            errors = _error_outputs(page)
            if errors:  # Run All stops at a failing cell: report it instead of waiting
                raise AssertionError(f"a cell shows an error:\n{errors[0]}")
            if any("*" in p for p in prompts):
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > 10:
                break  # nothing queued, not everything ran: run all again
            time.sleep(0.5)
    raise AssertionError(f"the notebook did not finish within {KERNEL_RUN_S} s; prompts: {page.evaluate(PROMPTS)}")


def _error_outputs(page) -> list[str]:
    texts = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts()
    widget_errors = page.get_by_text("Error displaying widget").all_inner_texts()
    return [t for t in texts if "Error" in t or "Traceback" in t] + widget_errors


def test_playground_runs_in_jupyterlab_and_a_slider_redraws_the_picture(jupyter_lab, browser_page, tmp_path):
    base, token = jupyter_lab
    page = browser_page
    page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}")
    page.locator(".jp-NotebookPanel").first.wait_for(timeout=60_000)
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(timeout=60_000)
    try:
        _run_all_cells(page)
    finally:
        page.screenshot(path=str(tmp_path / "after-run-all.png"), full_page=True)

    assert _error_outputs(page) == []
    pooling = page.locator(".jp-OutputArea-output .widget-vbox").filter(has_text="painted tile").first
    pooling.wait_for(timeout=30_000)
    pooled = pooling.locator("img").nth(1)
    pooled.wait_for(timeout=30_000)
    assert page.locator(".jp-OutputArea-output img").count() >= 22  # 4 pooling + 17 upsampling + 1 plot

    page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").first.click()  # fold the file browser
    for _ in range(2):  # the notebook re-lays out while scrolling: align twice
        page.locator(".jp-CodeCell", has_text="pooling = PoolingApp").first.evaluate(
            "cell => cell.scrollIntoView({block: 'start'})")
        page.wait_for_timeout(500)
    before_src, before_pixels = pooled.get_attribute("src"), pooled.screenshot()
    screenshot = tmp_path / "playground.png"
    page.screenshot(path=str(screenshot))

    zoom = pooling.locator(".widget-slider", has_text="zoom").first
    zoom.locator(".noUi-handle").first.focus()
    page.keyboard.press("ArrowRight")  # zoom 64 → 128 px
    page.wait_for_function("([img, src]) => img.src !== src", arg=[pooled.element_handle(), before_src],
                           timeout=30_000)
    page.wait_for_timeout(300)
    assert pooled.get_attribute("src") != before_src
    assert pooled.screenshot() != before_pixels
    assert _error_outputs(page) == []

    if os.environ.get("INDEXNET_SAVE_SCREENSHOT") == "1":
        target = REPO / "docs" / "images" / "playground.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".png.tmp")
        shutil.copyfile(screenshot, partial)
        os.replace(partial, target)


def test_opening_a_lesson_leaves_it_unmodified(jupyter_lab, browser_page):
    # JupyterLab writes the kernel's metadata into a notebook it opens; a lesson stored with other
    # metadata would turn dirty, be autosaved and show as modified in `git status`.
    base, token = jupyter_lab
    page = browser_page
    page.goto(f"{base}/lab/tree/00_start_here.ipynb?token={token}")
    page.locator(".jp-NotebookPanel").first.wait_for(timeout=60_000)
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(timeout=60_000)
    page.wait_for_timeout(3_000)  # the kernel's language_info has arrived
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="00_start_here.ipynb").first
    assert "jp-mod-dirty" not in (tab.get_attribute("class") or "")
