"""Every stored lesson shows its pictures before any kernel runs: in JupyterLab, trusted or not, in Notebook 7, and
as nbconvert's HTML offline, at 1280 and 1920 px; each picture fits its cell. Screenshots go to
test-artifacts/stored/."""

import io
import json
import re
from pathlib import Path

import nbformat
import pytest
from nbconvert import HTMLExporter
from nbformat.sign import NotebookNotary
from PIL import Image

pytest_plugins = ["browser.harness"]  # fixtures: open_notebook, chromium, jupyter_lab (one per session)

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
LESSONS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
WIDTHS = (1280, 1920)
MIN_COLOURS = 8  # a picture with fewer distinct colours is blank (a broken-image icon has about as many)
SHOT = REPO / "test-artifacts" / "stored"

# Per cell in page order: its pictures (the <img> of its outputs), their natural size, their box and their
# output area's box, and any text a widget shows when it cannot render.
READ_CELLS_JS = """
() => [...document.querySelectorAll('.jp-Notebook .jp-Cell, body > main .jp-Cell, .jp-Notebook > .jp-Cell')]
  .filter((cell, i, all) => all.indexOf(cell) === i)
  .map(cell => ({
    text: cell.innerText,
    pictures: [...cell.querySelectorAll('.jp-OutputArea-output img')].map(img => {
      const box = img.getBoundingClientRect(), area = img.closest('.jp-OutputArea-output').getBoundingClientRect();
      return {natural: img.naturalWidth, left: box.left, right: box.right, width: box.width,
              area_left: area.left, area_right: area.right};
    }),
  }))
"""
TRUSTED_JS = """
name => {  // JupyterLab 4 trusts cell by cell: the notebook is trusted when every code cell is
  const panel = Array.from(window.jupyterapp.shell.widgets('main')).find(w => w.context && w.context.path === name);
  const cells = panel.content.model.cells;
  return Array.from({length: cells.length}, (_, i) => cells.get(i)).every(c => c.type !== 'code' || c.trusted);
}
"""
BROKEN = ("Error displaying widget", "model not found", "Loading widget", "Dashboard(children", "Comparison(children")


FIGURE_CELL = re.compile(
    r"\b(Dashboard|Comparison|GainSweep)\(|\bplots\.plot_"
)  # a cell that shows a figure or a dashboard


def stored_pictures(nb):
    """How many pictures each cell stores (image/png outputs), by cell index; at least one per figure cell."""
    counts = [sum("image/png" in o.get("data", {}) for o in cell.get("outputs", [])) for cell in nb.cells]
    missing = [
        i for i, c in enumerate(nb.cells) if c.cell_type == "code" and FIGURE_CELL.search(c.source) and not counts[i]
    ]
    assert not missing, f"figure or dashboard cells {missing} store no picture (image/png)"
    return counts


def check_page(page, nb, where):
    """Each cell shows as many non-blank pictures as it stores, each inside its output area; no widget error."""
    cells = page.evaluate(READ_CELLS_JS)
    expected = stored_pictures(nb)
    assert len(cells) == len(expected), f"{where}: {len(cells)} cells on the page, {len(expected)} in the notebook"
    images = page.locator(".jp-OutputArea-output img")
    n = 0
    for index, (cell, count) in enumerate(zip(cells, expected)):
        assert not [b for b in BROKEN if b in cell["text"]], f"{where}, cell {index}: {cell['text'][:200]}"
        assert len(cell["pictures"]) == count, f"{where}, cell {index}: {len(cell['pictures'])} pictures, not {count}"
        for picture in cell["pictures"]:
            assert picture["natural"] > 0, f"{where}, cell {index}: a picture that did not load"
            assert picture["area_left"] - 1 <= picture["left"] and picture["right"] <= picture["area_right"] + 1, (
                f"{where}, cell {index}: a picture runs out of its cell: {picture}"
            )
            png = images.nth(n).screenshot()
            colours = len(Image.open(io.BytesIO(png)).convert("RGB").getcolors(1 << 16) or range(1 << 16))
            assert colours >= MIN_COLOURS, f"{where}, cell {index}: a blank picture ({colours} colours)"
            n += 1
    return sum(expected)


def signed_copy(path, tmp_path, data_dir):
    """A copy of the notebook that the server's notary trusts (a metadata mark keeps the original untrusted)."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata["nbdiag_test"] = "trusted copy"
    NotebookNotary(data_dir=str(data_dir)).sign(nb)
    copy = tmp_path / f"trusted_{path.name}"  # (its own name: the untrusted test's copy may be open still)
    nbformat.write(nb, copy)
    return copy


OPEN_JS = """
async name => {  // open the notebook as the only tab; resolve once its cells and their pictures are in the page
  const app = window.jupyterapp;
  for (const w of Array.from(app.shell.widgets('main'))) {
    if (w.sessionContext) await w.sessionContext.shutdown();  // the last lesson's kernel: none piles up
    w.dispose();
  }
  const panel = await app.commands.execute('docmanager:open', {path: name});
  await panel.context.ready;
  for (let i = 0; i < 200 && panel.content.widgets.length !== panel.content.model.cells.length; i++)
    await new Promise(r => setTimeout(r, 50));
  await Promise.all([...panel.node.querySelectorAll('img')].map(img => img.decode().catch(() => null)));
  return panel.content.widgets.length;
}
"""


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("trusted", [False, True], ids=["untrusted", "trusted"])
def test_jupyterlab_shows_every_stored_picture(jupyter_lab, chromium, tmp_path, trusted, width):
    """Each lesson opened in JupyterLab, one after the other in one page, its kernel never asked to run anything."""
    SHOT.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(viewport={"width": width, "height": 1000})
    page = context.new_page()
    page.goto(f"{jupyter_lab.url}/lab?reset")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.commands.hasCommand('docmanager:open')")
    mode = "trusted" if trusted else "untrusted"
    try:
        for path in LESSONS:
            nb = nbformat.read(path, as_version=4)
            name = jupyter_lab.add_notebook(
                signed_copy(path, tmp_path, jupyter_lab.workdir / "data") if trusted else path
            )
            assert page.evaluate(OPEN_JS, name) == len(nb.cells)
            assert page.evaluate(TRUSTED_JS, name) is trusted, f"{path.name} did not open {mode}"
            check_page(page, nb, f"{path.name}, JupyterLab, {mode}, {width} px")
            page.locator(".jp-NotebookPanel").screenshot(path=SHOT / f"lab_{mode}_{width}_{path.stem}.png")
    finally:
        context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_notebook_7_shows_every_stored_picture(jupyter_lab, chromium, width):
    """Jupyter Notebook 7, served by the same server as JupyterLab: each lesson in its own page, untrusted."""
    SHOT.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(viewport={"width": width, "height": 1000})
    try:
        for path in LESSONS:
            nb = nbformat.read(path, as_version=4)
            name = jupyter_lab.add_notebook(path)
            page = context.new_page()
            page.goto(f"{jupyter_lab.url}/notebooks/{name}")
            page.wait_for_function(
                "n => document.querySelectorAll('.jp-Notebook .jp-Cell').length === n", arg=len(nb.cells)
            )
            page.evaluate("() => Promise.all([...document.images].map(img => img.decode().catch(() => null)))")
            check_page(page, nb, f"{path.name}, Notebook 7, {width} px")
            page.screenshot(path=SHOT / f"notebook7_{width}_{path.stem}.png")
            page.close()
    finally:
        context.close()


@pytest.fixture(scope="module")
def html_pages(tmp_path_factory):
    """Each lesson as nbconvert's HTML (its lab template), in a folder of their own."""
    folder = tmp_path_factory.mktemp("html")
    exporter = HTMLExporter(template_name="lab")
    for path in LESSONS:
        body, _ = exporter.from_notebook_node(nbformat.read(path, as_version=4))
        (folder / f"{path.stem}.html").write_text(body)
    return folder


@pytest.mark.parametrize("width", WIDTHS)
def test_nbconvert_html_shows_every_stored_picture_offline(chromium, html_pages, width):
    SHOT.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(viewport={"width": width, "height": 1000})
    requested = []

    def offline(route):  # as a reader without a network: every page asset from elsewhere fails
        requested.append(route.request.url)
        route.abort()

    context.route(lambda url: not url.startswith("file:") and not url.startswith("data:"), offline)
    try:
        for path in LESSONS:
            page = context.new_page()
            page.goto((html_pages / f"{path.stem}.html").as_uri())
            page.wait_for_load_state("load")
            check_page(page, nbformat.read(path, as_version=4), f"{path.name}, nbconvert HTML, {width} px")
            page.screenshot(path=SHOT / f"nbconvert_{width}_{path.stem}.png", full_page=True)
            page.close()
    finally:
        context.close()
    (SHOT / f"nbconvert_{width}_blocked_requests.json").write_text(json.dumps(sorted(set(requested)), indent=1))
