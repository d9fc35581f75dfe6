"""A dashboard as one still PNG: what a page shows where its widgets cannot run.

A stored lesson is read before any kernel runs (on GitHub, on the course website, in JupyterLab as it
opens), and some front ends never run widgets (VS Code without the widget renderer). So a dashboard's
output carries, next to its widget, this still: each column's status and settings, its pictures, its
findings and its tables, drawn once when the dashboard is displayed, never at a redraw. The gain sweep's
still is its figure again, at this width.
"""

import functools
import io
import itertools
import textwrap
from dataclasses import dataclass

from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from PIL import Image, ImageDraw, ImageFont

from . import plots, stats
from .picture import SWEEP_FIGSIZE, draw_network, sweep_axes
from .train import one_thread
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
MARGIN = 0.2  # inches of a column left free of text: its left offset and the gap to the next column
BOLD_CHAR = (
    0.68  # the status line's bold sans-serif character is at most this many times its font size wide, on average
)
TEXT_CHAR = 0.6  # the settings line's sans-serif character, likewise
MAX_FINDING_LINES = 14  # the findings a still shows, in lines; the live dashboard and the output's text show them all
ALL_ROWS = "every row: in the live dashboard's tables and the output's text"


@dataclass(frozen=True)
class Column:
    """One run's side of a still: the run, its status and settings lines, its findings and tables as text."""

    run: object  # a records.RunRecord
    status: str  # what the run did: "trained 300 steps, final loss 2.7635"
    settings: str  # the settings it ran with, or ""
    findings: str  # health.format_findings
    tables: str  # stats.tables, or "" for none


def drawn_rows(text, most=stats.MAX_CURVES):
    """The tables as a still shows them: each section of more than `most` rows cut to the rows of the layers (or
    weights) the pictures draw (stats.shown), its heading saying so, and a last line saying where every row is.

    A section's rows are one per layer (or weight), in the order the pictures pick theirs from, so stats.shown picks
    the same ones; the tables of a 50-layer network stay a screen high.
    """
    blocks, cut = _blocks(text), False
    for k, (title, *rows) in enumerate(blocks):
        if title.startswith("# ") and len(rows) > most:
            kept = stats.shown(rows, most)
            blocks[k], cut = [f"{title} ({len(kept)} of {len(rows)} rows, as drawn)", *kept], True
    return "\n\n".join("\n".join(block) for block in blocks + ([[ALL_ROWS]] if cut else []))


def _wrapped(text, width, most=None, indent=0):
    """`text` wrapped at `width` characters, between words, each of its lines on its own, the next lines of a long one
    indented by `indent`; with `most`, at most that many lines, the last saying how many more the live dashboard
    shows."""
    wrap = textwrap.TextWrapper(width, subsequent_indent=" " * indent, break_long_words=False)
    lines = [wrapped for line in text.splitlines() for wrapped in wrap.wrap(line) or [""]]
    if most is not None and len(lines) > most:
        more = len(lines) - most + 1
        lines = [*lines[: most - 1], f"... {more} more lines: in the live dashboard and the output's text"]
    return lines


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
    # lines of words (a long status) wrap at the tables' width, rather than shrink the tables to fit them
    tabled = [len(line) for block in blocks if block[0].startswith("# ") for line in block]
    words = textwrap.TextWrapper(max(tabled, default=0) or 80, break_long_words=False)
    blocks = [
        block if block[0].startswith("# ") else [w for line in block for w in words.wrap(line)] for block in blocks
    ]
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
    text_width = column_width - MARGIN  # inches: what a column's text may fill, never the next column

    def chars(size, char=CHAR):  # characters of `size` points that fit in text_width
        return max(20, int(text_width * 72 / (char * size)))

    findings = [_wrapped(c.findings, chars(FONT), MAX_FINDING_LINES, indent=8) for c in columns]  # past "warning "
    tables = [_table_columns(drawn_rows(c.tables), text_width) for c in columns]
    statuses = [_wrapped(c.status, chars(FONT + 1, BOLD_CHAR)) for c in columns]
    settings = [_wrapped(c.settings, chars(FONT, TEXT_CHAR)) for c in columns]
    head = max(_text_height(s, FONT + 1) + _text_height(t, FONT) for s, t in zip(statuses, settings)) + 0.1
    finding_height = max(_text_height(f, FONT) for f in findings) + 0.1
    table_height = max((_text_height(max(cols, key=len), size) for cols, size in tables if cols), default=0)
    height = head + rows * PICTURE_HEIGHT + AXIS_LABELS + finding_height + table_height + 0.3
    figure = Figure(figsize=(WIDTH, height), dpi=DPI)

    def y(inches):  # figure coordinates of a height measured from the top, in inches
        return 1 - inches / height

    for i, column in enumerate(columns):
        x = i / n + 0.01
        figure.text(x, y(0.05), "\n".join(statuses[i]), va="top", fontsize=FONT + 1, weight="bold", gid="status")
        below = 0.05 + _text_height(statuses[i], FONT + 1)
        figure.text(x, y(below), "\n".join(settings[i]), va="top", fontsize=FONT, gid="settings")
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
            with one_thread():  # its histograms, as the live pictures': on shared cores a second thread only waits
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
        figure.text(x, y(top), "\n".join(findings[i]), va="top", fontsize=FONT, family="monospace", gid="findings")
        text_columns, size = tables[i]
        left = x
        for lines in text_columns:
            text = "\n".join(lines)
            figure.text(left, y(top + finding_height), text, va="top", fontsize=size, family="monospace", gid="tables")
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
    """A still's figure as PNG bytes, in a palette of COLOURS colours.

    Its monospace texts (findings and tables: most of a still's characters) are drawn by PIL, in the font matplotlib
    would use, at the place and size it would: matplotlib's Agg renders text a glyph at a time, ten times slower.
    """
    texts = [t for t in figure.texts if t.get_visible() and "monospace" in t.get_fontfamily()]
    for text in texts:
        text.set_visible(False)
    canvas = FigureCanvasAgg(figure)  # its pixels, without a PNG to encode and decode again
    try:
        canvas.draw()
    finally:
        for text in texts:
            text.set_visible(True)
    picture = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba()).convert("RGB")
    draw = ImageDraw.Draw(picture)
    for text in texts:
        _draw_text(draw, text, picture.size)
    return _palette(picture)


@functools.cache
def _font(path, pixels):
    return ImageFont.truetype(path, pixels)


def _draw_text(draw, text, size):
    """Draw matplotlib Text `text` (left and top aligned, at figure coordinates) with PIL, LINE apart."""
    assert text.get_ha() == "left" and text.get_va() == "top", "only left- and top-aligned texts are drawn by PIL"
    width, height = size
    x, y = text.get_position()
    pixels = text.get_fontsize() * DPI / 72
    font = _font(font_manager.findfont(text.get_fontproperties()), pixels)
    fill = tuple(round(255 * c) for c in to_rgb(text.get_color()))
    for k, line in enumerate(text.get_text().split("\n")):
        draw.text((x * width, (1 - y) * height + k * pixels * LINE), line, font=font, fill=fill, anchor="la")


def palette_png(png_bytes):
    """The same picture in a PNG of COLOURS colours: about a third of the bytes, for line plots alike to the eye."""
    return _palette(Image.open(io.BytesIO(png_bytes)).convert("RGB"))


def _palette(picture):
    out = io.BytesIO()
    # the octree keeps the lines' own colours (median cut greys them), and takes a tenth of the time
    picture.quantize(COLOURS, method=Image.Quantize.FASTOCTREE).save(out, format="png", optimize=True)
    return out.getvalue()
