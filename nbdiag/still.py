"""A dashboard as one still PNG: what a page shows where its widgets cannot run.

A stored lesson is read before any kernel runs (on GitHub, on the course website, in JupyterLab as it
opens), and some front ends never run widgets (VS Code without the widget renderer). So a dashboard's
output carries, next to its widget, this still: each column's status and settings, its pictures, its
findings and its tables, drawn once when the dashboard is displayed, never at a redraw. The gain sweep's
still is its figure again, at this width.
"""

import io
import itertools
import textwrap
from dataclasses import dataclass

from matplotlib.figure import Figure
from PIL import Image

from . import plots
from .picture import SWEEP_FIGSIZE, draw_network, sweep_axes
from .views import ALL_VIEWS

WIDTH = 9.5  # inches: the width of a notebook column (855 px at DPI), whatever the number of columns
DPI = 90  # pixels per inch: readable text, a light notebook
PICTURE_HEIGHT = 2.9  # inches: one row of pictures
FONT = 7.5  # points: the tables' and findings' text, at most
CAPTION = "a still picture of the dashboard: run the cell to move its controls"
SWEEP_CAPTION = "a still picture of the gain sweep: run the cell to move its controls"
MIN_FONT = 6.5  # points: tables set side by side never get smaller than this
LINE = 1.3  # a line of text is this many times its font size high
CHAR = 0.6  # a monospace character is this many times its font size wide
AXIS_LABELS = 0.45  # inches under the last row of pictures: its tick labels and x label
COLOURS = 64  # the PNG's palette: line plots need few, and a palette PNG is a third the size


@dataclass(frozen=True)
class Column:
    """One run's side of a still: the run, its status and settings lines, its findings and tables as text."""

    run: object  # a records.RunRecord
    status: str  # what the run did: "trained 300 steps, final loss 2.7635"
    settings: str  # the settings it ran with, or ""
    findings: str  # health.format_findings
    tables: str  # stats.tables, or "" for none


def _text_height(lines, size):
    return len(lines) * size * LINE / 72  # inches


def _blocks(text):
    """The tables' sections (separated by a blank line), as lists of lines."""
    return [block.splitlines() for block in text.strip("\n").split("\n\n") if block.strip()]


def _table_columns(text, width):
    """The sections side by side in as many text columns as fit in `width` inches at a readable size, cut where the
    tallest column is lowest; and the font size that fits the widest line."""
    blocks = _blocks(text)
    if not blocks:
        return [], FONT
    best = None
    for n in range(1, min(len(blocks), 3) + 1):
        for cuts in itertools.combinations(range(1, len(blocks)), n - 1):
            columns = [sum(([""] + b for b in blocks[i:j]), [])[1:] for i, j in zip((0, *cuts), (*cuts, len(blocks)))]
            chars = sum(max(map(len, column)) for column in columns) + 4 * (n - 1)
            size = min(FONT, width * 72 / (CHAR * chars))
            height = max(map(len, columns))
            if (size >= MIN_FONT or n == 1) and (best is None or height < best[0]):
                best = (height, columns, size)
    return best[1], best[2]


def png(view_names, columns, per_row=2):
    """The still of `columns` (one Column each) drawn with the views named (nbdiag.views.ALL_VIEWS): PNG bytes."""
    return render(dashboard_figure(view_names, columns, per_row))


def dashboard_figure(view_names, columns, per_row=2):
    """The still of `columns` (one Column each) drawn with the views named, as a matplotlib Figure.

    One column: the pictures `per_row` to a row. Several (a comparison): each picture a row, a column each, each
    row's pictures sharing their axes' limits.
    """
    views = {name: ALL_VIEWS[name] for name in view_names}
    n = len(columns)
    per_row = min(per_row, len(views)) if n == 1 else n
    rows = -(-len(views) // per_row) if n == 1 else len(views)
    column_width = WIDTH / n
    wrap = max(20, int(column_width * 72 / (CHAR * FONT)))
    findings = [
        "\n".join(textwrap.fill(line, wrap, break_long_words=False) for line in c.findings.splitlines())
        for c in columns
    ]
    tables = [_table_columns(c.tables, column_width) for c in columns]
    heads = [[c.status, *textwrap.wrap(c.settings, wrap, break_long_words=False)] for c in columns]
    head = max(_text_height(h, FONT + 1) for h in heads) + 0.1
    finding_height = max(_text_height(f.splitlines(), FONT) for f in findings) + 0.1
    table_height = max((_text_height(max(cols, key=len), size) for cols, size in tables if cols), default=0)
    height = head + rows * PICTURE_HEIGHT + AXIS_LABELS + finding_height + table_height + 0.3
    figure = Figure(figsize=(WIDTH, height), dpi=DPI)

    def y(inches):  # figure coordinates of a height measured from the top, in inches
        return 1 - inches / height

    for i, column in enumerate(columns):
        x = i / n + 0.01
        figure.text(x, y(0.05), heads[i][0], va="top", fontsize=FONT + 1, weight="bold")
        figure.text(x, y(0.05 + (FONT + 1) * LINE / 72), "\n".join(heads[i][1:]), va="top", fontsize=FONT)
    grid = figure.add_gridspec(
        rows,
        per_row,
        left=0.07 / n + 0.02,
        right=0.98,
        top=y(head + 0.3),
        bottom=y(head + rows * PICTURE_HEIGHT),
        hspace=0.45,
        wspace=0.25,
    )
    for k, name in enumerate(views):
        row = []
        for i, column in enumerate(columns):
            cell = grid[k // per_row, k % per_row] if n == 1 else grid[k, i]
            ax = figure.add_subplot(cell)
            views[name].draw(column.run, ax, None)
            plots.shade_healthy_bands(ax, views[name].band(column.run))
            ax.locator_params(nbins=5)  # long tick labels (-0.0015) must not run into each other
            ax.title.set_fontsize(FONT + 1.5)
            ax.tick_params(labelsize=FONT)
            if ax.get_legend() is not None:
                for text in ax.get_legend().get_texts():
                    text.set_fontsize(FONT - 0.5)
            row.append(ax)
        if n > 1:  # a comparison's pictures share their axes, as the live ones do
            for lim in ("xlim", "ylim"):
                lows, highs = zip(*(getattr(ax, f"get_{lim}")() for ax in row))
                for ax in row:
                    getattr(ax, f"set_{lim}")(min(lows), max(highs))
    top = head + rows * PICTURE_HEIGHT + AXIS_LABELS
    for i, column in enumerate(columns):
        x = i / n + 0.01
        figure.text(x, y(top), findings[i], va="top", fontsize=FONT, family="monospace")
        text_columns, size = tables[i]
        left = x
        for lines in text_columns:
            figure.text(left, y(top + finding_height), "\n".join(lines), va="top", fontsize=size, family="monospace")
            left += (max(map(len, lines)) + 4) * CHAR * size / 72 / WIDTH
    figure.text(0.99, 0.04 / height, CAPTION, ha="right", va="bottom", fontsize=FONT, style="italic", color="0.4")
    return figure


def gain_sweep_png(sweep, depth, gain, histograms, line):
    """The gain sweep's still (gain_sweep_figure): PNG bytes."""
    return render(gain_sweep_figure(sweep, depth, gain, histograms, line))


def gain_sweep_figure(sweep, depth, gain, histograms, line):
    """The gain sweep's still: `sweep` (nbdiag.sweep.Sweep) with `depth` highlighted and `gain` marked, over the
    chosen network's `histograms` titled with its readout `line`, as a matplotlib Figure."""
    figure = Figure(figsize=(WIDTH, SWEEP_FIGSIZE[1] + 0.3), dpi=DPI)
    axes = sweep_axes(figure)
    plots.plot_gain_sweep(sweep, axes[:2], highlight=depth, gain=gain)
    draw_network(axes, sweep.activation, gain, histograms, line)
    figure.text(0.99, 0.005, SWEEP_CAPTION, ha="right", va="bottom", fontsize=FONT, style="italic")
    return figure


def render(figure):
    """A still's figure as PNG bytes, in a palette of COLOURS colours."""
    rendered = io.BytesIO()
    figure.savefig(rendered, format="png", dpi=DPI)
    return palette_png(rendered.getvalue())


def palette_png(png_bytes):
    """The same picture in a PNG of COLOURS colours: about a third of the bytes, for line plots alike to the eye."""
    out = io.BytesIO()
    Image.open(io.BytesIO(png_bytes)).convert("RGB").quantize(COLOURS).save(out, format="png", optimize=True)
    return out.getvalue()
