"""Where ipympl is missing (Google Colab, VS Code without the widget renderer, an install without it), a lesson
still runs: its first cell says how to get live figures, its pictures are still images, and its dashboard
redraws PNG pictures in ipywidgets Image widgets.

Tested as a student would meet it: a fresh virtual environment with torch (the CPU build), nbdiag and
JupyterLab, and then no ipympl; that environment's JupyterLab; lesson 1 with its outputs cleared, run from
first cell to last in Chromium; then the dashboard's gain typed in. Screenshots go to
test-artifacts/without_ipympl/. Slow (1.5 minutes on an idle 2-core machine, up to 4 on a busy one, most of it
installing torch), so it is marked `slow`; CI runs it.
"""

import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

from nbdiag.notebook import INSTALL_IPYMPL

pytestmark = pytest.mark.slow
# fixtures: chromium, open_notebook (with this module's jupyter_lab); the harness's names are imported where
# used, after pytest has loaded it as a plugin (an import here would come first, and skip its assert rewriting)
pytest_plugins = ["browser.harness"]

ROOT = Path(__file__).resolve().parents[2]
LESSON = ROOT / "notebooks" / "01_gain_5_3.ipynb"
SHOTS = "without_ipympl"  # test-artifacts/without_ipympl/
SEED_GAIN_5_3 = "layer 1 (      Tanh): mean -0.02, std 0.75, saturated: 20.25%"  # the lesson's default table line
SEED_GAIN_3 = "layer 1 (      Tanh): mean -0.03, std 0.85, saturated: 47.66%"  # its gain-3 line
MIN_COLOURS = 16  # a picture has more distinct colours than this; a blank or broken image has one or two
FIGURE = '.jp-OutputArea-output[data-mime-type="image/png"] img'  # a cell's still figure (JupyterLab's image)
WIDGET_IMAGE = "img.widget-image"  # ipywidgets' Image: a dashboard picture in PNG mode
LIVE_FIGURE = ".jupyter-matplotlib-figure"  # ipympl's figure: must not appear here


def run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A venv with torch==2.13.0 (CPU), this checkout's nbdiag (installed from a copy) and JupyterLab, without
    ipympl; its bin folder. Removed afterwards (about 1.3 GB, most of it torch)."""
    tmp = tmp_path_factory.mktemp("without-ipympl")
    source = tmp / "nbdiag-source"  # a copy, so that the build writes nothing into this checkout
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "nbdiag", source / "nbdiag", ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp / "venv"
    started = time.monotonic()
    try:
        run([sys.executable, "-m", "venv", venv])  # isolated: nothing of this environment leaks in
        pip = [venv / "bin" / "python", "-m", "pip", "--disable-pip-version-check", "-q"]
        run([*pip, "install", "torch==2.13.0"])  # the CPU build first: unpinned, torch would pull CUDA's
        run([*pip, "install", source, "jupyterlab"])
        run([*pip, "uninstall", "-y", "ipympl"])  # nbdiag depends on it: what a student without it has
        print(f"venv without ipympl built in {time.monotonic() - started:.0f} s")
        yield venv / "bin"
    finally:
        shutil.rmtree(venv, ignore_errors=True)


@pytest.fixture
def shots(artifacts):
    """test-artifacts/without_ipympl/, for the screenshots."""
    folder = artifacts / SHOTS
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def jupyter_lab(venv, tmp_path_factory):
    """The venv's JupyterLab (for this module, in place of the harness's): its kernels import the venv's packages."""
    from browser.harness import ARTIFACTS, JupyterLab, require_browser

    require_browser()
    lab = JupyterLab(tmp_path_factory.mktemp("jupyterlab-without-ipympl"), python=venv / "python")
    try:
        yield lab.start()
    finally:
        lab.stop()
        (ARTIFACTS / SHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(lab.log_path, ARTIFACTS / SHOTS / "jupyterlab.log")


def test_the_venv_has_no_ipympl(venv):
    """The environment is what the test means: nbdiag installed, ipympl neither in the kernel nor in JupyterLab."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    missing = subprocess.run([venv / "python", "-c", "import ipympl"], capture_output=True, text=True, env=env)
    assert missing.returncode != 0 and "No module named 'ipympl'" in missing.stderr
    probe = "import json, nbdiag, torch; print(json.dumps([nbdiag.__file__, torch.__version__]))"
    nbdiag_file, torch_version = json.loads(run([venv / "python", "-c", probe], env=env, cwd=venv))
    assert Path(nbdiag_file).is_relative_to(venv.parent), "nbdiag comes from the venv's install"
    assert torch_version == "2.13.0+cpu"
    extensions = run([venv / "jupyter", "labextension", "list"], env=env)
    assert "@jupyter-widgets/jupyterlab-manager" in extensions  # ipywidgets' front end: the Image widgets
    assert "jupyter-matplotlib" not in extensions  # ipympl's front end


def cleared(notebook, folder):
    """A copy of `notebook` in `folder` without outputs, so that what the page shows is made by the run."""
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("widgets", None)  # no stored widget state either
    path = Path(folder) / Path(notebook).name
    nbformat.write(nb, path)
    return path, nb


def colours(png):
    """The number of distinct colours in a PNG screenshot, and its pixels."""
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    return len(np.unique(pixels.reshape(-1, 3), axis=0)), pixels


def wait_loaded(images, timeout=60):
    """Wait until every <img> of the locator has loaded a picture (naturalWidth > 0); their natural sizes."""
    deadline = time.monotonic() + timeout
    while True:
        sizes = images.evaluate_all("imgs => imgs.map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
        if sizes and all(done and w > 0 and h > 0 for done, w, h in sizes):
            return [(w, h) for _, w, h in sizes]
        assert time.monotonic() < deadline, f"images not loaded after {timeout} s: (complete, width, height) {sizes}"
        time.sleep(0.25)


def shown_pictures(images, path):
    """Each image's pixels as the page shows it (an element screenshot), checked not blank; saved as `path`-n.png."""
    shots = []
    for n, image in enumerate(images.all()):
        image.scroll_into_view_if_needed()
        png = image.screenshot(path=f"{path}-{n}.png")
        count, pixels = colours(png)
        assert count > MIN_COLOURS, f"{Path(path).name} {n} looks blank: {count} colours"
        shots.append(pixels)
    return shots


def test_a_lesson_without_ipympl_in_jupyterlab(open_notebook, shots, tmp_path):
    """Lesson 1 runs from first cell to last without an error, says how to get live figures, shows its figures as
    still images and its dashboard's pictures as Image widgets, which follow the gain typed in."""
    path, source = cleared(LESSON, tmp_path)
    code = [cell.source for cell in source.cells if cell.cell_type == "code"]
    figure_cells = sum("plots.plot_" in cell for cell in code)
    dashboard_views = 2  # Dashboard(controls=["gain", "seed"], views=["activations", "gradients"], ...)
    assert figure_cells == 2 and any(f"views={json.dumps(['activations', 'gradients'])}" in c for c in code)

    started = time.monotonic()
    nb = open_notebook(path)
    nb.run_all()
    ran_in = time.monotonic() - started
    assert nb.cell_errors() == [], "a cell failed"
    first = " ".join(nb.page.locator(".jp-CodeCell").first.locator(".jp-OutputArea").inner_text().split())
    assert INSTALL_IPYMPL in first, f"the first cell's output does not say how to get live figures: {first!r}"
    assert nb.page.locator(LIVE_FIGURE).count() == 0, "an ipympl figure, without ipympl"
    assert "Error displaying widget" not in nb.output_text()

    figures = nb.page.locator(FIGURE)
    assert len(wait_loaded(figures)) == figure_cells, "every figure cell shows one still image"
    shown_pictures(figures, shots / "figure")
    nb.screenshot(f"{SHOTS}/1_lesson_run")

    dashboard = nb.page.locator(".jp-OutputArea-output", has=nb.page.locator(WIDGET_IMAGE))
    assert dashboard.count() == 1, "one dashboard, with its pictures as Image widgets"
    pictures = dashboard.locator(WIDGET_IMAGE)
    assert len(wait_loaded(pictures)) == dashboard_views
    tables = dashboard.locator(".widget-html pre", has_text="# activations")
    assert SEED_GAIN_5_3 in tables.inner_text()
    before = shown_pictures(pictures, shots / "dashboard_gain_5_3")
    dashboard.screenshot(path=shots / "2_dashboard_gain_5_3.png")

    changed = time.monotonic()
    nb.type_into_readout("gain", 3)
    tables.filter(has_text=SEED_GAIN_3).wait_for(timeout=60_000)  # the tables follow the gain
    assert SEED_GAIN_5_3 not in tables.inner_text()
    assert float(nb.slider_readout("gain").inner_text()) == 3.0
    deadline = time.monotonic() + 30
    while True:  # the pictures follow too: new PNGs, loaded and shown
        wait_loaded(pictures)
        after = shown_pictures(pictures, shots / "dashboard_gain_3")
        unchanged = [n for n, (a, b) in enumerate(zip(after, before)) if a.shape == b.shape and (a == b).all()]
        if not unchanged:
            break
        assert time.monotonic() < deadline, f"dashboard pictures {unchanged} still show gain 5/3 after 30 s"
        time.sleep(0.5)
    followed_in = time.monotonic() - changed
    dashboard.screenshot(path=shots / "3_dashboard_gain_3.png")
    assert nb.cell_errors() == [], "typing the gain made an error"
    print(f"lesson opened and ran in {ran_in:.1f} s; gain 3 shown in {followed_in:.1f} s")
