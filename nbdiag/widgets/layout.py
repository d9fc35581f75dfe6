"""How the widgets sit in a notebook column: CSS, rows and columns, and the status, findings and tables as HTML.

Every box fits the notebook column (the cell's output), from a wide screen down to a narrow window.
"""

import html

import ipywidgets as W

from .. import health, stats

WRAPPING = dict(flex_flow="row wrap")  # a row of controls (or of pictures) wraps rather than overflows
# a comparison's column: half the row's width whatever its contents' width (flex-basis 0); in a row narrower than
# twice the minimum width (plus the gap) the row wraps, and the right column goes under the left one
COLUMN = dict(flex="1 1 0", min_width="min(20em, 100%)")
GAP = "0.5em 1.5em"  # between a comparison's columns (and rows, once they wrap)
# text that wraps at spaces, never inside a word: JupyterLab's <pre> has word-break: break-all
WORD_WRAP = "white-space:pre-wrap; overflow-wrap:normal; word-break:normal"
MONOSPACE = "font-family:var(--jp-code-font-family, monospace); font-size:12px; line-height:1.3"
ERROR_RED = "#b00020"


def status_html(run, settings=""):
    """The run's status in bold (red when it diverged), over the `settings` line (parts separated by " · ")."""
    color = ERROR_RED if run.diverged_at is not None or run.diverging_from is not None else "inherit"
    below = ""
    if settings:  # a narrow column breaks the line between settings, not inside one ("hidden / layers")
        parts = (f'<span style="white-space:nowrap">{html.escape(part)}</span>' for part in settings.split(" · "))
        below = f"<br><small>{' · '.join(parts)}</small>"
    return (
        f'<div style="line-height:1.4; {WORD_WRAP}"><b style="color:{color}">{html.escape(run.status)}</b>{below}</div>'
    )


def lines_html(text, indent):
    """Each line of `text` a block that wraps between words, never inside one, its next lines indented by `indent`
    characters. Tags stripped, it reads `text` again; in the page (innerText, a copy) too, empty lines included."""
    style = f"display:block; padding-left:{indent}ch; text-indent:-{indent}ch; {WORD_WRAP}"
    return "\n".join(f'<span style="{style}">{html.escape(line) or "<br>"}</span>' for line in text.split("\n"))


def findings_html(run):
    """What health.diagnose reads in the run, one finding a line, problems in red; a long finding wraps between
    words, its next lines indented past the severity ("warning ")."""
    findings = health.diagnose(run)
    color = ERROR_RED if any(f.severity == "error" for f in findings) else "inherit"
    lines = lines_html(health.format_findings(findings), indent=8)
    return f'<div style="{MONOSPACE}; margin:0.3em 0; color:{color}">{lines}</div>'


def tables_html(run):
    """The tables, a row a line; in a column too narrow for a row, it wraps between numbers, indented."""
    lines = lines_html(stats.tables(run), indent=4)
    return f'<pre style="{MONOSPACE}; margin:0; white-space:normal">{lines}</pre>'


def rows(widgets, per_row=2):
    """`per_row` widgets a row; in a column too narrow for them, one under the other."""
    return W.VBox(
        [W.HBox(widgets[i : i + per_row], layout=W.Layout(**WRAPPING)) for i in range(0, len(widgets), per_row)]
    )


def columns(left, right):
    """A comparison's row: `left` and `right` in two columns of equal width, which never push into each other;
    in a window too narrow for both, the right one goes under the left one."""
    boxes = []
    for children in (left, right):
        column = W.VBox(children, layout=W.Layout(**COLUMN))
        column.add_class("nbdiag-column")
        boxes.append(column)
    return W.HBox(boxes, layout=W.Layout(grid_gap=GAP, **WRAPPING))


def close_tree(widget):
    """Close a widget and every widget it holds: children, but also layouts, styles, ipympl's toolbar."""
    held = [getattr(widget, name) for name in widget.keys]
    W.Widget.close(widget)
    for value in held:
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, W.Widget) and item.comm is not None:
                close_tree(item)
