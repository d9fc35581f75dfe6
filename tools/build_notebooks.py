"""Write the lesson notebooks from tools/lessons/*.py and execute them, so their stored outputs are a fresh run's.

Each source is a Python file in the "percent" format: `# %%` starts a code cell, `# %% [markdown]`
starts a markdown cell whose lines are written as comments, `# %% [reveal]` starts a code cell whose
output is stored folded (a predict-then-reveal table: the student guesses, then runs or unfolds it), and
`# %% [check]` starts a code cell stored with its source hidden: assertions that the prose's claims about a
long run hold, whatever the CPU (nbval runs them with the rest). Run from anywhere:

    NBDIAG_DATA_DIR=/path/to/folder/with/names.txt python tools/build_notebooks.py [NAME ...]

With no NAME every lesson is rebuilt. The notebooks land in notebooks/, executed by nbclient in a kernel
whose working directory is notebooks/ (as nbval's is), with the widget state stored so that JupyterLab
shows the pictures before anything runs. Edit the sources, never the .ipynb files.
"""
import argparse
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "tools" / "lessons"
NOTEBOOKS = ROOT / "notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def parse_percent(text):
    """Cells of a percent-format source: [(kind, source)], kind 'code', 'reveal', 'check' or 'markdown'."""
    cells, kind, lines = [], None, []

    def flush():
        body = "\n".join(lines).strip("\n")
        if kind is not None and body:
            cells.append((kind, body))

    for line in text.splitlines():
        if line.startswith("# %%"):
            flush()
            kind = next((k for k in ("markdown", "reveal", "check") if f"[{k}]" in line), "code")
            lines = []
        elif kind == "markdown":
            lines.append(line[2:] if line.startswith("# ") else line.lstrip("#"))
        elif kind is not None:
            lines.append(line)
    flush()
    return cells


def make_notebook(name, cells):
    """A notebook of the given cells, with ids that stay the same from one build to the next."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.metadata["language_info"] = {"name": "python"}
    for i, (kind, source) in enumerate(cells):
        new = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        cell = new(source, id=f"{name.split('_')[0]}-{i:02d}")
        if kind == "reveal":  # JupyterLab opens the notebook with this output folded
            cell.metadata["jupyter"] = {"outputs_hidden": True}
        if kind == "check":  # JupyterLab shows it folded; Jupyter Book leaves it out
            cell.metadata["jupyter"] = {"source_hidden": True}
            cell.metadata["tags"] = ["remove-cell"]
        nb.cells.append(cell)
    return nb


class _Client(NotebookClient):
    """nbclient, also remembering the widgets closed during the run (nbclient keeps their state)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.closed_widgets = set()  # comm ids

    def handle_comm_msg(self, outs, msg, cell_index):
        super().handle_comm_msg(outs, msg, cell_index)
        if msg["msg_type"] == "comm_close":
            self.closed_widgets.add(msg["content"]["comm_id"])


def _references(value):
    """Model ids a widget's state points at ('IPY_MODEL_<id>' strings, in lists and dicts too)."""
    if isinstance(value, str):
        return [value[len("IPY_MODEL_"):]] if value.startswith("IPY_MODEL_") else []
    if isinstance(value, (list, tuple)):
        return [ref for item in value for ref in _references(item)]
    if isinstance(value, dict):
        return [ref for item in value.values() for ref in _references(item)]
    return []


def drop_closed_widgets(nb, closed):
    """Remove outputs of widgets closed during the run (a finished progress bar), and state nothing shows.

    JupyterLab removes a closed widget's output; stored, it would show a stale "0%" bar. The widget
    state keeps the models that the remaining outputs show, their parts, and links between them.
    """
    widgets = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    state = widgets.get("state", {})

    def shown(output):
        view = output.get("data", {}).get(WIDGET_VIEW)
        return view is None or (view["model_id"] in state and view["model_id"] not in closed)

    roots = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if shown(o)]
            roots += [o["data"][WIDGET_VIEW]["model_id"] for o in cell.outputs if WIDGET_VIEW in o.get("data", {})]
    keep, todo = set(), roots
    while todo:
        model_id = todo.pop()
        if model_id in state and model_id not in keep:
            keep.add(model_id)
            todo += _references(state[model_id]["state"])
    keep |= {m for m, model in state.items() if m not in closed and keep & set(_references(model["state"]))}
    if state:
        widgets["state"] = {m: model for m, model in state.items() if m in keep}


def build(name):
    """Write notebooks/<name>.ipynb from its source and execute it in place."""
    cells = parse_percent((SOURCES / f"{name}.py").read_text())
    nb = make_notebook(name, cells)
    client = _Client(nb, timeout=600, kernel_name="python3", store_widget_state=True,
                     record_timing=False, resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    drop_closed_widgets(nb, client.closed_widgets)
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
