"""The dashboard: controls bound to a Session, and the lesson's pictures and tables, redrawn in place.

Lessons need the ipympl backend (`%matplotlib widget`): each picture is a figure widget whose lines
are updated in place, and a redraw renders only them over a saved background. Under any other backend a
picture is a PNG in an Image widget, rendered whole after every run.

State and view: the Session (nbdiag.session) holds the config and the last run. Here the controls
are observed; each change is queued in the session and run at the kernel's next turn, so that a
burst of changes (a slider drag) costs one run, of the latest values.
"""

import asyncio
import base64
import functools
import html
import io
import math
import time
import traceback
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import ipywidgets as W
import matplotlib.pyplot as plt
from IPython import get_ipython

from . import health, plots, stats, still
from . import sweep as sweeps
from .activations import FACTS, LESSON_GAINS
from .config import TYPES, Config, ConfigError, format_number
from .picture import DPI, Picture
from .records import RunRecord
from .session import Session, changed, shared_dataset
from .train import PROGRESS_MIN_STEPS, one_thread

CONTROLS = (
    "gain",
    "activation",
    "lr",
    "optimizer",
    "batchnorm",
    "residual",
    "fan_in_scaling",
    "depth",
    "n_hidden",
    "steps",
    "seed",
)


def gain_presets(activation):
    """The gain buttons for `activation`: 0.5, 1, 3 and the gain that suits it (layers.GAINS: tanh's 5/3, the
    lesson's four), by value."""
    return FACTS[activation].presets


MERGE_SECONDS = 0.03  # after a redraw, changes arriving within this long merge into one run

_STYLE = {"description_width": "10em"}
# Layout: every box fits the notebook column (the cell's output), from a wide screen down to a narrow window.
# a slider narrows in a column narrower than 34em (its margins, --jp-widgets-margin, are outside 100%)
_SLIDER_WIDTH = dict(width="34em", max_width="calc(100% - 2 * var(--jp-widgets-margin, 2px))")
_WRAPPING = dict(flex_flow="row wrap")  # a row of controls (or of pictures) wraps rather than overflows
# a comparison's column: half the row's width whatever its contents' width (flex-basis 0); in a row narrower than
# twice the minimum width (plus the gap) the row wraps, and the right column goes under the left one
_COLUMN = dict(flex="1 1 0", min_width="min(20em, 100%)")
_GAP = "0.5em 1.5em"  # between a comparison's columns (and rows, once they wrap)
# text that wraps at spaces, never inside a word: JupyterLab's <pre> has word-break: break-all
_WORD_WRAP = "white-space:pre-wrap; overflow-wrap:normal; word-break:normal"
_SLIDERS = (W.FloatSlider, W.FloatLogSlider, W.IntSlider)


def _snap_gain(value):
    """The slider's value to its 0.01 step, or the preset it shows (1.67 is 5/3).

    The browser's slider sends typed 3 back as 3.0000000000000004; the config gets 3.0.
    """
    value = round(value, 2)
    presets = [*LESSON_GAINS.values(), *(facts.gain for facts in FACTS.values())]
    return next((preset for preset in presets if round(preset, 2) == value), value)


def _snap_lr(value):
    """The log slider's value to 3 significant digits: 0.09999999999999991 from the browser is 0.1."""
    return float(f"{value:.3g}")


_SNAP = {"gain": _snap_gain, "lr": _snap_lr}  # what a float control sends back, as the config value it means


def _config_value(name, value):
    """A control's value as option `name`'s value."""
    return _SNAP[name](value) if name in _SNAP else TYPES[name](value)


def _control(name, value):
    """The control that config.Config's Option for `name` describes, showing `value`."""
    option = Config.option(name)
    label, (low, high) = option.label or name, option.limits or (None, None)
    if option.control == "switch":
        return W.Checkbox(
            value=value,
            description=label,
            tooltip=option.help,
            indent=False,
            layout=W.Layout(width="auto", margin="0 2em 0 0"),
        )
    if option.control == "buttons":
        return W.ToggleButtons(
            options=option.choices,
            value=value,
            description=label,
            tooltip=option.help,
            style={**_STYLE, "button_width": "5.5em"},
        )
    if option.control == "box":
        return W.BoundedIntText(value=value, min=low, max=high, description=label, tooltip=option.help, style=_STYLE)
    common = dict(
        value=value,
        description=label,
        tooltip=option.help,
        continuous_update=option.live,
        style=_STYLE,
        layout=W.Layout(**_SLIDER_WIDTH),
    )
    if option.control == "log slider":
        return W.FloatLogSlider(
            base=10, min=math.log10(low), max=math.log10(high), step=0.1, readout_format=".3g", **common
        )
    if TYPES[name] is float:
        return W.FloatSlider(min=low, max=high, step=option.step, readout_format=".2f", **common)
    return W.IntSlider(min=low, max=high, step=option.step, **common)


def _make_controls(names, config):
    """A control per name, showing `config`; ConfigError when a value lies outside its control's range."""
    controls = {}
    for name in names:
        value = getattr(config, name)
        controls[name] = _control(name, value)
        limits = Config.option(name).limits
        if limits and not limits[0] <= value <= limits[1]:
            low, high = map(format_number, limits)
            raise ConfigError(f"{name}={value!r} is outside its control's range, {low} to {high}")
    return controls


def _chosen(names, allowed, kind):
    names = [names] if isinstance(names, str) else list(names)
    for name in names:
        if name not in allowed:
            raise ConfigError(f"unknown {kind} {name!r}; the {kind}s are {', '.join(allowed)}")
    return names


def _describe(config):
    """One line a student can read: the dashboard's settings of the run (the status line gives its steps)."""

    def shown(name):
        value = getattr(config, name)
        return ("on" if value else "off") if TYPES[name] is bool else format_number(value)

    return " · ".join(f"{Config.option(name).label or name} {shown(name)}" for name in CONTROLS if name != "steps")


def _status_html(run):
    color = "#b00020" if run.diverged_at is not None or run.diverging_from is not None else "inherit"
    settings = ""
    if run.config is not None:  # a narrow column breaks the line between settings, not inside one ("hidden / layers")
        parts = (
            f'<span style="white-space:nowrap">{html.escape(part)}</span>'
            for part in _describe(run.config).split(" · ")
        )
        settings = f"<br><small>{' · '.join(parts)}</small>"
    return (
        f'<div style="line-height:1.4; {_WORD_WRAP}"><b style="color:{color}">{html.escape(run.status)}</b>'
        f"{settings}</div>"
    )


def _lines_html(text, indent):
    """Each line of `text` a block that wraps between words, never inside one, its next lines indented by `indent`
    characters. Tags stripped, it reads `text` again; in the page (innerText, a copy) too, empty lines included."""
    style = f"display:block; padding-left:{indent}ch; text-indent:-{indent}ch; {_WORD_WRAP}"
    return "\n".join(f'<span style="{style}">{html.escape(line) or "<br>"}</span>' for line in text.split("\n"))


_MONOSPACE = "font-family:var(--jp-code-font-family, monospace); font-size:12px; line-height:1.3"


def _verdicts_html(run):
    """What health.diagnose reads in the run, one finding a line, problems in red; a long finding wraps between
    words, its next lines indented past the severity ("warning ")."""
    findings = health.diagnose(run)
    color = "#b00020" if any(f.severity == "error" for f in findings) else "inherit"
    lines = _lines_html(health.format_findings(findings), indent=8)
    return f'<div style="{_MONOSPACE}; margin:0.3em 0; color:{color}">{lines}</div>'


def _tables_html(run):
    """The tables, a row a line; in a column too narrow for a row, it wraps between numbers, indented."""
    lines = _lines_html(stats.tables(run), indent=4)
    return f'<pre style="{_MONOSPACE}; margin:0; white-space:normal">{lines}</pre>'


# -- the views: each picture a dashboard can show, described once


def _no_band(run):
    return None


@dataclass(frozen=True)
class View:
    """One picture a dashboard can show: how it draws a run, the healthy band it shades, what it needs.

    nbdiag.picture.Picture draws it; Dashboard(views=[...]) and Comparison(views=[...]) choose views by name.
    """

    name: str
    draw: Callable  # draw(run, ax, at): `at` is the stats.StepPictures of a snapshot step, or None for the last step
    band: Callable = _no_band  # band(run): the healthy band to shade (a key of health.healthy_bands), or None
    step_on_x: bool = False  # the step slider marks its step on x, rather than titling the picture "at step N"
    needs_snapshots: bool = False  # drawn from the run's snapshots: a dashboard with snapshots=N can add it
    legend: tuple = ()  # (gid, label) of each line the legend names besides the data lines


def _tanh_band(run):
    """tanh's own saturation band, for a run whose watched layers are all tanh and that uses tanh's own rule."""
    tanh_only = {layer.kind for layer in stats.watched_layers(run)} == {"Tanh"}
    # tanh's own saturation rule: a run with a user-given threshold would need another band
    return "tanh_output" if tanh_only and run.saturation_threshold is None else None


ALL_VIEWS = {
    view.name: view
    for view in (
        View(
            "activations",
            lambda run, ax, at: plots.plot_activations(at.activations if at else stats.activation_histograms(run), ax),
            band=_tanh_band,
        ),
        View(
            "gradients",
            lambda run, ax, at: plots.plot_gradients(at.gradients if at else stats.gradient_histograms(run), ax),
        ),
        View(
            "weight_gradients",
            lambda run, ax, at: plots.plot_weight_gradients(
                at.weight_gradients if at else stats.weight_grad_histograms(run), ax
            ),
        ),
        View(
            "update_ratios",
            lambda run, ax, at: plots.plot_update_ratios(
                stats.update_ratio_history(run), ax, step=at.step if at else None
            ),
            band=lambda run: "update_ratio",
            step_on_x=True,
            legend=(("guide", f"update:data = 1e{plots.GUIDE_LOG10_RATIO}"),),
        ),
        View(
            "saturation_over_time",
            lambda run, ax, at: plots.plot_stat_over_time(
                stats.activations_over_time(run), "saturated", ax, step=at.step if at else None
            ),
            band=lambda run: "saturation",
            step_on_x=True,
            needs_snapshots=True,
        ),
    )
}
VIEWS = tuple(name for name, view in ALL_VIEWS.items() if not view.needs_snapshots)  # the lesson's four, the default


def _kernel_loop():
    """The event loop of the Jupyter kernel running this callback, or None (a script, a test).

    Only a kernel's: another running loop (Playwright's sync API runs one in the caller's thread, so does an
    asyncio script) never calls back to run the queued change."""
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:  # IPython's terminal shell has no kernel
        return None
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Panel:
    """One session with its controls, status line, findings, error and progress outputs and tables.

    Its runs are drawn in column `column` of each of `pictures`. With `step_slider`, a slider over the run's
    snapshot steps moves every picture to that step, without re-running.

    Its public surface, what Dashboard and Comparison use: the widgets (session, controls, presets, status,
    verdicts, errors, progress, tables, step, step_note, control_box), request() and refresh(), and `shown`: the
    run on show, which is session.run unless showing that failed (the error then says so).
    """

    def __init__(self, session, controls, pictures, column=0, tables=True, step_slider=False):
        self.session = session
        self.controls = controls
        self.pictures, self.column = pictures, column
        self.presets = {}
        self.preset_box = W.HBox(layout=W.Layout(flex="0 0 auto"))  # the gain buttons, by the gain slider
        if "gain" in controls:
            self._set_presets(session.config.activation)
        for name, control in controls.items():
            control.observe(functools.partial(self._control_moved, name), names="value")
        self.status = W.HTML()
        self.verdicts = W.HTML()  # health findings in words, shown under the pictures
        self.verdicts.add_class("nbdiag-findings")
        self.errors = W.Output()  # a failing callback's traceback shows here, never lost in the kernel's log
        self.progress = W.Output()  # the progress bar of a long run
        self.tables = W.HTML() if tables else None
        if self.tables is not None:
            self.tables.add_class("nbdiag-tables")
        self.step = self.step_note = None  # the step slider, if any, and the note on what its step shows
        if step_slider:
            self.step = W.SelectionSlider(
                options=[0],
                description="pictures at step",
                style=_STYLE,
                layout=W.Layout(**_SLIDER_WIDTH),
                continuous_update=True,
                tooltip="move every picture to a snapshot step; the tables stay at the last",
            )
            self.step.observe(self._step_moved, names="value")
            self.step_note = W.HTML()  # which step the pictures show, when it is not the tables' (the last)
        self._syncing = False  # True while _show sets the step slider: its changes are not the user's
        self.control_box = self._control_box()
        self._scheduled = False
        self._last_shown = -math.inf
        self.shown = None  # the run the status, pictures, findings and tables show (session.run, unless that failed)
        self._show(session.run)

    def _control_box(self):
        """One control per row; the on/off switches share a row, and gain's presets sit by its slider.

        A row too wide for its column wraps: the presets (together) go under the gain slider, switches under switches.
        """
        rows, switches = [], W.HBox(layout=W.Layout(padding="0 0 0 10.5em", **_WRAPPING))
        for name, control in self.controls.items():
            if isinstance(control, W.Checkbox):
                if not switches.children:
                    rows.append(switches)
                switches.children += (control,)
            elif name == "gain":
                rows.append(W.HBox([control, self.preset_box], layout=W.Layout(**_WRAPPING)))
            else:
                rows.append(control)
        if self.step is not None:
            rows.append(W.HBox([self.step, self.step_note], layout=W.Layout(**_WRAPPING)))
        box = W.VBox(rows)
        box.add_class("nbdiag-controls")
        return box

    def _set_presets(self, activation):
        """A gain button for each of the lesson's gains and for the one that suits `activation` (marked)."""
        suited = FACTS[activation].gain_label
        self.presets = {}
        for label, value in gain_presets(activation).items():
            self.presets[label] = button = W.Button(
                description=label,
                tooltip=f"gain {label}"
                + (f": torch.nn.init.calculate_gain's for {activation}" if label == suited else ""),
                button_style="info" if label == suited else "",
                layout=W.Layout(width="3.6em", min_width="3.6em"),
            )
            button.on_click(functools.partial(self._set_gain, value))
        self.preset_box.children = tuple(self.presets.values())

    def _set_gain(self, value, _button):
        self.controls["gain"].value = value

    def _control_moved(self, name, change):
        if name == "activation" and "gain" in self.controls:  # the gain buttons follow the activation
            self._set_presets(change["new"])
        self.request(name, change["new"])

    def request(self, name, value):
        """Control `name` shows `value`: queue the change, then run it now or at the kernel's next turn."""
        try:
            pending = self.session.request(**{name: _config_value(name, value)})
        except Exception:
            return self._show_error()
        if pending is None:  # e.g. the slider echoing 5/3 back as 1.67
            return
        loop = _kernel_loop()
        if loop is None or pending.steps >= PROGRESS_MIN_STEPS:
            # a long run goes now, inside this change's own message: only there can its progress bar
            # show in our Output (the page drops output of a message it has finished with)
            return self.refresh()
        if not self._scheduled:
            # changes that reach the kernel while it is busy wait there, then arrive one by one; waiting
            # a moment after the last redraw lets them all merge into the queued config: one run, the latest
            self._scheduled = True
            loop.call_later(max(0.0, self._last_shown + MERGE_SECONDS - time.monotonic()), self.refresh)

    def refresh(self):
        """Run the queued changes, if any, and show the new run."""
        self._scheduled = False
        pending = self.session.pending
        if pending is None:
            return
        long = pending.steps >= PROGRESS_MIN_STEPS
        try:
            with self.progress if long else nullcontext():  # tqdm.auto's bar shows in the Output
                run = self.session.run_pending()
            if long and get_ipython() is not None:  # (elsewhere tqdm wrote to stderr, and this would print)
                self.progress.clear_output()  # the finished bar's widget is closed: leave no trace of it
        except Exception:
            return self._show_error(f"the run failed; {self._still_shown()}")
        try:
            self._show(run)
        except Exception:
            self._show_error(f"the run finished ({run.status}), but showing it failed; {self._still_shown()}")

    def _sync_step(self, run):
        """Offer the new run's snapshot steps (and its last step) on the step slider, set at the last one."""
        if self.step is None:
            return
        steps = sorted(set(stats.snapshot_steps(run)) | {run.steps_done - 1}) if run.steps_done else [0]
        self._syncing = True
        try:
            self.step.options, self.step.value = steps, steps[-1]
        finally:
            self._syncing = False
        self.step_note.value = ""

    def _at(self, run):
        """The StepPictures the step slider points at, or None at the run's last step (its own records)."""
        if self.step is None or self.step.value == self.step.options[-1]:
            return None
        return stats.pictures_at(run, self.step.value)

    def _step_moved(self, change):
        """The step slider moved: redraw every picture at that step, from the run's snapshots."""
        if self._syncing:
            return
        try:
            run, at = self.shown, self._at(self.shown)
            self.step_note.value = (
                ""
                if at is None
                else (
                    f'<small style="color:#555">pictures at step {at.step}; the findings and tables below are '
                    f"at the last step, {self.step.options[-1]}</small>"
                )
            )
            self._draw_pictures(run, at)
            self._redraw_pictures()
        except Exception:
            self._show_error()

    def _draw_pictures(self, run, at=None):
        """Update every picture's lines to `run`, at its last step or at the snapshot `at`."""
        with one_thread():  # the histograms too, as training: on shared cores a second thread only waits
            for picture in self.pictures:
                picture.draw(run, self.column, at)

    def _redraw_pictures(self):
        """Render and send every picture's new frame."""
        for picture in self.pictures:
            picture.redraw()

    def _show(self, run):
        """Show `run` everywhere, or, if any part of it fails, nowhere: the panel keeps showing self.shown."""
        status, verdicts = _status_html(run), _verdicts_html(run)  # what can fail comes before any change
        tables = _tables_html(run) if self.tables is not None else None
        try:
            self._draw_pictures(run)
            self._redraw_pictures()
        except Exception:
            if self.shown is not None:  # put back what the pictures drawn or sent before the failure showed
                try:
                    self._draw_pictures(self.shown, self._at(self.shown))
                    self._redraw_pictures()
                except Exception:
                    pass  # the error shows the first failure
            raise
        self._sync_step(run)
        self.status.value, self.verdicts.value = status, verdicts
        if self.tables is not None:
            self.tables.value = tables
        self.shown = run
        # quick runs follow a drag; long ones wait for the release (a recorded run has no controls, nor config)
        live = not self.controls or run.config.steps < PROGRESS_MIN_STEPS
        for name, control in self.controls.items():
            if isinstance(control, _SLIDERS) and Config.option(name).live:
                control.continuous_update = live
        if self.errors.outputs:
            self.errors.outputs = ()
        self._last_shown = time.monotonic()

    def _still_shown(self):
        """Which run the panel still shows, after a change that failed."""
        if self.shown is None:
            return "nothing is shown yet"
        return f"the status, pictures, findings and tables still show the run before it ({self.shown.status})"

    def _show_error(self, what=None):
        """The traceback of the exception being handled, after a line saying `what` went wrong, if given."""
        # append_stderr sets the Output's state, so it shows from any callback, unlike `with output:`
        self.errors.append_stderr((f"{what}\n" if what else "") + traceback.format_exc())


def _rows(widgets, per_row=2):
    """`per_row` widgets a row; in a column too narrow for them, one under the other."""
    return W.VBox(
        [W.HBox(widgets[i : i + per_row], layout=W.Layout(**_WRAPPING)) for i in range(0, len(widgets), per_row)]
    )


def _columns(left, right):
    """A comparison's row: `left` and `right` in two columns of equal width, which never push into each other;
    in a window too narrow for both, the right one goes under the left one."""
    columns = []
    for children in (left, right):
        column = W.VBox(children, layout=W.Layout(**_COLUMN))
        column.add_class("nbdiag-column")
        columns.append(column)
    return W.HBox(columns, layout=W.Layout(grid_gap=_GAP, **_WRAPPING))


def _of_panel(name, doc):
    """A dashboard attribute that is its panel's `name`."""
    return property(lambda dashboard: getattr(dashboard._panel, name), doc=doc)


def _still_column(panel):
    """What a panel shows, as a still's column (nbdiag.still.Column)."""
    run = panel.shown
    return still.Column(
        run=run,
        status=run.status,
        settings=_describe(run.config) if run.config is not None else "",
        findings=health.format_findings(health.diagnose(run)),
        tables=stats.tables(run) if panel.tables is not None else "",
    )


class _Pictures(W.VBox):
    """A dashboard's or a comparison's column of widgets around its pictures (self._pictures: view -> Picture),
    and their panels (self._panels)."""

    def _repr_mimebundle_(self, **kwargs):
        """The widget, and for pages that cannot run it a still PNG of what it shows and its text."""
        bundle = super()._repr_mimebundle_(**kwargs)
        columns = [_still_column(panel) for panel in self._panels if panel.shown is not None]
        if bundle is None or len(columns) < len(self._panels):  # nothing shown yet: the widget alone
            return bundle
        views = {name: ALL_VIEWS[name] for name in self._pictures}
        bundle["image/png"] = base64.b64encode(still.png(views, columns)).decode("ascii")
        texts = ["\n".join(filter(None, [c.status, c.settings, c.findings, c.tables])) for c in columns]
        bundle["text/plain"] = "\n\n".join(texts)
        return bundle

    @property
    def figures(self):
        """The matplotlib figure of each view, by view name."""
        return {view: picture.figure for view, picture in self._pictures.items()}

    def close(self):
        """Close the figures and every widget."""
        _close_tree(self)


class Dashboard(_Pictures):
    """Controls, pictures and tables of one run: a change re-runs the network and redraws in place.

    Dashboard() shows everything; Dashboard(controls=["gain"], views=["activations"], gain=5/3)
    just what a lesson cell is about. Config values (gain=3, batchnorm=True, steps=1001...) set the start.
    snapshots=N (or "log") keeps snapshots as train(..., snapshots=N) does and adds a step slider that moves
    every picture to a snapshot step; views=[*VIEWS, "saturation_over_time"] adds each layer's saturation over
    the snapshot steps. Dashboard(run=rec) shows a finished run, e.g. what nbdiag.watch recorded
    of your own model: the same pictures, health findings and tables, with the step slider if it has snapshots.
    """

    session = _of_panel("session", "The Session: the config, the queued changes and the last run.")
    controls = _of_panel("controls", "The controls, by config name (none for a recorded run).")
    presets = _of_panel("presets", "The gain preset buttons, by label (none without the gain control).")
    status = _of_panel("status", "The status line (HTML): what the last run did, and its settings.")
    verdicts = _of_panel("verdicts", "The health findings (HTML), under the pictures.")
    errors = _of_panel("errors", "The Output where a failing change's traceback shows.")
    progress = _of_panel("progress", "The Output where a long run's progress bar shows.")
    tables_html = _of_panel("tables", "The tables (HTML), or None with tables=False.")
    step = _of_panel("step", "The step slider over the run's snapshot steps, or None without snapshots.")

    def __init__(
        self, controls=None, views=VIEWS, tables=True, dataset=None, snapshots=None, run=None, **config_values
    ):
        if run is not None and not isinstance(run, RunRecord):
            raise ConfigError(
                f"run must be what nbdiag.train returns or nbdiag.watch recorded, got {type(run).__name__}"
            )
        views = _chosen(views, tuple(ALL_VIEWS), "view")
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
            controls = _chosen(CONTROLS if controls is None else controls, CONTROLS, "control")
            config = changed(Config(), **config_values)
            control_widgets = _make_controls(controls, config)  # range errors before a possibly long run
            session = Session(config, dataset, snapshots=snapshots)
        figsize = (10.0, 3.4) if len(views) == 1 else (5.5, 3.1)  # two a row fit 1280 px
        self._pictures = {view: Picture(ALL_VIEWS[view], 1, figsize) for view in views}
        p = self._panel = Panel(
            session,
            control_widgets,
            list(self._pictures.values()),
            tables=tables,
            step_slider=snapshots is not None or bool(stats.snapshot_steps(session.run)),
        )
        self._panels = [p]
        parts = [
            p.control_box,
            p.status,
            p.errors,
            p.progress,
            _rows([pic.widget for pic in self._pictures.values()]),
            p.verdicts,
        ]
        super().__init__(parts + ([p.tables] if tables else []))


class Comparison(_Pictures):
    """Two configs side by side from the same seed, each with its controls; each picture pair shares its axes.

    Comparison(dict(gain=1), dict(gain=5/3)) or Comparison(dict(), dict(batchnorm=True)).
    """

    def __init__(self, left, right, controls=CONTROLS, views=VIEWS, tables=True, dataset=None):
        controls, views = _chosen(controls, CONTROLS, "control"), _chosen(views, VIEWS, "view")
        seeds = {side["seed"] for side in (left, right) if "seed" in side}
        if len(seeds) > 1:
            raise ConfigError(f"seed: both sides of a comparison run from the same seed, got {sorted(seeds)}")
        seed = seeds.pop() if seeds else Config().seed
        configs = [changed(Config(), **{**side, "seed": seed}) for side in (left, right)]
        side_controls = [c for c in controls if c != "seed"]
        widgets = [_make_controls(side_controls, config) for config in configs]
        self.seed = _make_controls(["seed"], configs[0])["seed"] if "seed" in controls else None
        dataset = dataset if dataset is not None else shared_dataset()
        sessions = [Session(config, dataset) for config in configs]
        self._pictures = {view: Picture(ALL_VIEWS[view], 2, (11.0, 2.9)) for view in views}
        self.left, self.right = (
            Panel(session, w, list(self._pictures.values()), column, tables)
            for column, (session, w) in enumerate(zip(sessions, widgets))
        )
        self._panels = [self.left, self.right]
        if self.seed is not None:
            self.seed.observe(self._seed_changed, names="value")
        left, right = self.left, self.right
        parts = [self.seed] if self.seed is not None else []
        parts += [_columns(*([p.control_box, p.status, p.errors, p.progress] for p in (left, right)))]
        parts += [picture.widget for picture in self._pictures.values()]
        parts += [_columns([left.verdicts], [right.verdicts])]
        parts += [_columns([left.tables], [right.tables])] if tables else []
        super().__init__(parts)

    def _seed_changed(self, change):
        for panel in (self.left, self.right):
            panel.request("seed", change["new"])


def _close_tree(widget):
    """Close a widget and every widget it holds: children, but also layouts, styles, ipympl's toolbar."""
    held = [getattr(widget, name) for name in widget.keys]
    W.Widget.close(widget)
    for value in held:
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, W.Widget) and item.comm is not None:
                _close_tree(item)


# -- the gain sweep: why 5/3, at initialization (nbdiag.sweep)

SWEEP_FIGSIZE = (9.0, 6.4)  # inches: the sweep's two pictures over the chosen network's histograms
STILL_CAPTION = "a still picture of the gain sweep: run the cell to move its controls"


def _sweep_axes(figure):
    """The sweep's std and saturation side by side, the chosen network's histograms under them: three axes."""
    width, height = figure.get_size_inches()
    # a fixed layout: tight and constrained layouts measure every text again at every draw
    grid = figure.add_gridspec(
        2, 2, left=0.7 / width, right=1 - 0.2 / width, bottom=0.5 / height, top=1 - 0.3 / height, hspace=0.45
    )
    return [figure.add_subplot(grid[0, 0]), figure.add_subplot(grid[0, 1]), figure.add_subplot(grid[1, :])]


def _draw_network(axes, activation, gain, histograms, line):
    """The gain marked on the sweep's curves, and the chosen network's histograms titled with its readout `line`."""
    plots.mark_gain(axes[:2], gain)
    plots.plot_activations(histograms, axes[2])
    # half of a ReLU's (or GELU's) outputs pile up at 0: on a linear scale that spike would flatten every other bin
    spike = activation in ("relu", "gelu")
    axes[2].set_yscale("log" if spike else "linear")
    axes[2].set_title(f"outputs{' (log density)' if spike else ''} — {line}")


class GainSweep(W.VBox):
    """Why 5/3: pick an activation and a depth and see the gain sweep; move the gain and see that network's layers.

    Top: the last hidden layer's std and saturated share at initialization against the gain, one line per depth
    (nbdiag.sweep), the gain marked. Below: the histograms of the chosen network's hidden layers. An activation's
    sweep is computed once and kept: moving the gain or the depth runs one network forward, nothing more.
    GainSweep(activation="relu", depth=20, gain=1.6) sets the start (gain: calculate_gain's by default).
    """

    def __init__(self, activation="tanh", depth=sweeps.DEPTHS[-1], gain=None):
        if activation not in sweeps.SWEPT:
            raise ConfigError(f"activation must be one of {', '.join(sweeps.SWEPT)}, got {activation!r}")
        if depth not in sweeps.DEPTHS:
            raise ConfigError(f"depth must be one of {', '.join(map(str, sweeps.DEPTHS))}, got {depth!r}")
        gain = FACTS[activation].gain if gain is None else gain
        if not 0.1 <= gain <= 4:
            raise ConfigError(f"gain must be between 0.1 and 4, got {gain!r}")
        self._sweeps = {}  # activation -> its Sweep, computed on first use
        self.activation = W.ToggleButtons(
            options=sweeps.SWEPT, value=activation, description="activation", style=_STYLE
        )
        self.depth = W.ToggleButtons(
            options=[(str(d), d) for d in sweeps.DEPTHS], value=depth, description="hidden layers", style=_STYLE
        )
        self.gain = W.FloatSlider(
            value=gain,
            min=0.1,
            max=4.0,
            step=0.01,
            readout_format=".2f",
            description="gain",
            continuous_update=True,  # one network forward and a redraw: quick enough to follow a drag
            style=_STYLE,
            layout=W.Layout(**_SLIDER_WIDTH),
        )
        self.preset = W.Button(layout=W.Layout(width="auto"))  # calculate_gain's value for the activation
        self.preset.on_click(self._set_suited_gain)
        self.readout = W.HTML()
        self.errors = W.Output()  # a failing callback's traceback shows here, never lost in the kernel's log
        with plt.ioff():  # shown inside this widget, not as the cell's output
            # not registered with pyplot, as nbdiag.picture's figures: plt.close("all") can't blank it
            self.figure = plt.new_figure_manager(0, figsize=SWEEP_FIGSIZE, dpi=DPI).canvas.figure
        canvas = self.figure.canvas
        if isinstance(canvas, W.DOMWidget):  # ipympl: the canvas is the widget, redrawn in place
            canvas.header_visible = canvas.footer_visible = False
            self.image = canvas
        else:  # any other backend: a PNG, rendered whole at every change
            self.image = W.Image(format="png")
        self.axes = _sweep_axes(self.figure)
        self.shown = None  # (activation, depth, gain) of the pictures, once drawn
        self._scheduled = False
        self._last_shown = -math.inf
        for control in (self.activation, self.depth, self.gain):
            control.observe(self._changed, names="value")
        self._show()
        gain_row = W.HBox([self.gain, self.preset], layout=W.Layout(**_WRAPPING))
        super().__init__([self.activation, self.depth, gain_row, self.readout, self.errors, self.image])

    @property
    def sweep(self):
        """The Sweep of the chosen activation: computed the first time it is chosen, then kept."""
        name = self.activation.value
        if name not in self._sweeps:
            self._sweeps[name] = sweeps.sweep_gains(name)
        return self._sweeps[name]

    def _chosen_gain(self):
        """The slider's gain, or calculate_gain's exact value when the slider shows it (1.67 is 5/3)."""
        suited = FACTS[self.activation.value].gain
        return suited if round(self.gain.value, 2) == round(suited, 2) else round(self.gain.value, 2)

    def _set_suited_gain(self, _button):
        self.gain.value = FACTS[self.activation.value].gain

    def _changed(self, _change):
        """A control moved: show it now, or at the kernel's next turn, merged with the changes that came meanwhile."""
        loop = _kernel_loop()
        if loop is None:  # a script, a test
            return self.refresh()
        if not self._scheduled:  # as Panel.request: a drag's burst of messages costs one redraw, of the latest
            self._scheduled = True
            loop.call_later(max(0.0, self._last_shown + MERGE_SECONDS - time.monotonic()), self.refresh)

    def refresh(self):
        """Show the controls' activation, depth and gain; a failure shows in self.errors."""
        self._scheduled = False
        try:
            self._show()
        except Exception:
            self.errors.append_stderr(traceback.format_exc())  # as Panel._show_error: from any callback

    def _network(self, activation, depth, gain):
        """The chosen network's histograms and its one-line readout."""
        with one_thread():
            outputs = sweeps.layer_outputs(activation, gain, depth)
            histograms = sweeps.histograms(activation, gain, depth, outputs=outputs)
            std, share = (t.item() for t in sweeps.measure(outputs[-1], activation))
        return histograms, sweeps.describe(activation, gain, depth, std, share)

    def _show(self):
        """Draw the controls' choice: the curves only for a new activation or depth, the network every time."""
        chosen = activation, depth, gain = self.activation.value, self.depth.value, self._chosen_gain()
        sweep, (histograms, line) = self.sweep, self._network(*chosen)
        if self.shown is None or self.shown[:2] != (activation, depth):  # a moved gain leaves the curves alone
            plots.plot_gain_sweep(sweep, self.axes[:2], highlight=depth, gain=gain)
            self.preset.description = f"calculate_gain: {sweep.facts.gain_label}"
            self.preset.tooltip = sweep.facts.gain_source
        _draw_network(self.axes, activation, gain, histograms, line)
        if self.image is self.figure.canvas:
            self.figure.canvas.draw_idle()  # ipympl renders and sends the frame when the page asks for it
        else:
            png = io.BytesIO()
            self.figure.savefig(png, format="png")
            self.image.value = png.getvalue()
        self.readout.value = f"<b>{html.escape(line)}</b>"
        self.shown, self._shown_network = chosen, (histograms, line)
        if self.errors.outputs:
            self.errors.outputs = ()
        self._last_shown = time.monotonic()

    def still_png(self):
        """What the widget shows, as a still PNG for pages that cannot run it (the lessons' stored outputs)."""
        activation, depth, gain = self.shown
        histograms, line = self._shown_network
        figure = plt.Figure(figsize=(still.WIDTH, SWEEP_FIGSIZE[1] + 0.3), dpi=still.DPI)
        axes = _sweep_axes(figure)
        plots.plot_gain_sweep(self._sweeps[activation], axes[:2], highlight=depth, gain=gain)
        _draw_network(axes, activation, gain, histograms, line)
        figure.text(0.99, 0.005, STILL_CAPTION, ha="right", va="bottom", fontsize=still.FONT, style="italic")
        rendered = io.BytesIO()
        figure.savefig(rendered, format="png", dpi=still.DPI)
        return still.palette_png(rendered.getvalue())

    def _repr_mimebundle_(self, **kwargs):
        """The widget, and for pages that cannot run it a still PNG of what it shows and its readout."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None or self.shown is None:
            return bundle
        bundle["image/png"] = base64.b64encode(self.still_png()).decode("ascii")
        bundle["text/plain"] = self._shown_network[1]
        return bundle

    def close(self):
        """Close the figure and every widget."""
        _close_tree(self)
