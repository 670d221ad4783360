"""`make lab` opens JupyterLab without its first-launch prompt about Jupyter news.

JupyterLab 4 asks every new user whether to fetch news (a toast) unless the notification
setting ``fetchNews`` says "false"; ``--LabApp.news_url=None`` does not stop the prompt. The
Makefile points Lab's application settings at ``binder/lab-settings`` (``overrides.json``), and
Binder's postBuild copies that file into the environment. This test starts Lab with the very
flag the Makefile passes and reads the effective setting back from Lab's settings API."""
from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import free_port

REPO = Path(__file__).resolve().parents[2]
SETTING = "@jupyterlab/apputils-extension:notification"


def makefile_settings_flag() -> str:
    text = (REPO / "Makefile").read_text()
    recipe = text[text.index("\nlab:"):].split("\n\n")[0]
    match = re.search(r"--LabApp\.app_settings_dir=(\S+)", recipe)
    assert match, "the lab recipe must pass --LabApp.app_settings_dir (the news prompt is off there)"
    return "--LabApp.app_settings_dir=" + match.group(1).replace("$(CURDIR)", str(REPO))


def notification_defaults(tmp_path: Path, *extra: str) -> dict:
    """The notification settings' defaults as a JupyterLab started with ``extra`` flags sees them."""
    port, token = free_port(), secrets.token_hex(8)
    home = tmp_path / f"jupyter-{port}"
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(home / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"))
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={tmp_path}", *extra]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = home.with_suffix(".log")
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/lab/api/settings/{SETTING}?token={token}"
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"jupyter lab exited with {process.returncode}:\n{log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    properties = json.load(response)["schema"]["properties"]
                    return {name: properties[name].get("default") for name in ("fetchNews", "checkForUpdates")}
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"jupyter lab did not answer in 90 s:\n{log.read_text()[-2000:]}")
                time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.mark.slow
def test_make_lab_turns_off_the_news_prompt_and_update_checks(tmp_path):
    assert notification_defaults(tmp_path, makefile_settings_flag()) == {"fetchNews": "false",
                                                                         "checkForUpdates": False}
    # what a plain `jupyter lab` does: "none" = ask the user, the toast this removes
    assert notification_defaults(tmp_path)["fetchNews"] == "none"


def test_binder_postbuild_installs_the_same_overrides():
    post_build = (REPO / "binder" / "postBuild").read_text()
    assert "binder/lab-settings/overrides.json" in post_build and "share/jupyter/lab/settings" in post_build
    overrides = json.loads((REPO / "binder" / "lab-settings" / "overrides.json").read_text())
    assert overrides[SETTING] == {"fetchNews": "false", "checkForUpdates": False}
