"""Run a notebook in a real JupyterLab driven by a real Chromium: start, open, run all, read text, move widgets.

Reusable by any browser test module: declare `pytest_plugins = ["browser.harness"]` (not `from ... import` of
the fixtures: each importing module would start its own server and browser), then in a test taking the
`open_notebook` fixture: `nb = open_notebook("lessons/01.ipynb"); nb.run_all(); nb.wait_for_output("...")`.
One JupyterLab and one Chromium serve the whole session; each notebook gets a fresh browser context.
"""

import ast
import base64
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = os.environ.get("NBDIAG_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = "NBDIAG_REQUIRE_BROWSER"  # =1 (as in .ci/run): a missing browser fails instead of skipping
INSTALL_HINT = (
    "the browser test needs Debian's Chromium and Python Playwright: "
    "`apt-get install chromium` and `pip install playwright` (never `playwright install`)"
)
# Headless, no sandbox (CI runs as root), and none of Chromium's background calls to Google services.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--no-pings",
    "--metrics-recording-only",
    "--disable-features=OptimizationHints,Translate,MediaRouter",
]
# JupyterLab user settings for a quiet, deterministic page: no news prompt, no update check, every cell in the DOM.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}
STARTUP_TIMEOUT = 90  # s: a cold JupyterLab on a busy 2-core machine
KERNEL_TIMEOUT = 180  # s: running all cells, including a first `import torch`


def require_browser():
    """Skip (or, with NBDIAG_REQUIRE_BROWSER=1, fail) unless Chromium, Playwright and JupyterLab are installed."""
    missing = [
        what
        for what, ok in [
            (f"Chromium at {CHROMIUM}", os.access(CHROMIUM, os.X_OK)),
            ("Python Playwright", _importable("playwright.sync_api")),
            ("JupyterLab", _importable("jupyterlab")),
        ]
        if not ok
    ]
    if missing:
        message = f"missing {', '.join(missing)}: {INSTALL_HINT}"
        if os.environ.get(REQUIRE_BROWSER) == "1":
            pytest.fail(f"{message} ({REQUIRE_BROWSER}=1 makes this a failure)", pytrace=False)
        pytest.skip(message)


def _importable(module):
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def free_port():
    """A localhost port nobody listens on (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterLab:
    """A token-less `jupyter lab` on a free localhost port, serving a temporary folder, with its own settings.

    By default it runs on this Python, and its kernels import this checkout's nbdiag (with `repo`, another
    checkout's instead, e.g. a frozen copy to measure against). With `python` (another environment's interpreter,
    e.g. a venv's bin/python) it runs on that one instead, and its kernels import only what that environment has
    installed (no PYTHONPATH): its own nbdiag, and no ipympl if it has none.
    """

    def __init__(self, workdir, python=None, repo=REPO):
        self.workdir = Path(workdir)
        self.python = Path(python) if python is not None else None
        self.repo = Path(repo)
        self.root = self.workdir / "notebooks"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.workdir / "jupyter.log"
        self.process = None

    def start(self):
        self.root.mkdir(parents=True, exist_ok=True)
        settings = self.workdir / "lab-settings"
        for plugin, values in LAB_SETTINGS.items():
            path = settings / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        env = dict(os.environ)
        env.update(
            JUPYTER_CONFIG_DIR=str(self.workdir / "config"),  # the user's own Jupyter config must not apply
            JUPYTER_RUNTIME_DIR=str(self.workdir / "runtime"),
            JUPYTER_DATA_DIR=str(self.workdir / "data"),  # no user-level kernel spec shadows this Python's
            JUPYTERLAB_SETTINGS_DIR=str(settings),
            JUPYTERLAB_WORKSPACES_DIR=str(self.workdir / "workspaces"),  # no layout restored from an earlier run
            IPYTHONDIR=str(self.workdir / "ipython"),
            JUPYTER_PLATFORM_DIRS="1",
        )
        if self.python is None:  # the kernel imports this checkout's nbdiag (or `repo`'s), installed or not
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.repo), os.environ.get("PYTHONPATH")]))
        else:  # the other environment's own packages only, and its commands first
            env.pop("PYTHONPATH", None)
            env["PATH"] = os.pathsep.join([str(self.python.parent), env.get("PATH", os.defpath)])
        command = [
            str(self.python or sys.executable),
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--allow-root",
            f"--port={self.port}",
            "--ServerApp.ip=127.0.0.1",
            "--ServerApp.port_retries=0",
            "--ServerApp.token=",
            f"--ServerApp.root_dir={self.root}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            command, env=env, cwd=self.root, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"jupyter lab did not answer on {self.url} within {STARTUP_TIMEOUT} s:\n{self.log_tail()}")

    def add_notebook(self, path):
        """Copy a notebook into the served folder; returns its name there."""
        path = Path(path)
        shutil.copy(path, self.root / path.name)
        return path.name

    def log_tail(self, lines=40):
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self):
        """SIGTERM the server (it shuts its kernels down); after 20 s, SIGKILL it and the kernels it started."""
        if self.process is None:
            return
        kernels = _children(self.process.pid)  # jupyter_client starts each kernel in a session of its own
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # start_new_session made the server its group's leader
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        for pid, cmdline in kernels.items():
            if _cmdline(pid) == cmdline:  # it outlived the server's shutdown (and its id was not reused)
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.log.close()


def _children(pid):
    """{process id: command line} of the processes whose parent is `pid` (Linux /proc)."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])  # after "pid (comm)": state, ppid, ...
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            children[int(stat.parent.name)] = _cmdline(int(stat.parent.name))
    return children


def _cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None


# In-page probe, installed before the page's own scripts: times from a user action (Enter, a click or a key that
# moves a slider; or, with startOn, only the events named there: a drag's pointerup, or the Enter after typing into
# a readout, not the click into it) to the expected text, to the repaints of ipympl canvases, to the page's first
# message to a kernel and, with `watch`, to the first showing of an element (a progress bar). ipympl paints each
# visible canvas with drawImage from the figure model's offscreen canvas, so hooking drawImage gives exact repaint
# times without polling pixels.
PROBE_JS = """
(() => {
  window.__panel = (name) =>  // the notebook panel showing `name` (JupyterLab exposed as window.jupyterapp)
    Array.from(window.jupyterapp.shell.widgets('main')).find(w => w.context && w.context.path === name);
  window.__outputsInclude = (text) =>
    [...document.querySelectorAll('.jp-OutputArea')].some(e => e.textContent.includes(text));
  const probe = window.__probe = {armed: false, expected: null, start: null, text: null, draws: [], lastDraw: 0,
                                  startOn: null, watch: null, seen: null, sent: null};
  const keys = ['Enter', 'ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', 'Home', 'End', 'PageUp', 'PageDown'];
  const starts = (event) => probe.startOn  // an event type, or a type and key: 'pointerup', 'keydown:Enter'
    ? probe.startOn.includes(event.type) || probe.startOn.includes(`${event.type}:${event.key}`)
    : event.type === 'click' || keys.includes(event.key);
  const arm = (event) => {
    if (probe.armed && probe.start === null && starts(event))
      probe.start = performance.now();
  };
  document.addEventListener('keydown', arm, true);
  document.addEventListener('click', arm, true);
  document.addEventListener('pointerup', arm, true);
  const send = WebSocket.prototype.send;  // the page's messages to the kernel (widget changes among them)
  WebSocket.prototype.send = function (...args) {
    if (probe.start !== null && probe.sent === null) probe.sent = performance.now();
    return send.apply(this, args);
  };
  const drawImage = CanvasRenderingContext2D.prototype.drawImage;
  CanvasRenderingContext2D.prototype.drawImage = function (...args) {
    const figure = this.canvas.closest && this.canvas.closest('.jupyter-matplotlib-figure');
    if (figure && figure.isConnected) {  // not a figure whose output has gone (a re-run cell's): nobody sees it
      probe.lastDraw = performance.now();
      if (probe.start !== null)
        probe.draws.push({t: probe.lastDraw, figure: [...document.querySelectorAll('.jupyter-matplotlib-figure')]
                                                       .indexOf(figure)});
    }
    return drawImage.apply(this, args);
  };
  const check = () => {
    if (probe.start !== null && probe.text === null && probe.expected !== null &&
        window.__outputsInclude(probe.expected))
      probe.text = performance.now();
    if (probe.start !== null && probe.seen === null && probe.watch !== null && document.querySelector(probe.watch))
      probe.seen = performance.now();
    requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
})();
"""


def _exactly(label):
    """A pattern for a widget label reading `label`; ipywidgets pads empty labels with a zero-width space."""
    return re.compile(rf"^[\s\u200b]*{re.escape(label)}[\s\u200b]*$")


class NotebookPage:
    """One notebook open in JupyterLab in a Chromium tab, with the actions and reads a test needs."""

    def __init__(self, page, lab, name):
        self.page, self.lab, self.name = page, lab, name
        self.console_errors = []
        page.add_init_script(PROBE_JS)  # before the page's own scripts, so every canvas repaint is seen
        page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        page.on("pageerror", lambda e: self.console_errors.append(str(e)))

    def open(self):
        # ?reset: a fresh workspace, not the tabs another test's page left open on this server
        self.page.goto(f"{self.lab.url}/lab/tree/{self.name}?reset")
        self.page.wait_for_function(
            "() => window.jupyterapp && window.jupyterapp.commands.hasCommand('notebook:run-all-cells')",
            timeout=STARTUP_TIMEOUT * 1000,
        )
        self._until("name => !!window.__panel(name)", STARTUP_TIMEOUT, f"{self.name} to open")
        self.wait_for_kernel_idle()
        return self

    def _until(self, js, timeout, what):
        """Poll `js` (a page function of the notebook's name), clicking away dialogs meanwhile; fail with `what`
        after `timeout` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.dismiss_dialogs()
            if self.page.evaluate(js, self.name):
                return
            self.page.wait_for_timeout(250)
        raise AssertionError(
            f"timed out after {timeout} s waiting for {what}\n--- jupyter log ---\n"
            f"{self.lab.log_tail()}\n--- console errors ---\n" + "\n".join(self.console_errors)
        )

    def wait_for_kernel_idle(self, timeout=KERNEL_TIMEOUT):
        self._until(
            """name => {
            const session = window.__panel(name).sessionContext.session;
            return !!(session && session.kernel) && session.kernel.status === 'idle';
        }""",
            timeout,
            "the kernel to be idle",
        )

    def dismiss_dialogs(self):
        """Accept a kernel choice, refuse anything else (build prompts); answer the news toast with No."""
        from playwright.sync_api import Error

        try:  # a dialog may close by itself between finding and clicking it
            for dialog in self.page.locator(".jp-Dialog").all():
                kernel_choice = "kernel" in dialog.inner_text(timeout=2000).lower()
                dialog.locator(".jp-mod-accept" if kernel_choice else ".jp-mod-reject").first.click(timeout=2000)
            no_news = self.page.locator(".jp-toast-button", has_text=re.compile(r"^\s*No\s*$"))
            if no_news.count():
                no_news.first.click(timeout=2000)
        except Error:
            pass

    def run_all(self, timeout=KERNEL_TIMEOUT):
        """Run every cell and wait until each code cell has an execution count and the kernel is idle."""
        self.page.evaluate(
            """name => {  // the command runs the active notebook: make it this one
            window.jupyterapp.shell.activateById(window.__panel(name).id);
            return window.jupyterapp.commands.execute('notebook:run-all-cells');
        }""",
            self.name,
        )
        self._until(
            """name => {
            const w = window.__panel(name);
            const cells = w.content.widgets.filter(c => c.model.type === 'code');
            const session = w.sessionContext.session;
            return cells.every(c => c.model.executionCount !== null) && session.kernel.status === 'idle';
        }""",
            timeout,
            "all cells to run",
        )

    def cell_errors(self):
        """Tracebacks shown in the notebook's outputs."""
        return self.page.locator(
            '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"], '
            '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]'
        ).all_inner_texts()

    def output_text(self):
        """The text of the cells' outputs (widgets included) as a student reads it."""
        return "\n".join(self.page.locator(".jp-OutputArea").all_inner_texts())

    def wait_for_output(self, text, timeout=KERNEL_TIMEOUT):
        """Wait until some cell output contains `text`."""
        self.page.wait_for_function("t => window.__outputsInclude(t)", arg=text, timeout=timeout * 1000)

    def figure_sizes(self):
        """(width, height) in page pixels of each ipympl figure's canvas: (0, 0) is a figure nobody sees."""
        return [
            tuple(size)
            for size in self.page.evaluate("""() =>
            [...document.querySelectorAll('.jupyter-matplotlib-figure')].map(f => {
                const c = f.querySelector('canvas'); return c ? [c.offsetWidth, c.offsetHeight] : [0, 0]; })""")
        ]

    def wait_for_figures(self, timeout=60):
        """Wait until the page shows at least one ipympl figure and every one has a visible canvas; their sizes."""
        deadline = time.monotonic() + timeout
        while True:
            sizes = self.figure_sizes()
            if sizes and all(w > 0 and h > 0 for w, h in sizes):
                return sizes
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"ipympl figures not shown after {timeout} s (canvas sizes {sizes}); "
                    "console errors:\n" + "\n".join(self.console_errors)
                )
            self.page.wait_for_timeout(250)

    def canvas_pixels(self):
        """The pixels each ipympl figure's canvas shows, as (height, width, RGBA) uint8 arrays."""
        import numpy as np
        from PIL import Image

        urls = self.page.evaluate("""() => [...document.querySelectorAll('.jupyter-matplotlib-figure')]
            .map(f => { const c = f.querySelector('canvas'); return c ? c.toDataURL('image/png') : null; })""")
        return [
            None
            if url is None
            else np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGBA"))
            for url in urls
        ]

    def slider(self, label):
        """The slider whose label reads `label` exactly."""
        label = self.page.locator(".widget-label", has_text=_exactly(label))
        return self.page.locator(".widget-slider", has=label)

    def slider_readout(self, label):
        """The editable readout of the slider whose label reads `label` exactly."""
        return self.slider(label).locator(".widget-readout").first

    def slider_handle(self, label):
        """The handle of the slider whose label reads `label` exactly (it takes the keyboard once focused)."""
        return self.slider(label).locator(".noUi-handle").first

    def drag_slider(self, label, fraction, moves=10, interval=0.03):
        """Drag a slider's handle with the mouse as a student would: press it, move in `moves` steps `interval` s
        apart to `fraction` of its track (0 its left end, 1 its right; beyond them the handle stops at the end) and
        let go at once (the pointerup an armed probe with start_on=["pointerup"] times from)."""
        handle = self.slider_handle(label).bounding_box()
        track = self.slider(label).locator(".noUi-target").first.bounding_box()
        x0, y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
        x1 = track["x"] + fraction * track["width"]
        self.page.mouse.move(x0, y)
        self.page.mouse.down()
        for i in range(1, moves + 1):
            if i > 1:
                self.page.wait_for_timeout(interval * 1000)
            self.page.mouse.move(x0 + (x1 - x0) * i / moves, y)
        self.page.mouse.up()

    def text_box(self, label):
        """The input of the text or number box whose label reads `label` exactly."""
        label = self.page.locator(".widget-label", has_text=_exactly(label))
        return self.page.locator(".widget-text", has=label).locator("input").first

    def type_into_box(self, label, value):
        """Set a text or number box as a student would: replace its text, press Enter."""
        box = self.text_box(label)
        box.fill(str(value))
        box.press("Enter")

    def button(self, label):
        """The push button (not a toggle button) whose text reads `label` exactly, e.g. a gain preset."""
        return self.page.locator(".widget-button", has_text=_exactly(label)).first

    def press_on_slider(self, label, key):
        """Move a slider with the keyboard as a student would: focus its handle, press `key` (ArrowLeft, Home...)."""
        self.slider_handle(label).press(key)

    def checkbox(self, label):
        """The checkbox whose description reads `label` exactly."""
        return self.page.get_by_role("checkbox", name=_exactly(label)).first

    def type_into_readout(self, label, value):
        """Set a slider as a student would: click its readout, replace the text, press Enter."""
        readout = self.slider_readout(label)
        readout.click()
        readout.press("Control+A")
        readout.type(str(value))
        readout.press("Enter")

    def arm_probe(self, expected_text, quiet=1.0, timeout=KERNEL_TIMEOUT, start_on=None, watch=None):
        """Once no figure has repainted for `quiet` s, start timing: the next Enter, click or slider key (or, with
        `start_on`, the next event of those types or type:key, e.g. ["pointerup"] or ["keydown:Enter"]; or
        run_cell) is t=0, and probe_latency()
        then says when `expected_text` (None: no text awaited) showed in an output, when the figures repainted and,
        with `watch` (a CSS selector), when an element matching it first showed."""
        self.page.wait_for_function(
            "q => performance.now() - window.__probe.lastDraw > q", arg=quiet * 1000, timeout=timeout * 1000
        )
        self.page.evaluate(
            """([t, startOn, watch]) => Object.assign(window.__probe,
            {armed: true, expected: t, start: null, text: null, draws: [], startOn, watch, seen: null, sent: null})""",
            [expected_text, start_on, watch],
        )

    def probe_latency(self, figures=True, quiet=1.0, timeout=KERNEL_TIMEOUT, figure_timeout=30):
        """Milliseconds from the action to the expected text and (with `figures`) to the first and the last
        figure repaint, the last being the one followed by `quiet` s without repaints; also to the `watch`ed
        element's showing (seen_ms), to the page's first message to a kernel (sent_ms), and when the action was, on
        Python's time.time() clock, in ms (start_epoch_ms)."""
        from playwright.sync_api import TimeoutError

        waits = [("p.text !== null", timeout, "the expected text to show")] if self._expects_text() else []
        if figures:
            waits.append(
                ("p.draws.length && performance.now() - p.lastDraw > q", figure_timeout, "a figure to repaint")
            )
        for done, seconds, what in waits:
            try:
                self.page.wait_for_function(
                    f"q => {{ const p = window.__probe; return {done}; }}", arg=quiet * 1000, timeout=seconds * 1000
                )
                failure = None
            except TimeoutError:
                failure = f"timed out after {seconds} s waiting for {what}"
                break
        p = self.page.evaluate("""() => { const p = {...window.__probe, origin: performance.timeOrigin};
            Object.assign(window.__probe, {armed: false, start: null}); return p; }""")
        if failure:
            raise AssertionError(
                f"{failure}: action seen {p['start'] is not None}, text {p['expected']!r} shown "
                f"{p['text'] is not None}, figure repaints {len(p['draws'])}; console errors:\n"
                + "\n".join(self.console_errors)
            )
        t = [d["t"] - p["start"] for d in p["draws"]]
        return {
            "text_ms": round(p["text"] - p["start"], 1) if p["text"] is not None else None,
            "first_figure_ms": round(min(t), 1) if t else None,
            "last_figure_ms": round(max(t), 1) if t else None,
            "figures_repainted": len({d["figure"] for d in p["draws"]}),
            "repaints": len(t),
            "seen_ms": round(p["seen"] - p["start"], 1) if p["seen"] is not None else None,  # the `watch`ed element
            "sent_ms": round(p["sent"] - p["start"], 1) if p["sent"] is not None else None,  # 1st message to a kernel
            "start_epoch_ms": p["origin"] + p["start"],  # the action, on the clock of Python's time.time() (x 1000)
        }

    def _expects_text(self):
        return self.page.evaluate("() => window.__probe.expected !== null")

    def run_cell(self, index, timeout=KERNEL_TIMEOUT):
        """Run cell `index` (counting every cell from 0) as Ctrl+Enter would, and wait until it has run and the
        kernel is idle; for an armed probe, the run is the action (t=0)."""
        before = self.page.evaluate(
            """([name, index]) => {
            const panel = window.__panel(name);
            window.jupyterapp.shell.activateById(panel.id);  // the command runs the active notebook's active cell
            panel.content.activeCellIndex = index;
            const count = panel.content.activeCell.model.executionCount;
            const probe = window.__probe;
            if (probe.armed && probe.start === null) probe.start = performance.now();
            window.jupyterapp.commands.execute('notebook:run-cell');
            return count;
        }""",
            [self.name, index],
        )
        self._until(
            f"""name => {{
            const panel = window.__panel(name);
            const count = panel.content.widgets[{index}].model.executionCount;
            return count !== null && count !== {json.dumps(before)} && panel.sessionContext.session.kernel.status === 'idle';
        }}""",
            timeout,
            f"cell {index} to run",
        )

    def kernel_json(self, expression):
        """The value of the Python `expression` (JSON-serialisable) in the notebook's kernel, read without a cell
        (a silent request: no execution count, no output), e.g. timings the cells kept."""
        text = self.page.evaluate(
            """async ([name, code]) => {
            const kernel = window.__panel(name).sessionContext.session.kernel;
            const future = kernel.requestExecute(
                {code: '', silent: true, store_history: false, user_expressions: {value: code}});
            const value = (await future.done).content.user_expressions.value;
            if (value.status !== 'ok') throw new Error(`${value.ename}: ${value.evalue}`);
            return value.data['text/plain'];
        }""",
            [self.name, f"__import__('json').dumps({expression})"],
        )
        return json.loads(ast.literal_eval(text))  # the repr of the JSON string

    def screenshot(self, name):
        """Save the notebook panel as test-artifacts/<name>.png."""
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.locator(".jp-NotebookPanel").screenshot(path=path)
        return path


@pytest.fixture(scope="session")
def artifacts():
    """The folder for screenshots, logs and measurements a reader of CI wants to see (test-artifacts/)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def jupyter_lab(tmp_path_factory):
    """A running JupyterLab (stopped, kernels and all, when the session ends)."""
    require_browser()
    lab = JupyterLab(tmp_path_factory.mktemp("jupyterlab"))
    try:
        yield lab.start()
    finally:
        lab.stop()
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(lab.log_path, ARTIFACTS / "jupyterlab.log")


def launch_chromium(playwright):
    """Debian's headless Chromium under Playwright (`playwright`: a started sync_playwright()), with a throwaway
    profile."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def new_page(browser, lab, path, viewport=(1400, 2400)):
    """Copy the notebook at `path` into `lab`'s folder and give it a page in a fresh context of `browser`:
    (the context, to close; a NotebookPage, to open())."""
    name = lab.add_notebook(path)
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    context.set_default_timeout(60_000)
    return context, NotebookPage(context.new_page(), lab, name)


@pytest.fixture(scope="module")
def chromium():
    """Debian's headless Chromium under Playwright, with a throwaway profile.

    One per test module, not per session: Playwright's sync API keeps an asyncio loop running in this thread while
    it is started, and a later test module in the same worker (asyncio.run, the widgets) must not find it."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def open_notebook(jupyter_lab, chromium, request):
    """open_notebook(path) copies the notebook into the served folder and opens it in a fresh browser context;
    if the test fails, each of its pages is saved as test-artifacts/<test>-failed-<n>.png."""
    contexts, failed_before = [], request.session.testsfailed

    def open_(path, viewport=(1400, 2400)):
        context, page = new_page(chromium, jupyter_lab, path, viewport)
        contexts.append(context)
        return page.open()

    yield open_
    for n, context in enumerate(contexts):
        if request.session.testsfailed > failed_before:  # the call phase is reported before this teardown
            ARTIFACTS.mkdir(exist_ok=True)
            context.pages[0].screenshot(path=ARTIFACTS / f"{request.node.name}-failed-{n}.png")
        context.close()
