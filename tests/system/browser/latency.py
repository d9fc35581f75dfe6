"""How long the page takes to change, measured in a real JupyterLab: the notebooks, a student's changes, the timings.

Shared by benchmarks/browser_latency.py (every kind of change, at 1 and 1,000 steps) and
tests/system/test_browser_latency.py (a gross-regression check). Each change is timed by the harness's in-page
probe, from the input event to the expected text and to the figures' repaints; the kernel's side (when the
training a change started began and ended, and what a cell spent building and displaying its widget) comes from
timings the notebook's setup cell keeps, read back afterwards with NotebookPage.kernel_json.

The expected text of a change is a table line that only the new run shows, computed here with the nbdiag the
kernels import (put its checkout first on sys.path before calling these).
"""

import functools
import statistics

import numpy as np

PROGRESS_BAR = ".jp-OutputArea .widget-hprogress"  # tqdm.auto's bar, in the dashboard's progress Output
BATCHNORM = "batch norm"
GAIN = "gain"
STEP_SLIDER = "pictures at step"

# The kernel's side: every training a dashboard's session starts, and what each timed cell spent, as time.time()
# (the page's performance.timeOrigin + now() is on the same clock). Wrapping nbdiag.session.train as the unit
# tests' `trained` fixture does costs microseconds.
SETUP = """\
import time

import nbdiag.session
from nbdiag.session import shared_dataset
from nbdiag.widgets import Comparison, Dashboard, GainSweep

TRAININGS = []  # (start, end) of every training a session ran
CELLS = []  # per timed cell: (expression, start, built, displayed)
_train = nbdiag.session.train


def _timed_train(*args, **kwargs):
    start = time.time()
    try:
        return _train(*args, **kwargs)
    finally:
        TRAININGS.append((start, time.time()))


nbdiag.session.train = _timed_train
shared_dataset();  # the data set loaded (and torch imported) before any timing, as after a lesson's first cells
"""
FIRST_WIDGET_CELL = 2  # after `%matplotlib widget` and SETUP


def timed_cell(variable, expression):
    """A cell that builds `expression` into `variable` and displays it, keeping when it started, had built it and
    had displayed it; the widget of its last run is closed first, outside the timing."""
    return (
        f'if "{variable}" in globals():\n'
        f"    {variable}.close()\n"
        "start = time.time()\n"
        f"{variable} = {expression}\n"
        "built = time.time()\n"
        f"display({variable})\n"
        f"CELLS.append(({expression!r}, start, built, time.time()))\n"
    )


def write_notebook(path, *cells):
    """A notebook of `%matplotlib widget` (as the lessons start), SETUP and these code cells, at `path`."""
    import nbformat

    sources = ["%matplotlib widget", SETUP, *cells]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])
    notebook.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nbformat.write(notebook, path)
    return path


def dashboard_notebook(path, arguments=""):
    """A notebook whose one widget cell is a timed `Dashboard(arguments)`."""
    return write_notebook(path, timed_cell("board", f"Dashboard({arguments})"))


@functools.cache
def table_lines(steps, gain, batchnorm):
    """The activation and gradient table lines of the default config with these settings, as the dashboard shows."""
    from nbdiag import Config, train
    from nbdiag.session import shared_dataset
    from nbdiag.stats import activation_stats, format_activation_table, format_gradient_table, gradient_stats

    run = train(Config(steps=steps, gain=gain, batchnorm=batchnorm), shared_dataset(), progress=False)
    return (format_activation_table(activation_stats(run)) + "\n" + format_gradient_table(gradient_stats(run))).split(
        "\n"
    )


def new_line(steps, before, after):
    """A table line the dashboard shows at settings `after` (gain, batchnorm) and not at `before`."""
    old = set(table_lines(steps, *before))
    line = next((line for line in table_lines(steps, *after) if line not in old), None)
    assert line is not None, f"the tables at {after} are those at {before}: the change shows nothing new"
    return line


class Board:
    """A dashboard of `steps` steps open in `nb` (a harness NotebookPage), its settings as the benchmark changed
    them, and the timed changes a student makes to it, each to a value other than the one shown; each returns the
    probe's sample (a dict of ms). With `watch` (a CSS selector) a sample also says when that first showed."""

    def __init__(self, nb, steps, watch=None, quiet=1.0):
        self.nb, self.steps, self.watch, self.quiet = nb, steps, watch, quiet
        self.gain, self.batchnorm = 5 / 3, False  # Config()'s

    def _change(self, act, start_on=None, **settings):
        """Time `act()`, which moves the dashboard to `settings`; returns the probe's sample."""
        before = (self.gain, self.batchnorm)
        after = (settings.get("gain", self.gain), settings.get("batchnorm", self.batchnorm))
        expected = new_line(self.steps, before, after)
        self.nb.arm_probe(expected, quiet=self.quiet, start_on=start_on, watch=self.watch)
        act()
        sample = self.nb.probe_latency(quiet=self.quiet)
        self.gain, self.batchnorm = after
        return sample

    def type_gain(self):
        """Type 3 into the gain slider's readout and press Enter, or 1.6667 (which the slider makes 5/3) at 3."""
        typed, gain = ("1.6667", 5 / 3) if self.gain == 3 else ("3", 3.0)
        return self._change(lambda: self.nb.type_into_readout(GAIN, typed), gain=gain)

    def click_preset(self):
        """Click the gain button after the one of the gain shown (by value, round to the first), e.g. 3 at 5/3."""
        from nbdiag.widgets.controls import gain_presets

        presets = list(gain_presets("tanh").items())  # the tanh dashboard's buttons: label -> gain, by value
        rounded = [round(gain, 2) for _, gain in presets]
        shown = rounded.index(round(self.gain, 2)) if round(self.gain, 2) in rounded else -1
        label, gain = presets[(shown + 1) % len(presets)]
        return self._change(lambda: self.nb.button(label).click(), gain=gain)

    def toggle_batchnorm(self):
        """Tick or untick the batch norm box."""
        return self._change(lambda: self.nb.checkbox(BATCHNORM).click(), batchnorm=not self.batchnorm)

    def drag_gain(self, moves=10):
        """Drag the gain slider's handle with the mouse in `moves` steps past the end of its track away from the
        gain shown (gain 5, or 0.2), timed from the release."""
        from nbdiag import Config

        low, high = Config.option("gain").limits
        to_right = self.gain < (low + high) / 2
        return self._change(
            lambda: self.nb.drag_slider(GAIN, 1.05 if to_right else -0.05, moves),
            start_on=["pointerup"],
            gain=high if to_right else low,
        )


def time_step_slider(nb, n, quiet=1.0):
    """Move the step slider of a Dashboard(snapshots=10, steps=45) `n` times with the arrow keys on its handle,
    between steps 40 and 0 (its last, 44, shows no "at step" title); the probe's samples."""
    steps, at, direction, samples = [0, 10, 20, 30, 40, 44], 5, -1, []
    for _ in range(n):
        if not 0 <= at + direction <= 4:
            direction = -direction
        at += direction
        nb.arm_probe(f"activation distribution at step {steps[at]}", quiet=quiet)
        nb.press_on_slider(STEP_SLIDER, "ArrowLeft" if direction < 0 else "ArrowRight")
        samples.append(nb.probe_latency(quiet=quiet))
    return samples


def time_cell(nb, index, quiet=1.0):
    """Run the timed cell `index` again: the probe's sample, from the run request to the first repaint of each of
    its figures (first_figure_ms: the first live picture; last_figure_ms: all of them)."""
    nb.arm_probe(None, quiet=quiet)
    nb.run_cell(index)
    return nb.probe_latency(quiet=quiet)


def add_trainings(samples, trainings):
    """Give each change's sample (a probe_latency dict) the kernel's training behind its text, in ms from the
    action: train_start_ms and train_end_ms of the last training to end before the text showed (None: none did)."""
    for sample in samples:
        start = sample["start_epoch_ms"]
        text = start + sample["text_ms"]
        ended = [(a * 1000 - start, b * 1000 - start) for a, b in trainings if start - 500 <= b * 1000 <= text + 5]
        begun, end = max(ended, key=lambda t: t[1]) if ended else (None, None)
        sample["train_start_ms"] = round(begun, 1) if begun is not None else None
        sample["train_end_ms"] = round(end, 1) if end is not None else None
    return samples


def add_cell_times(samples, cells, trainings):
    """Give each timed cell run's sample its kernel side, in ms: when the kernel started it (queued_ms, from the
    run request), building its widget (build_ms, of which training_ms trained), and displaying it (display_ms:
    its repr, with the still PNG); `cells` are the notebook's CELLS of these runs, in order."""
    for sample, (_expression, start, built, displayed) in zip(samples, cells, strict=True):
        sample["queued_ms"] = round(start * 1000 - sample["start_epoch_ms"], 1)
        sample["build_ms"] = round((built - start) * 1000, 1)
        sample["training_ms"] = round(sum(b - a for a, b in trainings if start <= a and b <= built) * 1000, 1)
        sample["display_ms"] = round((displayed - built) * 1000, 1)
    return samples


def summary(values):
    """{n, median, p90} of the numbers among `values` (None: not measured)."""
    values = [v for v in values if v is not None]
    if not values:
        return {"n": 0, "median": None, "p90": None}
    return {"n": len(values), "median": statistics.median(values), "p90": float(np.percentile(values, 90))}
