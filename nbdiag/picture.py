"""Figures shown in widgets, redrawn in place: a LiveFigure, and a Picture of one dashboard view.

A LiveFigure is a figure shown in a widget: under ipympl (`%matplotlib widget`) the figure's canvas is the
widget; under any other backend a PNG in an Image widget, rendered whole at every redraw. A Picture is the
LiveFigure of one view (nbdiag.views.View: its name, draw(run, ax, at), band(run), step_on_x and legend), in
one axes or a row of axes sharing their limits (a comparison), with its layout and kept limits; under ipympl
a redraw renders only the moving lines over a saved background. The gain sweep's figure (its axes and how it
draws the chosen network) is here too: its widget and its still draw it alike.

The blitting leans on internals of ipympl 0.10.0 and of matplotlib 3.11.2's webagg_core underneath, named
where they are used: `Canvas.syncing_data_url`, and what get_diff_image() does (`_last_buff`, `_png_is_old`,
`_force_full`), so that a frame is rendered and encoded before anything is sent, then sent.
"""

import html
import io
from collections import OrderedDict

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from PIL import Image

from . import plots

TICKS = 3  # tick labels per axis: text is most of a redraw's time, so keep it short
DPI = 72  # pixels per inch: fewer pixels to render and to encode at each redraw
KEEP = 0.5  # axes limits stay while the data fill at least this fraction of them
ROOM = 0.1  # when they change, this fraction of the data's span is added on each side
BACKGROUNDS = 4  # full renders kept per picture: going back to a recent run's limits repaints only its lines


def _series(ax):
    return [line for line in ax.get_lines() if line.get_gid() == "series"]


def _moving(ax):
    """What a redraw repaints over the saved background: the data lines and the step marker."""
    return [line for line in ax.get_lines() if line.get_gid() in ("series", "step")]


def _keep_limits(ax, old_xlim, old_ylim):
    """Keep the old limits while the new data fit in them and fill at least KEEP of them; else leave some room.

    Then the ticks, and so the background image, mostly stay the same, and a redraw only repaints the lines.
    """
    for (low, high), (old_low, old_high), set_lim in (
        (ax.get_xlim(), old_xlim, ax.set_xlim),
        (ax.get_ylim(), old_ylim, ax.set_ylim),
    ):
        if old_low <= low and high <= old_high and high - low >= KEEP * (old_high - old_low):
            low, high = old_low, old_high
        else:  # room for the next runs' data to move a little
            low, high = low - ROOM * (high - low), high + ROOM * (high - low)
        set_lim(low, high, auto=None)  # (None: autoscaling stays on for the next run)


def _legend_html(ax, legend=()):
    """The data lines' labels in their colours, then each line the view's `legend` names: ((gid, label), ...)."""
    labels = dict(legend)
    entries = []
    for line in ax.get_lines():
        label = line.get_label() if line.get_gid() == "series" else labels.get(line.get_gid())
        if label:
            entries.append(
                f'<span style="color:{to_hex(line.get_color())}; white-space:nowrap; margin-right:0.8em">'
                f"&#9473; {html.escape(label)}</span>"
            )
    return f'<div style="font-size:12px; line-height:1.35">{" ".join(entries)}</div>'


def _whole_frame(canvas):
    """The canvas's rendered buffer as the next frame for the page, whole, PNG-encoded for speed over size.

    What matplotlib's webagg get_diff_image() does (3.11.2, which ipympl's Canvas extends), with a whole frame
    every time and a faster PNG compression: it sets the page's image mode to 'full' (the page replaces its
    image), keeps the buffer as `_last_buff` (a later diff frame, of a redraw the page asks for, is taken
    against it) and clears `_png_is_old` and `_force_full`. A diff frame holds only the pixels that changed,
    which the page paints over its previous image; but frames sent in quick succession (a slider drag) can
    replace each other in the page before they show, and a lost diff frame would leave stale lines for good.
    """
    pixels = np.asarray(canvas.get_renderer().buffer_rgba())  # (height, width, 4)
    canvas.set_image_mode("full")
    canvas._last_buff = pixels.view(np.uint32).squeeze(2).copy()
    canvas._png_is_old = canvas._force_full = False
    with io.BytesIO() as png:
        Image.fromarray(pixels).save(png, format="png", compress_level=1)  # 40% faster than 6, 10-50% larger
        return png.getvalue()


class LiveFigure:
    """A figure shown in a widget, `image`: ipympl's canvas itself, or under any other backend an Image widget
    showing a PNG of the figure. `axes(figure)` lays out its axes (default: none)."""

    def __init__(self, figsize, axes=None):
        with plt.ioff():  # shown inside a widget, not as the cell's output
            # a figure of pyplot's backend, not registered with pyplot: re-running a lesson cell
            # leaves no figure behind in plt.get_fignums(), and plt.close("all") can't blank it
            self.figure = plt.new_figure_manager(0, figsize=figsize, dpi=DPI).canvas.figure
        canvas = self.figure.canvas
        if isinstance(canvas, W.DOMWidget):  # ipympl: the canvas is the widget, redrawn in place
            canvas.header_visible = canvas.footer_visible = False
            self.image = canvas
        else:  # any other backend: a PNG, rendered whole at every change
            self.image = W.Image(format="png")
        self.axes = axes(self.figure) if axes is not None else []

    @property
    def live(self):
        """True under ipympl: the figure's canvas is the widget."""
        return self.image is self.figure.canvas

    def redraw(self):
        """Render the figure's new frame and send it to the page."""
        self.send(self.render())

    def render(self):
        """The figure's new frame, rendered whole, not sent yet: under ipympl the page asks for it instead (None);
        elsewhere a PNG."""
        if self.live:
            return None
        png = io.BytesIO()
        self.figure.savefig(png, format="png")
        return png.getvalue()

    def send(self, frame):
        """Show `frame` (what render() returned) on the page: the PNG, or under ipympl a request for a new frame."""
        if frame is None:
            self.figure.canvas.draw_idle()
        else:
            self.image.value = frame


class Picture(LiveFigure):
    """One view as one figure: one axes, or a row of axes sharing their limits (a comparison).

    Its title and legend are HTML around the figure: matplotlib renders every text again at every
    draw, and text was most of a redraw's time. For the same reason, while the axes limits stay the
    same a redraw repaints only the lines over a saved background (blitting).
    """

    def __init__(self, view, columns, figsize):
        self.view = view
        super().__init__(
            figsize, lambda figure: list(figure.subplots(1, columns, squeeze=False, sharex=True, sharey=True)[0])
        )
        width, height = figsize
        # a fixed layout: tight and constrained layouts measure every text again at every draw. Room on the left
        # for y tick labels of 7 characters ("-500000": a histogram's density; beyond 1e6 matplotlib writes "2" and
        # an offset), and at the top for that offset ("1e6")
        self.figure.subplots_adjust(
            left=0.7 / width, right=1 - 0.3 / width, bottom=0.5 / height, top=1 - 0.22 / height, wspace=0.06
        )
        column_width = W.Layout(width=f"{width * DPI / columns:.0f}px")
        self.titles = [W.HTML(layout=column_width) for _ in self.axes]
        self.legends = [W.HTML(layout=column_width) for _ in self.axes]
        self.widget = W.VBox([W.HBox(self.titles), self.image, W.HBox(self.legends)])
        self._backgrounds = OrderedDict()  # the recent full renders without the lines, by what they depend on

    def draw(self, run, column=0, at=None):
        """Draw `run` in one column, at its last step or at the snapshot `at` (stats.StepPictures): lines updated
        in place, the healthy band shaded, title and legend into the HTML."""
        ax = self.axes[column]
        labels, limits = [line.get_label() for line in _series(ax)], (ax.get_xlim(), ax.get_ylim())
        self.view.draw(run, ax, at)
        plots.shade_healthy_bands(ax, self.view.band(run))
        if [line.get_label() for line in _series(ax)] == labels:
            _keep_limits(ax, *limits)
        else:  # plots cleared the axes for a new layout: a new locator too
            ax.locator_params(nbins=TICKS)
        title = ax.get_title() + (f" at step {at.step}" if at is not None and not self.view.step_on_x else "")
        self.titles[column].value = f'<b style="font-size:13px">{html.escape(title)}</b>'
        # the title shows in the HTML above the figure. Positions fixed here spare each full render measuring
        # every tick label, for the title and for axis labels that are empty (about a third of its time)
        ax.set_title(ax.get_title(), y=1.0)
        ax.title.set_visible(False)  # (a new title each time plots clears the axes for a new layout)
        for axis, coords in ((ax.xaxis, (0.5, 0)), (ax.yaxis, (0, 0.5))):
            if not axis.label.get_text():
                axis.set_label_coords(*coords)
        if ax.get_legend() is not None:
            ax.get_legend().remove()
        self.legends[column].value = _legend_html(ax, self.view.legend)

    def render(self):
        """The new frame, rendered and PNG-encoded but not sent: only the lines when the background still holds."""
        if not self.live:  # not ipympl: a whole new PNG
            return super().render()
        canvas = self.figure.canvas
        # ipympl internal (0.10.0): Canvas.syncing_data_url is True from the canvas's creation until the page's
        # view sends 'initialized', i.e. until a page has shown the figure (it stays True without a page, e.g.
        # nbconvert). While it is True, every frame sent is also PNG-encoded into the synced `_data_url` trait,
        # which the page takes as the figure's image, and ipympl stores it as bare base64 without the
        # "data:image/png;base64," prefix: a broken image. So send no frame yet, only ask for a draw (a 'draw'
        # event to the page): when the page shows the figure it sends 'refresh' (next frame whole) and asks for
        # a full draw itself. ipympl has no public "is a page showing me" to ask instead.
        if canvas.syncing_data_url:
            return None
        lines = [line for ax in self.axes for line in _moving(ax)]
        layout = self._layout()
        if layout not in self._backgrounds:
            for line in lines:
                line.set_visible(False)
            # Agg's draw renders only; the webagg canvas's own draw() would also send a frame (refresh_all)
            FigureCanvasAgg.draw(canvas)
            self._backgrounds[layout] = canvas.copy_from_bbox(self.figure.bbox)
            if len(self._backgrounds) > BACKGROUNDS:
                self._backgrounds.popitem(last=False)
            for line in lines:
                line.set_visible(True)
        else:
            self._backgrounds.move_to_end(layout)
            canvas.restore_region(self._backgrounds[layout])
        for line in sorted(lines, key=lambda line: line.get_zorder()):  # in a full render's order
            line.axes.draw_artist(line)
        return _whole_frame(canvas)

    def send(self, frame):
        """Show `frame` (what render() returned): under ipympl, send it to each page showing the figure."""
        if not self.live or frame is None:
            return super().send(frame)
        for page in self.figure.canvas.manager.web_sockets:  # (ipympl's canvas is its own manager's web socket)
            page.send_binary(frame)

    def _layout(self):
        """What the background depends on: the figure's size and each axes' limits and lines."""
        return (
            tuple(self.figure.bbox.size),
            tuple((ax.get_xlim(), ax.get_ylim(), tuple(line.get_label() for line in _series(ax))) for ax in self.axes),
        )


# -- the gain sweep's figure (nbdiag.sweep): drawn live by widgets.GainSweep, and into its still by nbdiag.still

SWEEP_FIGSIZE = (9.0, 6.4)  # inches: the sweep's two pictures over the chosen network's histograms


def sweep_axes(figure):
    """The sweep's std and saturation side by side, the chosen network's histograms under them: three axes."""
    width, height = figure.get_size_inches()
    # a fixed layout: tight and constrained layouts measure every text again at every draw
    grid = figure.add_gridspec(
        2, 2, left=0.7 / width, right=1 - 0.2 / width, bottom=0.5 / height, top=1 - 0.3 / height, hspace=0.45
    )
    return [figure.add_subplot(grid[0, 0]), figure.add_subplot(grid[0, 1]), figure.add_subplot(grid[1, :])]


def draw_network(axes, activation, gain, histograms, line):
    """The gain marked on the sweep's curves, and the chosen network's histograms titled with its readout `line`."""
    plots.mark_gain(axes[:2], gain)
    plots.plot_activations(histograms, axes[2])
    # half of a ReLU's (or GELU's) outputs pile up at 0: on a linear scale that spike would flatten every other bin
    spike = activation in ("relu", "gelu")
    axes[2].set_yscale("log" if spike else "linear")
    axes[2].set_title(f"outputs{' (log density)' if spike else ''} — {line}")
