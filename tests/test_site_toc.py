"""The course website's configuration (notebooks/_toc.yml, notebooks/_config.yml) agrees with the lessons: the
navigation is the start page's table of contents, and the site shows the stored notebooks, never runs them."""

import re
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
START = "00_start_here"
LESSON_LINK = re.compile(r"\]\((\d\d_[^)#\s]*)\.ipynb(?:#[^)]*)?\)")  # a markdown link to NN_name.ipynb


def start_page_lessons():
    """The lessons the start page links, in the order of its table of contents (each once, first link first)."""
    nb = nbformat.read(NOTEBOOKS / f"{START}.ipynb", as_version=4)
    links = [name for cell in nb.cells if cell.cell_type == "markdown" for name in LESSON_LINK.findall(cell.source)]
    return list(dict.fromkeys(links))


def toc():
    return yaml.safe_load((NOTEBOOKS / "_toc.yml").read_text(encoding="utf-8"))


def toc_chapters():
    return [Path(chapter["file"]).with_suffix("").as_posix() for chapter in toc()["chapters"]]


def config():
    return yaml.safe_load((NOTEBOOKS / "_config.yml").read_text(encoding="utf-8"))


def test_the_start_page_is_the_root():
    assert toc()["format"] == "jb-book"
    assert toc()["root"] == START


def test_the_chapters_are_the_start_pages_lessons_in_its_order():
    lessons = start_page_lessons()
    assert lessons, f"no links to NN_name.ipynb found in {START}.ipynb"
    assert toc_chapters() == lessons, "notebooks/_toc.yml's chapters must be the start page's lesson links, in order"


def test_every_lesson_is_in_the_toc():
    lessons = sorted(path.stem for path in NOTEBOOKS.glob("[0-9]*.ipynb"))
    in_toc = {toc()["root"], *toc_chapters()}
    assert [name for name in lessons if name not in in_toc] == []
    assert sorted(in_toc) == lessons, "notebooks/_toc.yml names a notebook that notebooks/ does not have"


def test_the_site_shows_the_stored_outputs():
    assert config()["execute"]["execute_notebooks"] == "off"


def test_the_binder_button_opens_the_readmes_repository_in_jupyterlab():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    badge = re.search(r"https://mybinder\.org/v2/gh/([^/\s]+)/([^/\s]+)/([^?\s]+)\?urlpath=lab/tree/notebooks/", readme)
    assert badge, "README.md has no Binder badge opening JupyterLab in notebooks/"
    owner, name, ref = badge.groups()
    repository = config()["repository"]
    assert repository["url"] == f"https://github.com/{owner}/{name}"
    assert repository["path_to_book"] == "notebooks"
    assert repository["branch"] == ref
    assert config()["launch_buttons"]["notebook_interface"] == "jupyterlab"
    assert config()["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
