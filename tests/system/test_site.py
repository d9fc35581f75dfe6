"""The course website: Jupyter Book builds the stored lesson notebooks into static HTML (into a temporary folder), and
Chromium, offline, opens every page: its pictures load and are not blank, it shows as many pictures as its notebook
stores outside the removed cells, the removed check cells are absent, the pictures fit a phone's width, and a button
launches that lesson on Binder. A screenshot of each page goes to test-artifacts/site/."""

import io
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import numpy as np
import pytest
import yaml
from PIL import Image

pytest_plugins = ["browser.harness"]  # fixtures: chromium (one per session)

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
ARTIFACTS = ROOT / "test-artifacts" / "site"
TOC = yaml.safe_load((NOTEBOOKS / "_toc.yml").read_text(encoding="utf-8"))
PAGES = [TOC["root"], *(chapter["file"] for chapter in TOC["chapters"])]
BUILD_TIMEOUT_S = 300
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 400, "height": 800}
PICTURES = "article.bd-article .cell_output img"  # the pictures among the notebook's outputs, in the main content
MIN_COLOURS = 8  # a blank or single-colour picture has a few; a plot has hundreds


def shown(cell):
    tags = cell.metadata.get("tags", [])
    return cell.cell_type == "code" and "remove-cell" not in tags and "remove-output" not in tags


def stored_pictures(notebook):
    """The pictures the page must show: one per output with a PNG (the site prefers it to any HTML wrapper), and
    the <img> tags of an HTML-only output."""
    count = 0
    for cell in filter(shown, notebook.cells):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" in data:
                count += 1
            elif "text/html" in data:
                count += data["text/html"].count("<img")
    return count


def removed_sources(notebook):
    """The first line of each cell tagged remove-cell: text that must not appear on the page."""
    return [
        next(line for line in cell.source.splitlines() if line.strip())
        for cell in notebook.cells
        if "remove-cell" in cell.metadata.get("tags", []) and cell.source.strip()
    ]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site, built as the README says, into a temporary folder: (the html folder, the build's warnings)."""
    out = tmp_path_factory.mktemp("site")
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    build = subprocess.run(
        [str(jupyter_book), "build", str(NOTEBOOKS), "--path-output", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )
    assert build.returncode == 0, f"jupyter-book build failed:\n{build.stdout[-3000:]}\n{build.stderr[-3000:]}"
    warnings = [line for line in (build.stdout + build.stderr).splitlines() if re.search(r"WARNING|ERROR", line)]
    return out / "_build" / "html", warnings


def is_local(url):
    parts = urlsplit(url)
    return parts.scheme in ("file", "data", "about", "blob") or parts.hostname in ("localhost", "127.0.0.1", "::1")


@pytest.fixture
def open_page(chromium):
    """Opens a page of the site in a fresh context that lets no request leave the machine; returns the page and
    the list of the requests it blocked."""
    contexts = []

    def open_page(url, viewport=DESKTOP):
        context = chromium.new_context(viewport=viewport)
        contexts.append(context)
        blocked = []

        def offline(route):
            if is_local(route.request.url):
                route.continue_()
            else:
                blocked.append(route.request.url)
                route.abort()

        context.route("**/*", offline)
        page = context.new_page()
        page.goto(url, wait_until="load")
        return page, blocked

    yield open_page
    for context in contexts:
        context.close()


def test_the_build_has_no_warnings(site):
    _, warnings = site
    assert warnings == []


@pytest.mark.parametrize("name", PAGES)
def test_page(site, open_page, name):
    html, _ = site
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    page, blocked = open_page((html / f"{name}.html").as_uri())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)

    pictures = page.locator(PICTURES)
    assert pictures.count() == stored_pictures(notebook), "the page shows another number of pictures than stored"
    loaded = pictures.evaluate_all("imgs => imgs.map(img => img.complete && img.naturalWidth > 0)")
    assert all(loaded), f"pictures that did not load: {[i for i, ok in enumerate(loaded) if not ok]}"
    # each picture as the page shows it: its box, cut from the full-page screenshot (page coordinates)
    boxes = pictures.evaluate_all(
        "imgs => imgs.map(img => { const r = img.getBoundingClientRect();"
        " return [r.left + scrollX, r.top + scrollY, r.right + scrollX, r.bottom + scrollY]; })"
    )
    shown_page = Image.open(io.BytesIO(screenshot)).convert("RGB")
    for i, box in enumerate(boxes):
        pixels = np.asarray(shown_page.crop(tuple(round(v) for v in box))).astype(np.uint32)
        colours = len(np.unique(pixels[..., 0] << 16 | pixels[..., 1] << 8 | pixels[..., 2]))
        assert colours > MIN_COLOURS, (
            f"picture {i} ({pictures.nth(i).get_attribute('src')}) looks blank: {colours} colours"
        )

    text = page.inner_text("article.bd-article")
    assert [line for line in removed_sources(notebook) if line in text] == [], "a remove-cell cell is on the page"

    binder = page.locator("a[href^='https://mybinder.org/']")
    hrefs = [binder.nth(i).get_attribute("href") for i in range(binder.count())]
    lesson = re.compile(rf"https://mybinder\.org/v2/gh/[^/]+/[^/]+/[^?]+\?urlpath=lab/tree/notebooks/{name}\.ipynb")
    assert any(lesson.fullmatch(href) for href in hrefs), f"no Binder link to notebooks/{name}.ipynb in {hrefs}"

    if name == TOC["root"]:  # the navigation lists the lessons in the start page's order
        nav = page.locator("nav.bd-docs-nav ul.bd-sidenav:not(.bd-sidenav__home-link) a.reference.internal")
        linked = [Path(nav.nth(i).get_attribute("href")).stem for i in range(nav.count())]
        assert linked == PAGES[1:]

    assert blocked == [], "the page asked the network for something: the site must work offline"

    # On a phone's 400 px no picture is wider than the page, and nothing makes the page scroll sideways.
    phone, _ = open_page((html / f"{name}.html").as_uri(), viewport=PHONE)
    too_wide = phone.evaluate(
        """selector => [...document.querySelectorAll(selector)]
            .filter(img => img.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
            .map(img => img.getAttribute('src'))""",
        PICTURES,
    )
    assert too_wide == [], "pictures wider than a 400 px page"
    assert phone.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    if name == PAGES[1]:
        phone.locator(PICTURES).first.scroll_into_view_if_needed()
        phone.screenshot(path=ARTIFACTS / f"{name}_400px.png")
