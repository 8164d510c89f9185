"""Browser tests: JupyterLab on a free loopback port, driven by Debian's chromium through Playwright.

Playwright never downloads a browser here: the tests use /usr/bin/chromium (installed by `make browser`)
with a fresh profile directory, and skip with a message when it is missing.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("LABKIT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Lab:
    """A running JupyterLab: base URL, token, the folder it serves, and its REST API."""

    def __init__(self, url: str, token: str, folder: Path) -> None:
        self.url = url
        self.token = token
        self.folder = folder

    def api(self, method: str, path: str) -> requests.Response:
        """Call the Jupyter server's REST API with the token."""
        return requests.request(method, f"{self.url}/api/{path}", params={"token": self.token}, timeout=30)

    def page_url(self, notebook: str) -> str:
        """The JupyterLab address that opens `notebook`."""
        return f"{self.url}/lab/tree/{notebook}?token={self.token}"


@pytest.fixture
def jupyterlab(tmp_path):
    """JupyterLab serving a folder of its own (tests copy notebooks there, so autosave never touches the repo)."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    port, token = _free_port(), "labkit-browser-test"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
           "PYTHONPATH": str(ROOT)}
    jupyter = Path(sys.executable).with_name("jupyter")
    log = (tmp_path / "jupyterlab.log").open("wb")
    proc = subprocess.Popen(
        [str(jupyter), "lab", "--ip=127.0.0.1", f"--port={port}", "--no-browser", f"--notebook-dir={folder}",
         f"--IdentityProvider.token={token}", "--LabApp.news_url=None",
         *(["--allow-root"] if os.geteuid() == 0 else [])],
        cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    lab = Lab(f"http://127.0.0.1:{port}", token, folder)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if lab.api("GET", "contents").status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None, (tmp_path / "jupyterlab.log").read_text()
            assert time.monotonic() < deadline, "JupyterLab did not answer within 90 s"
            time.sleep(0.5)
        yield lab
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def browser_page(tmp_path):
    """A Playwright page in Debian's chromium with a fresh profile; closed after the test."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing; `make browser` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


@pytest.fixture
def artifacts() -> Path:
    """Folder for screenshots (gitignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


