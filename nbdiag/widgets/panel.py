"""A Panel: one session and its controls, shown as a run's status, pictures, findings and tables, all or nothing.

State and view: the Session (nbdiag.session) holds the config and the last run. Here the controls are
observed; each change is queued in the session and run by a Debouncer at the kernel's next turn, so that a
burst of changes (a slider drag) costs one run, of the latest values.
"""

import functools
from contextlib import nullcontext

import ipywidgets as W

from .. import stats
from ..config import Config
from ..train import PROGRESS_MIN_STEPS, one_thread
from . import layout, schedule
from .controls import SLIDER_WIDTH, SLIDERS, STYLE, config_value, control_box, describe, preset_buttons


class Panel:
    """One session with its controls, status line, findings, error and progress outputs and tables.

    Its runs are drawn in column `column` of each of `pictures` (nbdiag.picture.Picture). With `tables`, the
    tables show under the findings. With `step_slider`, a slider over the run's snapshot steps moves every
    picture to that step, without re-running.

    Its widgets: controls (by config name), presets (the gain buttons, by label), status, findings, errors,
    progress, tables_html (None without tables), step and step_note (None without the step slider), and
    control_box, which holds the controls. `shown` is the run on show: session.run unless showing that failed
    (the errors output then says so).
    """

    def __init__(self, session, controls, pictures, column=0, tables=True, step_slider=False):
        self.session = session
        self.controls = controls
        self.pictures, self.column = pictures, column
        self.presets = {}
        self.preset_box = W.HBox(layout=W.Layout(flex="0 0 auto"))  # the gain buttons, by the gain slider
        if "gain" in controls:
            self._set_presets(session.config.activation)
        for name, widget in controls.items():
            widget.observe(functools.partial(self._control_moved, name), names="value")
        self.status = W.HTML()  # what the run did, and its settings
        self.findings = W.HTML()  # health findings in words, shown under the pictures
        self.findings.add_class("nbdiag-findings")
        self.errors = W.Output()  # a failing callback's traceback shows here, never lost in the kernel's log
        self.progress = W.Output()  # the progress bar of a long run
        self.tables_html = W.HTML() if tables else None
        if self.tables_html is not None:
            self.tables_html.add_class("nbdiag-tables")
        self.step = self.step_note = None  # the step slider, if any, and the note on what its step shows
        step_row = None
        if step_slider:
            self.step = W.SelectionSlider(
                options=[0],
                description="pictures at step",
                style=STYLE,
                layout=W.Layout(**SLIDER_WIDTH),
                continuous_update=True,
                tooltip="move every picture to a snapshot step; the tables stay at the last",
            )
            self.step.observe(self._step_moved, names="value")
            self.step_note = W.HTML()  # which step the pictures show, when it is not the tables' (the last)
            step_row = W.HBox([self.step, self.step_note], layout=W.Layout(**layout.WRAPPING))
        self._syncing = False  # True while _show sets the step slider: its changes are not the user's
        self.control_box = control_box(self.controls, self.preset_box, step_row)
        self._runs = schedule.Debouncer(self.refresh)
        self.shown = None  # the run the status, pictures, findings and tables show (session.run, unless that failed)
        self._show(session.run)

    def _set_presets(self, activation):
        """A gain button for each of the lesson's gains and for the one that suits `activation` (marked)."""
        self.presets = preset_buttons(activation, self._set_gain)
        self.preset_box.children = tuple(self.presets.values())

    def _set_gain(self, value):
        self.controls["gain"].value = value

    def _control_moved(self, name, change):
        if name == "activation" and "gain" in self.controls:  # the gain buttons follow the activation
            self._set_presets(change["new"])
        self.request(name, change["new"])

    def request(self, name, value):
        """Control `name` shows `value`: queue the change, then run it now or at the kernel's next turn."""
        try:
            pending = self.session.request(**{name: config_value(name, value)})
        except Exception:
            return schedule.show_error(self.errors)
        if pending is None:  # e.g. the slider echoing 5/3 back as 1.67
            return
        # a long run goes now, inside this change's own message: only there can its progress bar show in our
        # Output (the page drops output of a message it has finished with)
        self._runs.request(now=pending.steps >= PROGRESS_MIN_STEPS)

    def refresh(self):
        """Run the queued changes, if any, and show the new run."""
        pending = self.session.pending
        if pending is None:
            return
        long = pending.steps >= PROGRESS_MIN_STEPS
        try:
            with self.progress if long else nullcontext():  # tqdm.auto's bar shows in the Output
                run = self.session.run_pending()
            if long and schedule.in_ipython():  # (elsewhere tqdm wrote to stderr, and this would print)
                self.progress.clear_output()  # the finished bar's widget is closed: leave no trace of it
        except Exception:
            return schedule.show_error(self.errors, f"the run failed; {self._still_shown()}")
        try:
            self._show(run)
        except Exception:
            what = f"the run finished ({run.status}), but showing it failed; {self._still_shown()}"
            schedule.show_error(self.errors, what)

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
            for picture, frame in self._render_pictures(run, at):
                picture.send(frame)
        except Exception:
            schedule.show_error(self.errors)

    def _draw_pictures(self, run, at=None):
        """Update every picture's lines to `run`, at its last step or at the snapshot `at`."""
        with one_thread():  # the histograms too, as training: on shared cores a second thread only waits
            for picture in self.pictures:
                picture.draw(run, self.column, at)

    def _render_pictures(self, run, at=None):
        """Every picture drawn at `run` (at `at`) and its new frame rendered, none sent: [(picture, frame)]."""
        self._draw_pictures(run, at)
        with one_thread():
            return [(picture, picture.render()) for picture in self.pictures]

    def _show(self, run):
        """Show `run` everywhere, or, if any part of it fails, nowhere: the panel keeps showing self.shown.

        Everything is computed before the page changes: the text, then every picture's frame. Then the page
        changes at once, the status first (it says what the pictures show) and the frames before the longer text.
        """
        settings = describe(run.config) if run.config is not None else ""
        status, findings = layout.status_html(run, settings), layout.findings_html(run)
        tables = layout.tables_html(run) if self.tables_html is not None else None
        try:
            frames = self._render_pictures(run)
        except Exception:
            if self.shown is not None:  # the pictures' lines back as the page still shows them
                try:
                    self._draw_pictures(self.shown, self._at(self.shown))
                except Exception:
                    pass  # the error shows the first failure
            raise
        self._sync_step(run)
        self.status.value = status
        for picture, frame in frames:
            picture.send(frame)
        self.findings.value = findings
        if self.tables_html is not None:
            self.tables_html.value = tables
        self.shown = run
        # quick runs follow a drag; long ones wait for the release (a recorded run has no controls, nor config)
        live = not self.controls or run.config.steps < PROGRESS_MIN_STEPS
        for name, widget in self.controls.items():
            if isinstance(widget, SLIDERS) and Config.option(name).live:
                widget.continuous_update = live
        if self.errors.outputs:
            self.errors.outputs = ()

    def _still_shown(self):
        """Which run the panel still shows, after a change that failed."""
        if self.shown is None:
            return "nothing is shown yet"
        return f"the status, pictures, findings and tables still show the run before it ({self.shown.status})"
