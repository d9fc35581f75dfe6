"""The dashboards: Dashboard (one run) and Comparison (two side by side), their pictures around Panels.

Lessons need the ipympl backend (`%matplotlib widget`): each picture is a figure widget whose lines
are updated in place, and a redraw renders only them over a saved background. Under any other backend a
picture is a PNG in an Image widget, rendered whole after every run. A dashboard's output also carries its
text, and, unless a live page is attached to show the widget at once, a still PNG (nbdiag.still) for pages that
cannot run its widgets (nbconvert, GitHub, the course site: the lessons are stored with it).
"""

import base64
from collections.abc import Mapping

import ipywidgets as W

from .. import health, stats, still
from ..config import Config, ConfigError
from ..picture import Picture
from ..records import RunRecord
from ..session import Session, changed, shared_dataset
from ..views import ALL_VIEWS, VIEWS
from . import layout, schedule
from .controls import CONTROLS, chosen, describe, make_controls
from .panel import Panel


def still_column(panel):
    """What a panel shows, as a still's column (nbdiag.still.Column)."""
    run = panel.shown
    return still.Column(
        run=run,
        status=run.status,
        settings=describe(run.config) if run.config is not None else "",
        findings=health.format_findings(health.diagnose(run)),
        tables=stats.tables(run) if panel.tables_html is not None else "",
    )


class Board(W.VBox):
    """What Dashboard and Comparison share: their `pictures` (view name -> nbdiag.picture.Picture) drawn by their
    `panels`, the still their output carries, and closing."""

    pictures: dict
    panels: list

    def _repr_mimebundle_(self, **kwargs):
        """The widget and its text, and for pages that cannot run it (not a live one) a still PNG of what it shows."""
        bundle = super()._repr_mimebundle_(**kwargs)
        columns = [still_column(panel) for panel in self.panels if panel.shown is not None]
        if bundle is None or len(columns) < len(self.panels):  # nothing shown yet: the widget alone
            return bundle
        texts = ["\n".join(filter(None, [c.status, c.settings, c.findings, c.tables])) for c in columns]
        bundle["text/plain"] = "\n\n".join(texts)
        if not schedule.live_page():  # a live page shows the widget at once; the still would only delay it
            bundle["image/png"] = base64.b64encode(still.png(list(self.pictures), columns)).decode("ascii")
        return bundle

    @property
    def figures(self):
        """The matplotlib figure of each view, by view name."""
        return {view: picture.figure for view, picture in self.pictures.items()}

    def close(self):
        """Close the figures and every widget."""
        layout.close_tree(self)


class Dashboard(Board):
    """Controls, pictures and tables of one run: a change re-runs the network and redraws in place.

    Dashboard() shows everything; Dashboard(controls=["gain"], views=["activations"], gain=5/3)
    just what a lesson cell is about. Config values (gain=3, batchnorm=True, steps=1001...) set the start.
    tables=False leaves the tables out. snapshots=N (or "log") keeps snapshots as train(..., snapshots=N) does
    and adds a step slider that moves every picture to a snapshot step; views=[*VIEWS, "saturation_over_time"]
    adds each layer's saturation over the snapshot steps. Dashboard(run=rec) shows a finished run, e.g. what
    nbdiag.watch recorded of your own model: the same pictures, health findings and tables, with the step slider
    if it has snapshots.

    `panel` (a Panel) holds the session, the controls and the status, findings, errors, progress, tables_html
    and step widgets; `pictures` holds each view's Picture, by name.
    """

    def __init__(
        self, controls=None, views=VIEWS, tables=True, dataset=None, snapshots=None, run=None, **config_values
    ):
        if run is not None and not isinstance(run, RunRecord):
            raise ConfigError(
                f"run must be what nbdiag.train returns or nbdiag.watch recorded, got {type(run).__name__}"
            )
        views = chosen(views, tuple(ALL_VIEWS), "view", at_least_one=True)
        over_time = [view for view in views if ALL_VIEWS[view].needs_snapshots]
        if over_time and snapshots is None and (run is None or not stats.snapshot_steps(run)):
            raise ConfigError(
                f"views: {', '.join(over_time)} draws the run's snapshots; add snapshots=N (every N "
                "steps), or record the run with snapshots"
            )
        if run is not None:
            given = [name for name, value in (("controls", controls), ("snapshots", snapshots)) if value]
            given += list(config_values)
            if given:
                raise ConfigError(
                    f"{', '.join(given)}: a recorded run is shown as it is and cannot be re-run; "
                    "leave these out with run=, or record it again"
                )
            control_widgets, session = {}, Session(run=run)
        else:
            controls = chosen(CONTROLS if controls is None else controls, CONTROLS, "control")
            config = changed(Config(), **config_values)
            control_widgets = make_controls(controls, config)  # range errors before a possibly long run
            session = Session(config, dataset, snapshots=snapshots)
        figsize = (10.0, 3.4) if len(views) == 1 else (5.5, 3.1)  # two a row fit 1280 px
        self.pictures = {view: Picture(ALL_VIEWS[view], 1, figsize) for view in views}
        p = self.panel = Panel(
            session,
            control_widgets,
            list(self.pictures.values()),
            tables=tables,
            step_slider=snapshots is not None or bool(stats.snapshot_steps(session.run)),
        )
        self.panels = [p]
        parts = [
            p.control_box,
            p.status,
            p.errors,
            p.progress,
            layout.rows([picture.widget for picture in self.pictures.values()]),
            p.findings,
        ]
        super().__init__(parts + ([p.tables_html] if tables else []))


class Comparison(Board):
    """Two configs side by side from the same seed, each with its controls; each picture pair shares its axes.

    Comparison(dict(gain=1), dict(gain=5/3)) or Comparison(dict(), dict(batchnorm=True)). `left` and `right` are
    the sides' Panels, `seed` the seed control both share (None without it), `pictures` each view's Picture.
    """

    def __init__(self, left, right, controls=CONTROLS, views=VIEWS, tables=True, dataset=None):
        for name, side in (("left", left), ("right", right)):
            if not isinstance(side, Mapping) or not all(isinstance(key, str) for key in side):
                shown = repr(side) if len(repr(side)) <= 40 else f"{repr(side)[:37]}..."
                raise ConfigError(
                    f'{name} must be a dict of options such as dict(activation="relu") or dict(), got {shown}'
                )
        controls = chosen(CONTROLS if controls is None else controls, CONTROLS, "control")
        views = chosen(views, VIEWS, "view", at_least_one=True)
        seeds = {side["seed"] for side in (left, right) if "seed" in side}
        if len(seeds) > 1:
            raise ConfigError(f"seed: both sides of a comparison run from the same seed, got {sorted(seeds)}")
        seed = seeds.pop() if seeds else Config().seed
        configs = [changed(Config(), **{**side, "seed": seed}) for side in (left, right)]
        side_controls = [c for c in controls if c != "seed"]
        widgets = [make_controls(side_controls, config) for config in configs]
        self.seed = make_controls(["seed"], configs[0])["seed"] if "seed" in controls else None
        dataset = dataset if dataset is not None else shared_dataset()
        sessions = [Session(config, dataset) for config in configs]
        self.pictures = {view: Picture(ALL_VIEWS[view], 2, (11.0, 2.9)) for view in views}
        self.left, self.right = (
            Panel(session, w, list(self.pictures.values()), column, tables)
            for column, (session, w) in enumerate(zip(sessions, widgets))
        )
        self.panels = [self.left, self.right]
        if self.seed is not None:
            self.seed.observe(self._seed_changed, names="value")
        left, right = self.left, self.right
        parts = [self.seed] if self.seed is not None else []
        parts += [layout.columns(*([p.control_box, p.status, p.errors, p.progress] for p in (left, right)))]
        parts += [picture.widget for picture in self.pictures.values()]
        parts += [layout.columns([left.findings], [right.findings])]
        parts += [layout.columns([left.tables_html], [right.tables_html])] if tables else []
        super().__init__(parts)

    def _seed_changed(self, change):
        for panel in (self.left, self.right):
            panel.request("seed", change["new"])
