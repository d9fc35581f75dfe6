"""nbdiag.widgets.dashboard: Dashboard and Comparison without a browser: their parts, in-place redraws, frames,
memory, recorded runs, and their layout in a notebook column.

Runs on ipympl's backend, the lessons' one: outside a kernel its canvas is a widget whose messages go
nowhere, and it renders as it would in the page.
"""

import base64
import gc
import html
import io
import os
import re
import time
from pathlib import Path

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from PIL import Image
from torch_models import train_watched

import nbdiag.session
import nbdiag.stats
from nbdiag import Config, ConfigError, train
from nbdiag.picture import KEEP
from nbdiag.stats import tables
from nbdiag.widgets import CONTROLS, VIEWS, Comparison, Dashboard, schedule

pytestmark = pytest.mark.usefixtures("ipympl_backend")  # the lessons' backend: figures are ipympl's canvases


GAIN_3_LAYER_1 = "layer 1 (      Tanh): mean -0.03, std 0.85, saturated: 47.66%"


def page_text(html_widget):
    """The text a student reads in an HTML widget."""
    return html.unescape(re.sub(r"<[^>]+>", "", html_widget.value))


def resident_bytes():
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def open_widgets():
    return len(W.widgets.widget._instances)  # every widget not closed yet, by model id


def descendants(widget):
    for child in getattr(widget, "children", ()):
        yield child
        yield from descendants(child)


def drawn(picture):
    """The y data of each data line of a picture's first axes."""
    return [line.get_ydata() for line in picture.axes[0].get_lines() if line.get_gid() == "series"]


def test_the_full_dashboard_has_every_control_and_view(dataset):
    d = Dashboard(dataset=dataset)
    assert tuple(d.panel.controls) == CONTROLS and tuple(d.figures) == VIEWS
    parts = list(descendants(d))
    assert all(c in parts for c in d.panel.controls.values()) and d.panel.tables_html in parts
    for figure in d.figures.values():
        assert isinstance(figure.canvas, W.DOMWidget) and figure.canvas in parts  # ipympl's canvas, embedded
    assert GAIN_3_LAYER_1 not in page_text(d.panel.tables_html) and tables(d.panel.session.run) in page_text(
        d.panel.tables_html
    )


@pytest.mark.parametrize(
    "kwargs, option",
    [
        (dict(gain=10), "gain"),
        (dict(gain=-1), "gain"),
        (dict(steps=10**6), "steps"),
        (dict(bogus=1), "bogus"),
        (dict(controls=["volume"]), "volume"),
        (dict(views=["loss"]), "loss"),
    ],
)
def test_invalid_settings_are_rejected_naming_the_option(dataset, kwargs, option):
    with pytest.raises(ConfigError, match=option):
        Dashboard(dataset=dataset, **kwargs)


def test_a_single_view_updates_its_lines_in_place(dataset):
    d = Dashboard(controls=["gain"], views=["activations"], tables=False, dataset=dataset, gain=5 / 3)
    assert list(d.panel.controls) == ["gain"] and list(d.figures) == ["activations"] and d.panel.tables_html is None
    (ax,) = d.figures["activations"].axes
    lines = [line for line in ax.get_lines() if line.get_gid() == "series"]
    before = [line.get_ydata().copy() for line in lines]
    d.panel.controls["gain"].value = 3
    assert [line for line in ax.get_lines() if line.get_gid() == "series"] == lines  # the same artists
    assert all(not np.array_equal(line.get_ydata(), y) for line, y in zip(lines, before))
    assert [line.get_label() for line in lines] == [f"layer {i} (Tanh)" for i in (1, 3, 5, 7, 9)]


def test_100_changes_leave_no_figure_artist_widget_or_memory_behind(dataset):
    fignums, widgets_before = plt.get_fignums(), open_widgets()
    d = Dashboard(dataset=dataset)
    shown_in_a_page(d)

    def artists():
        return sum(len(figure.findobj()) for figure in d.figures.values())

    gains = [0.5, 1.0, 5 / 3, 3.0, 2.0]
    for i in range(10):  # warm up: every layout and limit once
        d.panel.controls["gain"].value = gains[i % len(gains)]
    counts, widgets = artists(), open_widgets()
    gc.collect()
    objects, rss = len(gc.get_objects()), resident_bytes()
    for i in range(100):
        d.panel.controls["gain"].value = gains[i % len(gains)]
    gc.collect()
    assert d.panel.session.config.gain == gains[99 % len(gains)]
    assert plt.get_fignums() == fignums and artists() == counts and open_widgets() == widgets
    assert len(gc.get_objects()) - objects < 100  # e.g. a kept Run or Line2D per change would be 100s
    assert resident_bytes() - rss < 20e6  # kept runs' tensors would be ~30 MB
    d.close()
    assert open_widgets() == widgets_before


def shown_in_a_page(dashboard):
    """As when the page has shown each figure: ipympl then takes the frames the dashboard sends."""
    for figure in dashboard.figures.values():
        figure.canvas.syncing_data_url = False  # what ipympl sets on the page's 'initialized' message


def test_no_frame_is_sent_before_a_page_shows_the_figure(dataset):
    d = Dashboard(dataset=dataset)
    d.panel.controls["gain"].value = 3.0
    # ipympl would keep such a frame as the figure's image for the page, without its data: URL prefix: broken
    assert all(figure.canvas._data_url is None for figure in d.figures.values())
    shown_in_a_page(d)
    d.panel.controls["gain"].value = 1.0
    assert all(figure.canvas._last_buff.size > 1 for figure in d.figures.values())  # frames now go out


def test_every_frame_is_whole_so_a_page_that_loses_one_shows_no_stale_lines(dataset):
    """In a quick series of frames (a drag) the page may replace one before it shows: a frame of only the
    changed pixels would then be lost for good, and its lines would stay on the picture."""
    d = Dashboard(dataset=dataset, snapshots=5, steps=20)
    shown_in_a_page(d)
    for control, value in (("gain", 1.0), ("gain", 1.02), ("gain", 1.04)):
        d.panel.controls[control].value = value
        assert all(figure.canvas._current_image_mode == "full" for figure in d.figures.values())
    for step in (15, 10, 5):
        d.panel.step.value = step
        assert all(figure.canvas._current_image_mode == "full" for figure in d.figures.values())
    d.close()


def test_a_blitted_frame_equals_a_full_render(dataset):
    d = Dashboard(dataset=dataset)
    shown_in_a_page(d)
    for gain in (1.0, 1.04, 1.08, 1.12, 3.0, 3.04):
        d.panel.controls["gain"].value = gain
        for figure in d.figures.values():
            frame = np.asarray(figure.canvas.get_renderer().buffer_rgba()).copy()
            figure.canvas.draw()  # everything, from scratch
            assert np.array_equal(frame, np.asarray(figure.canvas.get_renderer().buffer_rgba()))


def test_axes_keep_every_drawn_point_in_view(dataset):
    from nbdiag import bands

    d = Dashboard(dataset=dataset)
    for changes in [
        dict(gain=3),
        dict(gain=0.5),
        dict(batchnorm=True),
        dict(gain=5),
        dict(activation="linear"),
        dict(lr=10, steps=10),
        dict(fan_in_scaling=False),
    ]:
        for name, value in changes.items():
            d.panel.controls[name].value = value
        assert not d.panel.errors.outputs
        for view, figure in d.figures.items():
            (ax,) = figure.axes
            (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
            xs = np.concatenate([line.get_xdata() for line in ax.get_lines() if line.get_gid() == "series"])
            ys = [line.get_ydata() for line in ax.get_lines() if line.get_gid() in ("series", "guide")]
            if view == "update_ratios":
                band = bands.healthy_bands()["update_ratio"]
                ys.append([band.low, band.high])
            ys = np.concatenate(ys)
            if len(xs):  # every point in view, and the view not much wider than the points (and 1e-3 guide, band)
                assert x0 <= xs.min() and xs.max() <= x1 and y0 <= ys.min() and ys.max() <= y1
                assert ys.max() - ys.min() >= KEEP * (y1 - y0) * 0.99


def test_a_blitted_frame_at_a_step_equals_a_full_render(dataset):
    widgets_before = open_widgets()
    d = Dashboard(dataset=dataset, snapshots=5, steps=20)
    shown_in_a_page(d)
    for step in (5, 10, 0, 19, 15):
        d.panel.step.value = step
        for figure in d.figures.values():
            frame = np.asarray(figure.canvas.get_renderer().buffer_rgba()).copy()
            figure.canvas.draw()
            assert np.array_equal(frame, np.asarray(figure.canvas.get_renderer().buffer_rgba()))
    d.close()
    assert open_widgets() == widgets_before  # the step slider and its note closed with the rest


def test_healthy_bands_are_shaded_in_the_dashboard(dataset):
    d = Dashboard(dataset=dataset, controls=["activation"])

    def bands(view):
        return [
            p.get_gid() for p in d.pictures[view].axes[0].patches if (p.get_gid() or "").startswith("healthy_band:")
        ]

    assert bands("update_ratios") == ["healthy_band:update_ratio"] and not bands("gradients")
    assert bands("activations") == ["healthy_band:tanh_output"]
    d.panel.controls["activation"].value = "linear"  # no tanh: no tanh band on the Linear outputs
    assert not bands("activations") and len(bands("update_ratios")) == 1
    d.panel.controls["activation"].value = "relu"  # another activation: nor its band (tanh's)
    assert not bands("activations")
    d.panel.controls["activation"].value = "tanh"
    assert len(bands("activations")) == 1
    d.close()


def test_comparison_runs_both_sides_from_one_seed_with_shared_axes(dataset, trained):
    c = Comparison(dict(gain=1), dict(gain=5 / 3), dataset=dataset)
    left, right = c.left.session, c.right.session
    assert left.config == Config(gain=1) and right.config == Config(gain=5 / 3)
    assert page_text(c.left.tables_html) == tables(train(Config(gain=1), dataset))
    assert page_text(c.right.tables_html) == tables(train(Config(gain=5 / 3), dataset))
    assert "seed" not in c.left.controls and c.seed is not None

    def limits_shared():
        return all(
            fig.axes[0].get_xlim() == fig.axes[1].get_xlim() and fig.axes[0].get_ylim() == fig.axes[1].get_ylim()
            for fig in c.figures.values()
        )

    assert limits_shared()
    right_run = right.run
    c.left.controls["gain"].value = 3.0
    assert GAIN_3_LAYER_1 in page_text(c.left.tables_html) and right.run is right_run and limits_shared()
    trained.clear()
    c.seed.value = 42
    assert sorted(cfg.gain for cfg in trained) == [5 / 3, 3.0] and left.config.seed == right.config.seed == 42
    assert limits_shared()


def test_a_comparison_needs_one_seed(dataset):
    with pytest.raises(ConfigError, match="seed"):
        Comparison(dict(seed=1), dict(seed=2), dataset=dataset)
    c = Comparison(dict(seed=7), dict(batchnorm=True), controls=["gain"], views=["activations"], dataset=dataset)
    assert c.left.session.config.seed == c.right.session.config.seed == 7 and c.seed is None


def test_other_backends_get_a_png_that_changes_with_the_run(dataset):
    plt.switch_backend("Agg")
    d = Dashboard(controls=["gain"], views=["activations"], dataset=dataset)
    (image,) = [w for w in descendants(d) if isinstance(w, W.Image)]
    before = bytes(image.value)
    assert isinstance(image, W.Image) and before.startswith(b"\x89PNG") and plt.get_fignums() == []
    d.panel.controls["gain"].value = 3.0
    assert bytes(image.value).startswith(b"\x89PNG") and bytes(image.value) != before


def recorded(snapshots=None):
    """What nbdiag.watch records of a small torch.nn model trained 12 steps with Adam."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32), torch.nn.Tanh(), torch.nn.Linear(32, 3)
    )
    return train_watched(model, 12, torch.optim.Adam, 0.01, inputs=8, classes=3, lr=0.01, snapshots=snapshots)


def test_a_watched_torch_nn_run_shows_in_the_same_dashboard_views():
    from nbdiag import health

    rec = recorded(snapshots=4)
    d = Dashboard(run=rec)
    assert not d.panel.controls and tuple(d.figures) == VIEWS and not d.panel.errors.outputs
    assert page_text(d.panel.tables_html) == tables(rec) and page_text(d.panel.status).startswith("recorded 12 steps")
    assert page_text(d.panel.findings) == health.format_findings(health.diagnose(rec))
    assert [list(y) for y in drawn(d.pictures["activations"])] == [
        list(h.density) for h in nbdiag.stats.activation_histograms(rec)
    ]
    assert "layer 1 (ReLU)" in d.pictures["activations"].legends[0].value
    assert list(d.panel.step.options) == [0, 4, 8, 11]  # the kept snapshots and the last step
    d.panel.step.value = 4
    assert "at step 4" in page_text(d.pictures["weight_gradients"].titles[0]) and not d.panel.errors.outputs
    d.close()
    assert Dashboard(run=recorded()).panel.step is None  # no snapshots, no slider


@pytest.mark.parametrize(
    "kwargs, option", [(dict(gain=3), "gain"), (dict(controls=["lr"]), "controls"), (dict(snapshots=5), "snapshots")]
)
def test_a_recorded_run_cannot_be_re_run_and_says_why(kwargs, option):
    with pytest.raises(ConfigError, match=f"{option}: a recorded run is shown as it is"):
        Dashboard(run=recorded(), **kwargs)
    with pytest.raises(ConfigError, match="run must be"):
        Dashboard(run="my_run.pt")


def test_the_saturation_over_time_view_follows_the_step_slider(dataset):
    d = Dashboard(dataset=dataset, snapshots=10, steps=45, views=[*VIEWS, "saturation_over_time"], gain=3)
    picture = d.pictures["saturation_over_time"]
    records = nbdiag.stats.activations_over_time(d.panel.session.run)
    assert [list(y) for y in drawn(picture)] == [list(r.saturated) for r in records]
    assert min(records[0].saturated) > 40  # gain 3: the lesson's 47.66% at step 0, and it stays high
    assert [p.get_gid() for p in picture.axes[0].patches] == ["healthy_band:saturation"]
    d.panel.step.value = 30
    [marker] = [line for line in picture.axes[0].get_lines() if line.get_gid() == "step"]
    assert list(marker.get_xdata()) == [30, 30] and "at step" not in page_text(picture.titles[0])
    d.close()
    with pytest.raises(ConfigError, match="views: saturation_over_time .* snapshots=N"):
        Dashboard(dataset=dataset, views=["saturation_over_time"])


NOTEBOOK_COLUMN = 848  # px: the output area of a cell in JupyterLab 4 in a 1280 px window, file browser open


IPYMPL_FRAME = 8  # px: what an ipympl figure adds around its canvas


def cut_texts(figure):
    """The axes whose tick labels, axis labels or offset texts ("1e-5") a render would cut at the figure's edges."""
    renderer, edges = figure.canvas.get_renderer(), figure.bbox
    cut = []
    for ax in figure.axes:
        box = ax.get_tightbbox(renderer)  # what the axes draw, ticks outside the limits left out
        if box.x0 < edges.x0 - 0.5 or box.y0 < edges.y0 - 0.5 or box.x1 > edges.x1 + 0.5 or box.y1 > edges.y1 + 0.5:
            cut.append(f"{ax.get_title()!r}: {box.extents.round()} in {edges.extents.round()}")
    return cut


def test_every_row_of_pictures_fits_a_1280_px_notebook_column(dataset):
    d = Dashboard(dataset=dataset, snapshots=10, steps=20, views=[*VIEWS, "saturation_over_time"])
    c = Comparison(dict(batchnorm=False), dict(batchnorm=True), dataset=dataset)
    pictures = list(d.pictures.values())
    rows = [pictures[i : i + 2] for i in range(0, len(pictures), 2)] + [[p] for p in c.pictures.values()]
    for row in rows:
        widths = [p.figure.bbox.width + IPYMPL_FRAME for p in row]
        assert sum(widths) <= NOTEBOOK_COLUMN, f"{[p.view.name for p in row]}: {widths} px"
        for p in row:  # the titles and legends over each column of a picture: together as wide as its figure
            assert sum(float(t.layout.width.removesuffix("px")) for t in p.titles) <= p.figure.bbox.width + 1
    d.close()
    c.close()


@pytest.mark.parametrize(
    "config",
    [
        dict(),
        dict(steps=1),
        dict(gain=3),
        dict(gain=0.5, depth=10),  # gradients' densities in the millions: "-500000", then "1e6" over the axes
        dict(gain=0.2, depth=10),
        dict(batchnorm=True, gain=0.2),
        dict(lr=10.0),  # diverged
    ],
)
def test_no_tick_or_axis_label_is_cut_at_a_figures_edge(dataset, config):
    views = [*VIEWS, "saturation_over_time"]
    d = Dashboard(dataset=dataset, snapshots=10, views=views, **{"steps": 30, **config})
    c = Comparison(dict(), config, dataset=dataset)
    for figure in [*d.figures.values(), *c.figures.values()]:
        assert not cut_texts(figure)
    d.close()
    c.close()


def test_the_output_carries_a_still_png_and_the_text_of_every_panel(dataset):
    from IPython.core.formatters import DisplayFormatter

    c = Comparison(dict(gain=1), dict(gain=3), controls=["gain"], dataset=dataset)
    bundle, _metadata = DisplayFormatter().format(c)
    assert "application/vnd.jupyter.widget-view+json" in bundle and bundle["image/png"]
    for panel in (c.left, c.right):
        assert panel.shown.status in bundle["text/plain"] and tables(panel.shown) in bundle["text/plain"]
    c.close()


def test_a_live_page_gets_the_widget_and_its_text_without_waiting_for_a_still(dataset, monkeypatch):
    from IPython.core.formatters import DisplayFormatter

    d = Dashboard(controls=["gain"], dataset=dataset)
    assert not schedule.live_page() and DisplayFormatter().format(d)[0]["image/png"]  # a script: the still
    monkeypatch.setattr(schedule, "live_page", lambda: True)
    bundle, _metadata = DisplayFormatter().format(d)
    assert "image/png" not in bundle and "application/vnd.jupyter.widget-view+json" in bundle
    assert d.panel.shown.status in bundle["text/plain"] and tables(d.panel.shown) in bundle["text/plain"]
    d.close()


class Kernel:
    """What live_page reads of an ipykernel kernel: the message of the cell running now."""

    def __init__(self, metadata):
        self.parent = {"header": {"msg_type": "execute_request"}, "metadata": metadata}

    def get_parent(self):
        return self.parent


@pytest.mark.parametrize(
    "metadata, live",
    [
        ({"cellId": "a1", "deletedCells": [], "recordTiming": False, "trusted": True}, True),  # JupyterLab 4
        ({}, False),  # nbclient: nbconvert, nbval, the lessons' build
        ({"cellId": "a1"}, False),
    ],
)
def test_a_live_page_is_told_by_the_cells_execute_request(monkeypatch, metadata, live):
    shell = type("Shell", (), {"kernel": Kernel(metadata)})()
    monkeypatch.setattr(schedule, "get_ipython", lambda: shell)
    assert schedule.live_page() is live


@pytest.mark.parametrize("make", [Dashboard, lambda **kw: Comparison(dict(), dict(), **kw)])
def test_no_views_is_refused_in_one_line_naming_the_views(dataset, make):
    with pytest.raises(ConfigError, match=r"^views must name at least one of activations, gradients") as error:
        make(views=[], dataset=dataset)
    assert "\n" not in str(error.value)
    with pytest.raises(ConfigError, match=r"^views must be a view's name or a list of them"):
        make(views=None, dataset=dataset)


def test_controls_may_be_none_of_them(dataset):
    d = Dashboard(controls=[], views=["activations"], dataset=dataset)
    c = Comparison(dict(), dict(gain=1), controls=[], views=["activations"], dataset=dataset)
    for board in (d, c):
        assert board._repr_mimebundle_()["image/png"]
        board.close()


@pytest.mark.parametrize(
    "left, right, side",
    [("relu", "tanh", "left"), (dict(), "tanh", "right"), (dict(), None, "right"), ({1: 2}, dict(), "left")],
)
def test_a_comparisons_sides_must_be_dicts_of_options(dataset, left, right, side):
    with pytest.raises(ConfigError, match=rf"^{side} must be a dict of options such as dict\(activation=\"relu\"\)"):
        Comparison(left, right, dataset=dataset)
    with pytest.raises(ConfigError, match="bogus"):  # an unknown option: session.changed names it
        Comparison(dict(bogus=1), dict(), dataset=dataset)


def test_the_settings_line_writes_relus_suited_gain_as_root_2(dataset):
    d = Dashboard(activation="relu", views=["activations"], dataset=dataset)
    d.panel.presets["√2"].click()
    assert d.panel.session.run.config.gain == 2**0.5
    assert "gain √2 · activation relu" in page_text(d.panel.status) and "1.414" not in page_text(d.panel.status)
    figure_text = d._repr_mimebundle_()["text/plain"]
    assert "gain √2 · activation relu" in figure_text and "1.414" not in figure_text
    d.close()


def still_of(board):
    """The height in pixels of a board's still and the seconds it took to make, printed."""
    start = time.perf_counter()
    bundle = board._repr_mimebundle_()
    seconds = time.perf_counter() - start
    height = Image.open(io.BytesIO(base64.b64decode(bundle["image/png"]))).size[1]
    print(f"{type(board).__name__}: still {height} px high, made in {seconds:.2f} s")
    return height, seconds, bundle["text/plain"]


def test_a_deep_dashboards_and_comparisons_still_stays_readable(dataset):
    d = Dashboard(depth=50, views=[*VIEWS, "saturation_over_time"], snapshots=10, steps=20, dataset=dataset)
    c = Comparison(dict(depth=50), dict(depth=50, activation="relu"), dataset=dataset)
    for board in (d, c):
        height, _seconds, text = still_of(board)  # (its time is printed, not asserted: a busy machine took 5.4 s)
        assert height <= 2000
        for panel in board.panels:  # the output's text keeps every row of the tables
            assert tables(panel.shown) in text
        board.close()
