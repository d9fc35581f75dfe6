"""nbdiag.still: a dashboard, a comparison and the gain sweep as still PNGs, for pages that cannot run widgets."""

import io

from PIL import Image

from nbdiag import Config, health, stats, sweep, train
from nbdiag.still import (
    CAPTION,
    COLOURS,
    DPI,
    SWEEP_CAPTION,
    WIDTH,
    Column,
    dashboard_figure,
    gain_sweep_figure,
    gain_sweep_png,
    png,
)
from nbdiag.views import VIEWS


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
