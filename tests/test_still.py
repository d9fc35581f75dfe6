"""nbdiag.still: a dashboard, a comparison and the gain sweep as still PNGs, for pages that cannot run widgets."""

import dataclasses
import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from nbdiag import Config, health, stats, sweep, train
from nbdiag.still import (
    ALL_ROWS,
    CAPTION,
    COLOURS,
    DPI,
    SWEEP_CAPTION,
    WIDTH,
    Column,
    _blocks,
    dashboard_figure,
    drawn_rows,
    gain_sweep_figure,
    gain_sweep_png,
    png,
    render,
)
from nbdiag.views import VIEWS

SETTINGS = "gain 5/3 · activation tanh · learning rate 0.1 · optimizer sgd · batch norm off · residual off · " * 2


def column(run, tables=True):
    return Column(
        run=run,
        status=run.status,
        settings="gain 5/3",
        findings=health.format_findings(health.diagnose(run)),
        tables=stats.tables(run) if tables else "",
    )


def image(png_bytes):
    assert png_bytes.startswith(b"\x89PNG")
    return Image.open(io.BytesIO(png_bytes))


def test_a_still_is_a_notebook_columns_width_and_grows_with_its_rows(run):
    one, four = image(png(["activations"], [column(run, tables=False)])), image(png(VIEWS, [column(run, False)]))
    assert one.size[0] == four.size[0] == round(WIDTH * DPI)
    assert four.size[1] > one.size[1]  # two rows of pictures, not one
    assert image(png(VIEWS, [column(run)])).size[1] > four.size[1]  # and the tables under them


def test_a_still_has_a_small_palette(run):
    picture = image(png(VIEWS, [column(run)]))
    assert picture.mode == "P" and len(picture.getcolors()) <= COLOURS


def test_a_still_writes_the_status_findings_tables_and_caption(run):
    figure = dashboard_figure(VIEWS, [column(run)])
    texts = "\n".join(text.get_text() for text in figure.texts)
    assert run.status in texts and "gain 5/3" in texts and CAPTION in texts
    assert stats.tables(run).splitlines()[1] in texts  # (the sections may sit side by side)
    assert len(figure.axes) == len(VIEWS)


def test_a_comparisons_still_shares_each_rows_axes(run, dataset):
    figure = dashboard_figure(VIEWS, [column(run), column(train(Config(gain=3), dataset))])
    assert len(figure.axes) == 2 * len(VIEWS)
    for left, right in zip(figure.axes[::2], figure.axes[1::2]):  # a row: the same view of each run
        assert left.get_title() == right.get_title()
        assert left.get_xlim() == right.get_xlim() and left.get_ylim() == right.get_ylim()


def test_the_gain_sweeps_still_shows_its_curves_and_network():
    s = sweep.sweep_gains("tanh", depths=(5, 20))
    histograms = sweep.histograms("tanh", 5 / 3, 5)
    figure = gain_sweep_figure(s, 5, 5 / 3, histograms, "tanh, gain 5/3, depth 5")
    assert len(figure.axes) == 3 and "tanh, gain 5/3, depth 5" in figure.axes[2].get_title()
    assert SWEEP_CAPTION in [text.get_text() for text in figure.texts]
    picture = image(gain_sweep_png(s, 5, 5 / 3, histograms, "tanh, gain 5/3, depth 5"))
    assert picture.size[0] == round(WIDTH * DPI) and len(picture.getcolors()) <= COLOURS


def test_a_deep_networks_tables_show_the_rows_of_the_layers_drawn_and_say_where_the_rest_are(dataset):
    deep = train(Config(depth=50), dataset)
    full = stats.tables(deep)
    cut = drawn_rows(full)
    assert "# activations (8 of 50 rows, as drawn)" in cut and "# weight gradients (8 of 52 rows, as drawn)" in cut
    assert cut.endswith(ALL_ROWS) and len(cut.splitlines()) < len(full.splitlines()) / 3
    drawn = [h.label for h in stats.activation_histograms(deep)]  # the layers the activations picture draws
    activation_rows = _blocks(cut)[0][1:]
    assert len(activation_rows) == len(drawn) == stats.MAX_CURVES
    assert [row.split(":")[0].replace(" ", "") for row in activation_rows] == [
        label.replace(" ", "") for label in drawn
    ]
    assert all(row in full.splitlines() for block in _blocks(cut) for row in block[1:] if block[0].startswith("# "))
    assert drawn_rows(stats.tables(train(Config(), dataset))) == stats.tables(train(Config(), dataset)).strip()


def test_each_columns_text_stays_in_its_column(run):
    long_status = (
        "trained 1 step, final loss 222.6; the loss at step 0 was 222.6, 68x a uniform guess's: a broken start "
        "(the initial gain 5/3 is probably too large: the signal grows 3687x through the 50 hidden layers)"
    )
    sides = [dataclasses.replace(column(run), status=long_status, settings=SETTINGS) for _ in range(2)]
    for columns in (sides[:1], sides):
        figure = dashboard_figure(VIEWS, columns)
        renderer = FigureCanvasAgg(figure).get_renderer()
        right_edges = [figure.bbox.width * (i + 1) / len(columns) for i in range(len(columns))]
        texts = [t for t in figure.texts if t.get_gid() in ("status", "settings", "findings", "tables")]
        assert {t.get_gid() for t in texts} == {"status", "settings", "findings", "tables"}
        for text in texts:
            box = text.get_window_extent(renderer)
            column_edge = next(edge for edge in right_edges if box.x0 < edge)
            assert box.x1 <= column_edge, f"{text.get_gid()} runs into the next column: {text.get_text()[:60]!r}"
        status = next(t for t in texts if t.get_gid() == "status").get_text()
        assert status.replace("\n", " ") == long_status


def test_pil_draws_the_monospace_text_where_matplotlib_would(run):
    """The findings and tables are drawn by PIL (fast); their ink lies where matplotlib's would."""
    figure = dashboard_figure(["activations"], [column(run)])
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    ours = np.asarray(image(render(figure)).convert("L")) < 128
    matplotlib_ink = np.asarray(Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba()).convert("L"))
    theirs = matplotlib_ink < 128
    rows_ours, rows_theirs = np.flatnonzero(ours.any(axis=1)), np.flatnonzero(theirs.any(axis=1))
    assert abs(rows_ours[-1] - rows_theirs[-1]) <= 0.05 * ours.shape[0]  # the last line of the tables
    assert abs(ours.sum() - theirs.sum()) <= 0.25 * theirs.sum()
