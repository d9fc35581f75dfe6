"""nbdiag.picture: a view as a live figure (ipympl's canvas, or a PNG), its lines updated in place, its limits kept."""

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np

from nbdiag import Config, train
from nbdiag.picture import KEEP, SWEEP_FIGSIZE, LiveFigure, Picture, sweep_axes
from nbdiag.views import ALL_VIEWS


def series(ax):
    return [line for line in ax.get_lines() if line.get_gid() == "series"]


def test_under_a_non_widget_backend_a_picture_is_a_png_that_follows_its_run(run, dataset):
    plt.switch_backend("Agg")
    open_figures = plt.get_fignums()  # other tests' in this process
    picture = Picture(ALL_VIEWS["activations"], 1, (5.5, 3.1))
    assert isinstance(picture.image, W.Image) and not picture.live and plt.get_fignums() == open_figures
    picture.draw(run)
    picture.redraw()
    before = bytes(picture.image.value)
    assert before.startswith(b"\x89PNG")
    picture.draw(train(Config(gain=3), dataset))
    picture.redraw()
    assert bytes(picture.image.value).startswith(b"\x89PNG") and bytes(picture.image.value) != before


def test_a_redraw_updates_the_lines_in_place_and_keeps_the_limits_that_still_fit(dataset):
    picture = Picture(ALL_VIEWS["activations"], 1, (5.5, 3.1))
    (ax,) = picture.axes
    for gain in (5 / 3, 1.7):  # the first draws settle the limits
        picture.draw(train(Config(gain=gain), dataset))
    lines, limits = series(ax), (ax.get_xlim(), ax.get_ylim())
    before = [line.get_ydata().copy() for line in lines]
    picture.draw(train(Config(gain=1.75), dataset))  # nearly the same data: it fits the limits, and fills them
    assert series(ax) == lines and (ax.get_xlim(), ax.get_ylim()) == limits
    assert not all(np.array_equal(line.get_ydata(), y) for line, y in zip(lines, before))
    picture.draw(train(Config(gain=0.5), dataset))  # densities far higher: the limits follow, with room
    (y0, y1), ys = ax.get_ylim(), np.concatenate([line.get_ydata() for line in series(ax)])
    assert (y0, y1) != limits[1] and y0 < ys.min() and ys.max() < y1 and ys.max() - ys.min() >= KEEP * (y1 - y0)


def test_titles_and_legends_are_html_around_the_figure(run):
    picture = Picture(ALL_VIEWS["update_ratios"], 1, (5.5, 3.1))
    picture.draw(run)
    (ax,) = picture.axes
    assert not ax.title.get_visible() and ax.get_legend() is None  # matplotlib renders no text at a redraw
    assert ax.get_title() in picture.titles[0].value and "update:data = 1e-3" in picture.legends[0].value
    assert all(line.get_label() in picture.legends[0].value for line in series(ax))


def test_a_comparisons_picture_shares_its_limits_between_columns(run, dataset):
    picture = Picture(ALL_VIEWS["gradients"], 2, (11.0, 2.9))
    picture.draw(run, 0)
    picture.draw(train(Config(gain=3), dataset), 1)
    left, right = picture.axes
    assert left.get_xlim() == right.get_xlim() and left.get_ylim() == right.get_ylim() and series(right)


def test_under_ipympl_the_canvas_is_the_widget_and_a_blitted_frame_equals_a_full_render(ipympl_backend, dataset):
    picture = Picture(ALL_VIEWS["activations"], 1, (5.5, 3.1))
    canvas = picture.figure.canvas
    assert picture.live and picture.image is canvas and not canvas.header_visible
    canvas.syncing_data_url = False  # as once a page has shown the figure
    for gain in (1.0, 1.04, 3.0):
        picture.draw(train(Config(gain=gain), dataset))
        picture.redraw()
        frame = np.asarray(canvas.get_renderer().buffer_rgba()).copy()
        canvas.draw()
        assert np.array_equal(frame, np.asarray(canvas.get_renderer().buffer_rgba()))
    picture.image.close()


def test_a_live_figure_with_its_own_axes_redraws_whole():
    plt.switch_backend("Agg")
    open_figures = plt.get_fignums()  # other tests' in this process
    figure = LiveFigure(SWEEP_FIGSIZE, sweep_axes)
    assert len(figure.axes) == 3 and figure.axes == figure.figure.axes and not figure.live
    figure.axes[2].plot([0, 1], [1, 0])
    figure.redraw()
    assert bytes(figure.image.value).startswith(b"\x89PNG") and plt.get_fignums() == open_figures
    assert LiveFigure((2, 2)).axes == []


def test_a_frame_sent_to_the_page_is_the_whole_render_and_a_revisit_repaints_only_lines(dataset, ipympl_backend):
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    picture = Picture(ALL_VIEWS["activations"], 1, (5.5, 3.1))
    canvas = picture.figure.canvas
    canvas.syncing_data_url = False  # as once a page shows the figure
    full_renders = []
    draw = FigureCanvasAgg.draw
    FigureCanvasAgg.draw = lambda canvas: full_renders.append(1) or draw(canvas)
    try:
        frames = []
        for gain in (5 / 3, 0.5, 5 / 3, 0.5, 5 / 3):  # far apart: each its own limits, settled from the third
            picture.draw(train(Config(gain=gain), dataset))
            frames.append(picture.render())
            pixels = np.asarray(Image.open(io.BytesIO(frames[-1])))
            assert np.array_equal(pixels, np.asarray(canvas.get_renderer().buffer_rgba()))
            assert np.array_equal(canvas._last_buff, pixels.view(np.uint32).squeeze(2))  # a later diff's base
    finally:
        FigureCanvasAgg.draw = draw
    assert len(full_renders) == 3  # the later revisits restored their saved backgrounds
    assert frames[1] == frames[3] and frames[2] == frames[4] and frames[1] != frames[2]
