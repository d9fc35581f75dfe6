"""Write the lesson notebooks from tools/lessons/*.py and execute them, so their stored outputs are a fresh run's.

Each source is a jupytext "py:percent" file, so a valid Python module that linters, formatters and editors
read: `# %%` starts a code cell and `# %% [markdown]` a markdown cell whose lines are written as comments.
Jupytext comments out the magics (`# %matplotlib widget` in the source is `%matplotlib widget` in the
notebook). Two tags on the `# %%` line mark the lessons' special code cells:

- `# %% tags=["reveal"]`: a predict-then-reveal table, stored with its output folded (the student guesses,
  then runs or unfolds it); in the notebook the tag becomes `"jupyter": {"outputs_hidden": true}` and the tag
  "hide-output" (the course website folds it too).
- `# %% tags=["check"]`: assertions that the prose's claims about a long run hold, whatever the CPU (nbval
  runs them with the rest), stored with the source folded and left out of Jupyter Book; in the notebook
  the tag becomes `"jupyter": {"source_hidden": true}` and the tag "remove-cell".

Any other metadata on a `# %%` line goes to the notebook as it is. Each cell's id is the lesson's number and
a hash of its source (`01-3f2a9c1e`), so inserting, removing or moving a cell changes no other cell's id;
the second and later cells with the same source get `-2`, `-3`... Run from anywhere:

    NBDIAG_DATA_DIR=/path/to/folder/with/names.txt python tools/build_notebooks.py [NAME ...]

With no NAME every lesson is rebuilt. The notebooks land in notebooks/, executed by nbclient in a kernel
whose working directory is notebooks/ (as nbval's is). Each widget output is stored as its still picture
(static_outputs), so every page shows the lessons' pictures before anything runs; running a cell brings its
live widget. Edit the sources, never the .ipynb files.
"""

import argparse
import base64
import hashlib
import os
import sys
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

from nbdiag.still import palette_png

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "tools" / "lessons"
NOTEBOOKS = ROOT / "notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
FORMAT = "py:percent"
# how jupytext remembers a text file's layout (blank lines, markers): not the notebook's business
LAYOUT_METADATA = ("lines_to_next_cell", "lines_to_end_of_cell_marker", "cell_marker", "skipline", "noskipline")


def cell_ids(prefix, sources):
    """Ids for cells of these sources: prefix, '-' and a hash of the source; repeats get '-2', '-3'...

    A cell's id depends on its own source (and on the copies of it above), never on its position.
    """
    ids, used = [], set()
    for source in sources:
        base = f"{prefix}-{hashlib.sha1(source.encode()).hexdigest()[:8]}"
        cell_id, n = base, 1
        while cell_id in used:
            n += 1
            cell_id = f"{base}-{n}"
        used.add(cell_id)
        ids.append(cell_id)
    return ids


def notebook_metadata(metadata):
    """A cell's notebook metadata from the metadata on its `# %%` line: the reveal and check tags become
    JupyterLab's folding (and Jupyter Book's "remove-cell"); jupytext's layout keys go."""
    metadata = {k: v for k, v in metadata.items() if k not in LAYOUT_METADATA}
    tags = list(metadata.pop("tags", []))
    if "reveal" in tags:  # JupyterLab opens the notebook with this output folded, and so does Jupyter Book
        tags[tags.index("reveal")] = "hide-output"
        metadata["jupyter"] = {**metadata.get("jupyter", {}), "outputs_hidden": True}
    if "check" in tags:  # JupyterLab shows it folded; Jupyter Book leaves it out
        tags[tags.index("check")] = "remove-cell"
        metadata["jupyter"] = {**metadata.get("jupyter", {}), "source_hidden": True}
    if tags:
        metadata["tags"] = tags
    return metadata


def make_notebook(name, text):
    """The unexecuted notebook of lesson `name` from its py:percent source text, with stable cell ids."""
    source = jupytext.reads(text, fmt=FORMAT)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.metadata["language_info"] = {"name": "python"}
    ids = cell_ids(name.split("_")[0], [cell.source for cell in source.cells])
    for cell, cell_id in zip(source.cells, ids):
        if cell.cell_type not in ("markdown", "code"):
            raise ValueError(f"{name}: a {cell.cell_type} cell; the lessons have markdown and code cells only")
        new = nbformat.v4.new_markdown_cell if cell.cell_type == "markdown" else nbformat.v4.new_code_cell
        nb.cells.append(new(cell.source, id=cell_id, metadata=notebook_metadata(cell.metadata)))
    return nb


def read_lesson(name):
    """The unexecuted notebook of tools/lessons/<name>.py."""
    return make_notebook(name, (SOURCES / f"{name}.py").read_text())


class _Client(NotebookClient):
    """nbclient, also remembering the widgets closed during the run (nbclient keeps their state)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.closed_widgets = set()  # comm ids

    def handle_comm_msg(self, outs, msg, cell_index):
        super().handle_comm_msg(outs, msg, cell_index)
        if msg["msg_type"] == "comm_close":
            self.closed_widgets.add(msg["content"]["comm_id"])


def static_outputs(nb, closed):
    """Every widget output as the still it carries, so that any page shows it before a kernel runs.

    A stored widget view shows nothing without its kernel: JupyterLab draws ipympl's figures blank and, when the
    widget state is not stored, says "model not found"; untrusted, it prints the widget's repr; nbconvert and
    GitHub show nothing. Each of the lessons' widgets also offers a still PNG (an ipympl figure its image, a
    dashboard nbdiag.still's), which every page shows; running the cell brings the live widget back. Outputs
    of widgets closed during the run (a finished progress bar) go, as JupyterLab removes them.
    """
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.outputs:
            data = output.get("data", {})
            if WIDGET_VIEW not in data:
                kept.append(output)
                continue
            if data[WIDGET_VIEW]["model_id"] in closed:
                continue
            if "image/png" not in data:
                raise ValueError(f"cell {cell.id}: a widget output without a still image/png: {data.get('text/plain')}")
            del data[WIDGET_VIEW]
            if data.get("text/plain", "").startswith("Canvas("):
                # ipympl's figure: its text/plain is the widget's repr and its text/html the same image again
                output.data = data = nbformat.from_dict({"image/png": data["image/png"]})
            png = base64.b64decode(data["image/png"])
            data["image/png"] = base64.b64encode(palette_png(png)).decode("ascii")
            kept.append(output)
        cell.outputs = kept


def build(name):
    """Write notebooks/<name>.ipynb from its source and execute it in place."""
    nb = read_lesson(name)
    client = _Client(
        nb,
        timeout=600,
        kernel_name="python3",
        store_widget_state=False,
        record_timing=False,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()
    static_outputs(nb, client.closed_widgets)
    for cell in nb.cells:  # nbclient leaves an empty execution record on each cell
        cell.metadata.pop("execution", None)
    path = NOTEBOOKS / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def main(argv=None):
    names = sorted(p.stem for p in SOURCES.glob("[0-9]*.py"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"any of {', '.join(names)} (default: all)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(names))
    if unknown:
        parser.error(f"no lesson named {', '.join(unknown)}; choose from {', '.join(names)}")
    if not os.environ.get("NBDIAG_DATA_DIR"):
        sys.exit("set NBDIAG_DATA_DIR to a folder holding names.txt, so the stored outputs do not depend on a download")
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread per kernel: faster on 2 shared cores
    # the kernel imports this checkout's nbdiag, installed or not
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    for name in args.names or names:
        print("built", build(name).relative_to(ROOT), flush=True)


if __name__ == "__main__":
    main()
