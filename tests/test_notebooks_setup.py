"""The lesson notebooks' test setup: nbval really compares the stored tables, and the notebooks are built to be checked."""

import ast
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbval.plugin import get_sanitize_patterns

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SANITIZE = NOTEBOOKS / "nbval_sanitize.cfg"
LESSONS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
NAMES = [p.stem for p in LESSONS]
sys.path.insert(0, str(ROOT / "tools"))
from build_notebooks import FORMAT, SOURCES, cell_ids, make_notebook, read_lesson  # noqa: E402

IGNORE = "# NBVAL_IGNORE_OUTPUT"
from build_notebooks import WIDGET_VIEW  # noqa: E402

TABLE_LINE = "layer 1 (      Tanh): mean -0.02, std 0.75, saturated: 20.25%"  # lesson 1's first row, as stored


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def run_nbval(paths, cwd, junit):
    """pytest --nbval on `paths` in a fresh process, outside this repository's pytest configuration."""
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-o",
        "addopts=",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:xdist",
        "-q",
        "--nbval",
        "--nbval-sanitize-with",
        str(SANITIZE),
        f"--junitxml={junit}",
        "-o",
        "junit_family=xunit1",
        *map(str, paths),
    ]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def outcomes_by_notebook(junit):
    """notebook name (no suffix) -> list of per-cell outcomes ('passed' or 'failed') from a JUnit XML report."""
    outcomes = {}
    for case in ET.parse(junit).iter("testcase"):
        name = Path(case.get("file")).stem  # xunit1 reports name each case's file
        failed = case.find("failure") is not None or case.find("error") is not None
        outcomes.setdefault(name, []).append("failed" if failed else "passed")
    return outcomes


def test_a_changed_number_in_a_stored_table_fails_nbval(tmp_path):
    """The unchanged copy of lesson 1 passes; the same notebook with one digit changed fails, on that cell."""
    assert os.environ.get("NBDIAG_DATA_DIR"), "the kernels need NBDIAG_DATA_DIR"
    original = tmp_path / "unchanged.ipynb"
    shutil.copy(NOTEBOOKS / "01_gain_5_3.ipynb", original)
    nb = nbformat.read(original, as_version=4)
    table_cells = [c for c in code_cells(nb) if any(TABLE_LINE in o.get("text", "") for o in c.outputs)]
    assert len(table_cells) == 1
    for output in table_cells[0].outputs:
        output["text"] = output["text"].replace("saturated: 20.25%", "saturated: 20.26%")
    nbformat.write(nb, tmp_path / "changed.ipynb")

    result = run_nbval([original, tmp_path / "changed.ipynb"], tmp_path, tmp_path / "junit.xml")
    outcomes = outcomes_by_notebook(tmp_path / "junit.xml")
    report = result.stdout + result.stderr
    assert result.returncode == 1, report
    assert set(outcomes["unchanged"]) == {"passed"}, report
    assert outcomes["changed"].count("failed") == 1, report  # only the edited table's cell
    assert "Cell outputs differ" in report and "20.26%" in report and "20.25%" in report


def test_the_sanitizer_leaves_table_numbers_alone():
    """Whatever the sanitize file replaces, no digit of a printed table can be among it."""
    patterns = get_sanitize_patterns(SANITIZE.read_text())
    assert patterns, "the sanitize file has patterns"
    tables = "".join(
        o.get("text", "")
        for p in LESSONS
        for c in code_cells(nbformat.read(p, as_version=4))
        if IGNORE not in c.source
        for o in c.outputs
    )
    assert TABLE_LINE in tables
    for regex, replacement in patterns:
        assert re.sub(regex, replacement, tables) == tables, f"{regex!r} would hide part of a table"
    assert re.sub(patterns[0][0], patterns[0][1], "<Canvas at 0x7f3a2c1d9e50>") != "<Canvas at 0x7f3a2c1d9e50>"


def test_every_lesson_is_in_order_and_linked_from_the_start_page():
    assert NAMES == [
        "00_start_here",
        "01_gain_5_3",
        "02_gain_1",
        "03_gain_3",
        "04_gain_0_5",
        "05_no_tanh",
        "06_weight_gradients",
        "07_update_ratios",
        "08_batchnorm",
        "09_playground",
        "10_your_own_model",
        "11_why_5_3",
        "12_after_batchnorm",
    ]
    start = "".join(c.source for c in nbformat.read(LESSONS[0], as_version=4).cells if c.cell_type == "markdown")
    for name in NAMES[1:]:
        assert f"]({name}.ipynb)" in start, f"the start page's table of contents misses {name}"


@pytest.mark.parametrize("path", LESSONS, ids=NAMES)
def test_notebook_is_built_from_its_source_and_stored_executed(path):
    nb = nbformat.read(path, as_version=4)
    rebuild = "rebuild it: python tools/build_notebooks.py " + path.stem
    source = jupytext.read(SOURCES / f"{path.stem}.py", fmt=FORMAT)
    assert [(c.cell_type, c.source) for c in nb.cells] == [(c.cell_type, c.source) for c in source.cells], rebuild
    for stored, cell in zip(nb.cells, source.cells):  # the tags on the `# %%` lines, as JupyterLab metadata
        tags = cell.metadata.get("tags", [])
        folded = stored.metadata.get("jupyter", {})
        assert folded.get("outputs_hidden", False) == ("reveal" in tags), rebuild
        assert folded.get("source_hidden", False) == ("check" in tags), rebuild
        assert ("remove-cell" in stored.metadata.get("tags", [])) == ("check" in tags), rebuild
    expected = read_lesson(path.stem)  # and the build tool's ids and metadata, all of them
    assert [(c.id, c.metadata) for c in nb.cells] == [(c.id, c.metadata) for c in expected.cells], rebuild
    assert all(c.execution_count is not None for c in code_cells(nb)), "stored without running every cell"
    assert "widgets" not in nb.metadata, "stored with widget state: build it with tools/build_notebooks.py"
    views = [o for c in code_cells(nb) for o in c.outputs if WIDGET_VIEW in o.get("data", {})]
    assert not views, f"{len(views)} widget outputs stored as widgets, which no page shows before a kernel runs"


@pytest.mark.parametrize("name", NAMES)
def test_lesson_source_is_valid_python(name):
    """Linters, formatters and editors can read every lesson: its magics are commented out, jupytext style."""
    path = SOURCES / f"{name}.py"
    ast.parse(path.read_text(), filename=str(path))


def test_a_cell_inserted_at_the_start_of_a_lesson_changes_no_other_id():
    text = (SOURCES / "01_gain_5_3.py").read_text()
    ids = [c.id for c in make_notebook("01_gain_5_3", text).cells]
    inserted = [c.id for c in make_notebook("01_gain_5_3", '# %%\nprint("a new first cell")\n\n' + text).cells]
    assert inserted[1:] == ids and inserted[0] not in ids
    assert all(re.fullmatch(r"01-[0-9a-f]{8}", i) for i in inserted)
    repeated = cell_ids("01", ["x = 1", "y = 2", "x = 1", "x = 1"])  # the same source twice: still unique ids
    assert repeated[2:] == [repeated[0] + "-2", repeated[0] + "-3"] and len(set(repeated)) == 4
    assert all(re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", i) for i in repeated)  # nbformat's rule for an id


@pytest.mark.parametrize("path", LESSONS, ids=NAMES)
def test_notebook_follows_the_lesson_rules(path):
    nb = nbformat.read(path, as_version=4)
    cells = code_cells(nb)
    assert "\nlive_figures()" in cells[0].source, "the first cell chooses live figures or still pictures"
    assert not any("%matplotlib" in c.source for c in cells), "live_figures() chooses the backend, never a magic"
    for cell in cells:
        imports = re.findall(r"^\s*(?:from|import)\s+([\w.]+)", cell.source, re.M)
        # lesson 10 builds the student's own torch.nn model, so it may import torch as well
        allowed = {"nbdiag", "torch"} if path.stem == "10_your_own_model" else {"nbdiag"}
        assert all(name.split(".")[0] in allowed for name in imports), f"imports other than {allowed}: {imports}"
        assert not re.search(r"^\s*(def|class)\s", cell.source, re.M), "library code belongs in nbdiag"
        shows_widget = any(WIDGET_VIEW in o.get("data", {}) or "image/png" in o.get("data", {}) for o in cell.outputs)
        if shows_widget:
            assert cell.source.startswith(IGNORE), f"a figure or widget cell must start with {IGNORE}"
        elif IGNORE not in cell.source:
            assert all(o.output_type == "stream" and o.name == "stdout" for o in cell.outputs), cell.source
    widgets = [c for c in cells if re.search(r"\b(Dashboard|Comparison|GainSweep)\(", c.source)]
    assert widgets, "every lesson has a widget to explore"
    if path.stem in ("00_start_here", "09_playground"):
        return
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert any("## Try it yourself" in m for m in markdown), "every lesson ends with exercises"
    for i, cell in enumerate(nb.cells):  # every revealed table comes right after a prediction prompt
        if cell.metadata.get("jupyter", {}).get("outputs_hidden"):
            assert nb.cells[i - 1].cell_type == "markdown" and "**Predict, then reveal.**" in nb.cells[i - 1].source
            assert "print(" in cell.source and cell.outputs
    assert any(c.metadata.get("jupyter", {}).get("outputs_hidden") for c in cells), "a predict-then-reveal table"
