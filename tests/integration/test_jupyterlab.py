"""`make lab` serves JupyterLab on 127.0.0.1 with the lessons; started here the way the Makefile starts it."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_makefile_lab_target_starts_jupyterlab_on_loopback_in_notebooks():
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^lab: up\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "--ip=127.0.0.1" in recipe and "--notebook-dir=notebooks" in recipe
    assert "$(ALLOW_ROOT)" in recipe  # JupyterLab exits at once when run as root without --allow-root


def test_jupyterlab_serves_the_lessons(tmp_path):
    port = _free_port()
    token = "labkit-test"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg")}
    jupyter = Path(sys.executable).with_name("jupyter")
    proc = subprocess.Popen(
        [str(jupyter), "lab", "--ip=127.0.0.1", f"--port={port}", "--no-browser", "--notebook-dir=notebooks",
         f"--IdentityProvider.token={token}", *(["--allow-root"] if os.geteuid() == 0 else [])],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                reply = requests.get(f"{base}/api/contents", params={"token": token}, timeout=2)
                if reply.status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "JupyterLab did not answer within 90 s"
            time.sleep(0.5)
        names = {item["name"] for item in reply.json()["content"]}
        assert "01_cluster_setup.ipynb" in names
        page = requests.get(f"{base}/lab", params={"token": token}, timeout=10)
        assert page.status_code == 200 and "JupyterLab" in page.text
        kernels = requests.get(f"{base}/api/kernelspecs", params={"token": token}, timeout=10).json()
        assert "python3" in kernels["kernelspecs"]
        with socket.socket() as probe:  # loopback only: the port is not open on other addresses
            probe.settimeout(1)
            other = socket.gethostbyname(socket.gethostname())
            if other != "127.0.0.1" and not other.startswith("127."):
                assert probe.connect_ex((other, port)) != 0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
