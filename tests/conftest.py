"""Shared test settings: hypothesis profiles and small helpers."""
import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]
MMCV_REFERENCE = REPO.parent / "shared" / "reference" / "mmcv_carafe"

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI (declared in the dev extra for < 3.11)
    import tomli as tomllib


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def requirement_name(spec: str) -> str:
    """The distribution name of a requirement line ("torch>=2.4" → "torch"), lower case."""
    return re.split(r"[<>=!~;\[ ]", spec.strip(), maxsplit=1)[0].lower()


def load_tool(name: str):
    """Import ``tools/<name>.py`` (the dev scripts are not part of the installed package)."""
    spec = importlib.util.spec_from_file_location(f"tools_{name}", REPO / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

# Timing on shared 2-core machines is noisy: no per-example deadline. CI runs fewer examples.
settings.register_profile("ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# `make test` names its profile (INDEXNET_HYPOTHESIS_PROFILE=ci by default: what CI runs); a bare
# pytest takes "ci" under CI and "dev" elsewhere.
HYPOTHESIS_PROFILE = os.environ.get("INDEXNET_HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
if HYPOTHESIS_PROFILE not in ("ci", "dev"):
    raise ValueError(f"INDEXNET_HYPOTHESIS_PROFILE must be 'ci' or 'dev', got {HYPOTHESIS_PROFILE!r}")
settings.load_profile(HYPOTHESIS_PROFILE)


@pytest.fixture
def rng():
    return torch.Generator().manual_seed(0)


#: (kernel size k, scale s) pairs the reassembly tests draw from: each pair is a separately
#: generated and compiled numba kernel (2–8 s to compile the first time), so the property tests
#: share this set with the parametrised ones instead of drawing every k × s combination.
GEOMETRIES = ((1, 2), (3, 2), (5, 2), (1, 3), (3, 4), (5, 4), (3, 1))


def run_python(code: str, env_extra: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run ``code`` (dedented) in a fresh interpreter on this checkout, from the repository root."""
    env = {**os.environ, "PYTHONPATH": str(REPO), **(env_extra or {})}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=timeout)


def numba_importable() -> bool:
    return importlib.util.find_spec("numba") is not None


@pytest.fixture(params=["torch", "numba"])
def implementation(request):
    """Each CPU reassembly implementation in turn: the PyTorch operator and the fused numba kernel.
    Without numba (an optional dependency; `make setup` installs it) the numba case is skipped,
    and the skip says so: the suite must also pass where numba is absent."""
    if request.param == "numba" and not numba_importable():
        pytest.skip("numba is not installed (pip install numba): the fused CPU kernel is optional")
    return request.param


@pytest.fixture
def one_thread():
    """Run a test on one PyTorch thread. Tiny models and exactness checks gain nothing from a
    second thread, and on a busy shared CPU every parallel operator call can wait a whole
    scheduler slice for it (gradcheck makes thousands of calls)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --- a real browser: Debian's chromium driven by Playwright, never a downloaded one --------------

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1440, "height": 1000}


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium); the browser tests never download one")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def browser_page():
    """A page of a headless Chromium (skipped, with the reason, where chromium or playwright is absent)."""
    executable = chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            yield page
        finally:
            browser.close()


#: The two longest files (the lessons from the installed wheel, the book's first build): collected
#: first, so that under ``make test``'s two processes each starts one while the other files follow.
FIRST = ("project/test_installed_wheel.py", "project/test_book.py")


def pytest_collection_modifyitems(items):
    def rank(item):
        path = item.path.as_posix()
        return next((i for i, name in enumerate(FIRST) if path.endswith(name)), len(FIRST))
    items.sort(key=rank)  # stable: every other test keeps its order
