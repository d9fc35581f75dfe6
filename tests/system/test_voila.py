"""The playground lesson as a code-free app: Voila serves notebooks/09_playground.ipynb and renders its widgets."""

import html
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "09_playground.ipynb"
START_TIMEOUT_S = 60  # the server listening
RENDER_TIMEOUT_S = 300  # Voila executes the whole notebook while answering the first request
CELL_OUTPUT = re.compile(r'<script type="application/vnd\.voila\.cell-output\+json">\s*(.*?)\s*</script>', re.S)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def voila_url():
    """A Voila server of the playground on a free local port, stopped (with its kernel) afterwards."""
    port = free_port()
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        # the kernel imports this checkout's nbdiag, installed or not
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "voila",
            str(NOTEBOOK),
            "--no-browser",
            f"--port={port}",
            "--Voila.ip=127.0.0.1",
            "--Voila.port_retries=0",
            "--show_tracebacks=True",
        ],  # a failing cell shows its traceback in the page
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert server.poll() is None, f"voila exited with {server.returncode}:\n{server.stderr.read()}"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, f"voila did not listen on port {port} within {START_TIMEOUT_S} s"
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.terminate()  # voila shuts its kernels down on SIGTERM
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        server.stderr.close()


def test_playground_renders_in_voila(voila_url):
    assert os.environ.get("NBDIAG_DATA_DIR"), "the kernel needs NBDIAG_DATA_DIR (or a cached download) for the data"
    with urllib.request.urlopen(voila_url, timeout=RENDER_TIMEOUT_S) as response:
        assert response.status == 200
        page = response.read().decode()

    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert "Traceback (most recent call last)" not in text, (
        "the notebook failed in Voila:\n" + text[text.index("Traceback (most recent call last)") :][:3000]
    )
    outputs = [json.loads(block) for block in CELL_OUTPUT.findall(page)]
    errors = [o for o in outputs if o.get("output_type") == "error" or o.get("name") == "stderr"]
    assert not errors, f"the notebook printed errors in Voila: {errors}"
    views = [o["data"] for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) == 2 and all(view.get("image/png") for view in views)  # the live widget, and its still
    dashboard, comparison = (view["text/plain"] for view in views)  # what each showed, as the kernel ran it
    assert dashboard.startswith("trained 300 steps") and "# activations" in dashboard
    assert "batch norm off" in comparison and "batch norm on" in comparison

    assert "Lesson 9 · Playground" in text  # the markdown is rendered...
    assert "load_dataset" not in page  # ...and the code is not: a code-free view
