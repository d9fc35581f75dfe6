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
import itertools
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
def table_lines(steps, gain, batchnorm, seed):
    """The activation and gradient table lines of the default config with these settings, as the dashboard shows."""
    from nbdiag import Config, train
    from nbdiag.session import shared_dataset
    from nbdiag.stats import activation_stats, format_activation_table, format_gradient_table, gradient_stats

    run = train(Config(steps=steps, gain=gain, batchnorm=batchnorm, seed=seed), shared_dataset(), progress=False)
    tables = [format_activation_table(activation_stats(run)), format_gradient_table(gradient_stats(run))]
    return "\n".join(tables).splitlines()


def new_line(steps, before, after):
    """A table line the dashboard shows at settings `after` (gain, batchnorm, seed) and not at `before`."""
    old = set(table_lines(steps, *before))
    line = next((line for line in table_lines(steps, *after) if line not in old), None)
    assert line is not None, f"the tables at {after} are those at {before}: the change shows nothing new"
    return line


# Gains to type in turn, high and low by turns: each a new run, none a gain button's (the session caches its runs)
TYPED_GAINS = ["3", "1.2", "2.5", "0.8", "2.8", "1.4", "2.2", "0.7", "3.5", "1.1", "4", "0.9", "2.6", "1.3", "3.2"]


class Board:
    """A dashboard of `steps` steps open in `nb` (a harness NotebookPage), its settings as the changes left them,
    and the timed changes a student makes to it; each returns the probe's sample (a dict of ms). With `watch` (a CSS
    selector) a sample also says when that first showed.

    Every timed change is a new run: the session keeps the runs it made and shows them again without training, so
    a change back to settings run before comes after an untimed change of the seed."""

    def __init__(self, nb, steps, watch=None, quiet=1.0):
        from nbdiag import Config

        self.nb, self.steps, self.watch, self.quiet = nb, steps, watch, quiet
        self.settings = (Config().gain, Config().batchnorm, Config().seed)  # what the dashboard shows
        self.run = {self.settings}  # every settings it ran
        self.seeds = iter(range(101, 1000))  # three digits: no seed's status ("seed 101") is part of another's
        self.typed = itertools.cycle(TYPED_GAINS)

    def _change(self, act, start_on=None, gain=None, batchnorm=None):
        """Time `act()`, which moves the dashboard to `gain` or `batchnorm`; returns the probe's sample."""
        after = self._with(gain=gain, batchnorm=batchnorm)
        if after in self.run:
            self._reseed()
            after = self._with(gain=gain, batchnorm=batchnorm)
        self.nb.arm_probe(
            new_line(self.steps, self.settings, after), quiet=self.quiet, start_on=start_on, watch=self.watch
        )
        act()
        sample = self.nb.probe_latency(quiet=self.quiet)
        self.settings = after
        self.run.add(after)
        return sample

    def _with(self, gain=None, batchnorm=None, seed=None):
        """The settings shown, with these changed (None: as shown)."""
        return tuple(value if new is None else new for value, new in zip(self.settings, (gain, batchnorm, seed)))

    def _reseed(self):
        """Type a seed not run before into the seed box and wait for its run, untimed."""
        from nbdiag import Config

        seed = next(self.seeds)
        self.nb.type_into_box(Config.option("seed").label or "seed", seed)
        self.nb.wait_for_output(f"seed {seed}")  # the status line's settings, shown with the run
        self.settings = self._with(seed=seed)
        self.run.add(self.settings)

    def type_gain(self):
        """Type the next of TYPED_GAINS into the gain slider's readout and press Enter."""
        typed = next(self.typed)
        # timed from the Enter: the click into the readout and the typing before it are the student's time
        return self._change(
            lambda: self.nb.type_into_readout(GAIN, typed), start_on=["keydown:Enter"], gain=float(typed)
        )

    def click_preset(self):
        """Click the gain button after the one of the gain shown (by value, round to the first), e.g. 3 at 5/3."""
        from nbdiag.widgets.controls import gain_presets

        presets = list(gain_presets("tanh").items())  # the tanh dashboard's buttons: label -> gain, by value
        rounded = [round(gain, 2) for _, gain in presets]
        shown = round(self.settings[0], 2)
        label, gain = presets[(rounded.index(shown) + 1) % len(presets) if shown in rounded else 0]
        return self._change(lambda: self.nb.button(label).click(), gain=gain)

    def toggle_batchnorm(self):
        """Tick or untick the batch norm box."""
        return self._change(lambda: self.nb.checkbox(BATCHNORM).click(), batchnorm=not self.settings[1])

    def drag_gain(self, moves=10):
        """Drag the gain slider's handle with the mouse in `moves` steps past the end of its track away from the
        gain shown (gain 5, or 0.2), timed from the release."""
        from nbdiag import Config

        low, high = Config.option("gain").limits
        to_right = self.settings[0] < (low + high) / 2
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
    """Give each change's sample (a probe_latency dict) the kernel's training behind its text: train_start_ms and
    train_end_ms of the last training to end before the text showed, from the action, and how long after its end
    the text showed and the last figure repainted (text_after_training_ms, pictures_after_training_ms); None where
    no training ended in time (`trainings`: the notebook's TRAININGS)."""
    for sample in samples:
        start = sample["start_epoch_ms"]
        text = start + sample["text_ms"]
        # the last change's training ended over `quiet` s before this one began, this one's before its text showed
        ended = [(a * 1000 - start, b * 1000 - start) for a, b in trainings if start - 500 <= b * 1000 <= text + 5]
        if not ended:
            sample.update(train_start_ms=None, train_end_ms=None)
            sample.update(text_after_training_ms=None, pictures_after_training_ms=None)
            continue
        begun, end = max(ended, key=lambda t: t[1])
        sample.update(train_start_ms=round(begun, 1), train_end_ms=round(end, 1))
        sample["text_after_training_ms"] = round(sample["text_ms"] - end, 1)
        sample["pictures_after_training_ms"] = round(sample["last_figure_ms"] - end, 1)
    return samples


def add_cell_times(samples, cells, trainings):
    """Give each timed cell run's sample its kernel side, in ms: when the kernel started it (queued_ms, from the
    run request), building its widget (build_ms, of which training_ms trained), displaying it (display_ms: its
    repr, with the still PNG), and its first live picture beyond its training (beyond_training_ms); `cells` are
    the notebook's CELLS of these runs, in order, `trainings` its TRAININGS."""
    for sample, (_expression, start, built, displayed) in zip(samples, cells, strict=True):
        training = sum(b - a for a, b in trainings if start <= a and b <= built) * 1000
        sample["queued_ms"] = round(start * 1000 - sample["start_epoch_ms"], 1)
        sample["build_ms"] = round((built - start) * 1000, 1)
        sample["training_ms"] = round(training, 1)
        sample["display_ms"] = round((displayed - built) * 1000, 1)
        sample["beyond_training_ms"] = round(sample["first_figure_ms"] - training, 1)
    return samples


def summary(values):
    """{n, median, p90} of the numbers among `values` (None: not measured)."""
    values = [v for v in values if v is not None]
    if not values:
        return {"n": 0, "median": None, "p90": None}
    return {"n": len(values), "median": statistics.median(values), "p90": float(np.percentile(values, 90))}
