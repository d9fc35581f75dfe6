"""Page-side latency of the dashboards in a real JupyterLab and Chromium: from a student's input to the changed page.

For each kind of change (a gain typed into the gain slider's readout, a gain button clicked, the batch norm box
toggled, a mouse drag of the gain slider, the step slider moved) it times, in the page, the ms from the input event
to the new table text and to the last figure's repaint, at 1 training step (`Dashboard()`) and at 1,000
(`Dashboard(steps=1000)`, with when the progress bar shows and when the kernel ended the training), and prints the
median and 90th percentile of each. It also times running a cell of `Dashboard()`, `Comparison(dict(gain=1),
dict(gain=5/3))` and `GainSweep()` to its first live picture, beside the kernel's time building (and training)
and displaying it. Then a summary against the targets. The kernels import the nbdiag of --repo (default: this
checkout); the notebooks are made on the fly. Uses tests/system/browser/ (harness.py, latency.py).

    NBDIAG_DATA_DIR=/path/to/shared/data python benchmarks/browser_latency.py [--repo PATH] [--repeats N]
        [--long-repeats N] [--json OUT]
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
SYSTEM_TESTS = CHECKOUT / "tests" / "system"
LONG = 1000  # steps of the long dashboard
DRAG = "mouse: press the handle, 10 moves 30 ms apart past the end of the track, release; timed from the release"
CELLS = {  # variable -> the timed cell's expression
    "board": "Dashboard()",
    "comparison": "Comparison(dict(gain=1), dict(gain=5/3))",
    "sweep": "GainSweep()",
}


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=str(CHECKOUT), help="the checkout whose nbdiag the kernels import")
    parser.add_argument("--repeats", type=int, default=10, help="changes of each kind (and runs of each cell)")
    parser.add_argument("--long-repeats", type=int, default=5, help=f"changes of each kind at {LONG} steps")
    parser.add_argument("--json", help="write every sample and summary to this file")
    return parser.parse_args(argv)


def changes():
    """{kind: (its timed change, a method of browser.latency.Board; what the student does)}, in the order measured:
    batch norm last, so that the gain changes run without it."""
    from browser.latency import Board

    return {
        "type a gain": (Board.type_gain, "the next of 3, 1.2, 2.5, 0.8, 2.8... typed into the gain readout, Enter"),
        "click a gain button": (Board.click_preset, "the next of the gain buttons 0.5, 1, 5/3, 3 clicked"),
        "drag the gain slider": (Board.drag_gain, f"{DRAG} (to gain 5 or 0.2)"),
        "toggle batch norm": (Board.toggle_batchnorm, "the batch norm box clicked"),
    }


def log(message):
    print(message, file=sys.stderr, flush=True)


def open_board(browser, lab, folder, name, arguments):
    """A notebook of one timed Dashboard(arguments) cell, run, its figures shown: (context, NotebookPage)."""
    from browser.harness import new_page
    from browser.latency import dashboard_notebook

    context, nb = new_page(browser, lab, dashboard_notebook(folder / name, arguments))
    nb.open()
    nb.run_all()
    nb.wait_for_figures()
    return context, nb


def measure_changes(browser, lab, folder, steps, repeats):
    """{kind: samples} of every kind of change of a Dashboard of `steps` steps."""
    from browser import latency

    context, nb = open_board(browser, lab, folder, f"dashboard_{steps}.ipynb", f"steps={steps}" if steps > 1 else "")
    try:
        board = latency.Board(nb, steps, watch=latency.PROGRESS_BAR if steps == LONG else None)
        samples = {}
        for kind, (change, _) in changes().items():
            log(f"{steps} step(s): {kind} x {repeats}")
            samples[kind] = [change(board) for _ in range(repeats)]
        trainings = nb.kernel_json("TRAININGS")
        for kind_samples in samples.values():
            latency.add_trainings(kind_samples, trainings)
        assert nb.cell_errors() == [], nb.cell_errors()
        return samples
    finally:
        context.close()


def measure_step_slider(browser, lab, folder, repeats):
    """The samples of moving the step slider of a Dashboard(snapshots=10, steps=45)."""
    from browser.latency import time_step_slider

    log(f"step slider x {repeats}")
    context, nb = open_board(browser, lab, folder, "steps.ipynb", "snapshots=10, steps=45")
    try:
        return time_step_slider(nb, repeats)
    finally:
        context.close()


def measure_cells(browser, lab, folder, repeats):
    """{expression: samples} of running each timed cell `repeats` times, the first in a fresh kernel and page."""
    from browser import latency
    from browser.harness import new_page

    cells = [latency.timed_cell(variable, expression) for variable, expression in CELLS.items()]
    context, nb = new_page(browser, lab, latency.write_notebook(folder / "cells.ipynb", *cells))
    try:
        nb.open()
        for index in range(latency.FIRST_WIDGET_CELL):  # `%matplotlib widget` and the setup
            nb.run_cell(index)
        samples = {}
        for index, expression in enumerate(CELLS.values(), latency.FIRST_WIDGET_CELL):
            log(f"cell {expression} x {repeats}")
            samples[expression] = [latency.time_cell(nb, index) for _ in range(repeats)]
        kept, trainings = nb.kernel_json("CELLS"), nb.kernel_json("TRAININGS")
        for expression, runs in samples.items():
            latency.add_cell_times(runs, [cell for cell in kept if cell[0] == expression], trainings)
        assert nb.cell_errors() == [], nb.cell_errors()
        return samples
    finally:
        context.close()


def fmt(stats, unit=""):
    """'median / p90' of a summary, in whole ms."""
    if not stats["n"]:
        return "-"
    return f"{stats['median']:.0f} / {stats['p90']:.0f}{unit}"


def summarize(samples, fields):
    """{field: summary} of these samples."""
    from browser.latency import summary

    return {field: summary([sample[field] for sample in samples]) for field in fields}


PAGE = [("text", "text_ms"), ("last figure", "last_figure_ms"), ("1st figure", "first_figure_ms")]
PAGE += [("sent to kernel", "sent_ms")]  # the page's first message after the input: the widget's change
TRAINING = [("training began", "train_start_ms"), ("training ended", "train_end_ms")]  # the kernel's, for the text
LONG_COLUMNS = [("progress bar", "seen_ms"), ("text after end", "text_after_training_ms")]
LONG_COLUMNS += [("figure after end", "pictures_after_training_ms")]  # ms after the kernel ended the training
CELL_COLUMNS = [("1st picture", "first_figure_ms"), ("all pictures", "last_figure_ms"), ("queued", "queued_ms")]
CELL_COLUMNS += [("build", "build_ms"), ("(training)", "training_ms"), ("display", "display_ms")]
CELL_COLUMNS += [("beyond training", "beyond_training_ms")]


def print_table(title, samples, columns):
    """Print a row per entry of `samples` ({label: samples}), a column per (header, field) of `columns`, each
    median / p90 in ms; returns {label: {field: summary}}."""
    summaries = {label: summarize(rows, [field for _, field in columns]) for label, rows in samples.items()}
    width = max(map(len, samples))
    widths = [max(len(header), 11) for header, _ in columns]
    print(f"\n{title}")
    print(f"  {'':{width}} {'n':>3}  " + "  ".join(f"{header:>{w}}" for (header, _), w in zip(columns, widths)))
    for label, summary in summaries.items():
        cells = [f"{fmt(summary[field]):>{w}}" for (_, field), w in zip(columns, widths)]
        print(f"  {label:{width}} {len(samples[label]):>3}  " + "  ".join(cells))
    return summaries


def targets(summaries, samples):
    """(what, summary, target ms) of each target, judged by the median; a long change is any kind's."""
    from browser.latency import summary

    short, cells = summaries["changes at 1 step"], summaries["cells"]
    long_samples = [sample for kind_samples in samples[f"changes at {LONG} steps"].values() for sample in kind_samples]
    return [
        ("typing a gain, 1 step: to the last figure repaint", short["type a gain"]["last_figure_ms"], 100),
        ("a drag's last value, 1 step: release to last figure", short["drag the gain slider"]["last_figure_ms"], 150),
        (f"a {LONG:,}-step change: progress bar shows", summary([s["seen_ms"] for s in long_samples]), 150),
        (
            f"a {LONG:,}-step change: last figure after training end",
            summary([s["pictures_after_training_ms"] for s in long_samples]),
            100,
        ),
        ("Dashboard() cell: 1st live picture beyond training", cells["Dashboard()"]["beyond_training_ms"], 300),
    ]


def measure(repo, repeats, long_repeats):
    """Every sample, by section: a JupyterLab whose kernels import `repo`'s nbdiag, and one Chromium."""
    from browser.harness import JupyterLab, launch_chromium
    from playwright.sync_api import sync_playwright

    samples = {}
    with tempfile.TemporaryDirectory(prefix="browser-latency-") as tmp, sync_playwright() as playwright:
        folder = Path(tmp) / "made"
        folder.mkdir()
        lab = JupyterLab(Path(tmp) / "lab", repo=repo).start()
        browser = launch_chromium(playwright)
        try:
            samples["changes at 1 step"] = measure_changes(browser, lab, folder, 1, repeats)
            samples[f"changes at {LONG} steps"] = measure_changes(browser, lab, folder, LONG, long_repeats)
            samples["step slider"] = measure_step_slider(browser, lab, folder, repeats)
            samples["cells"] = measure_cells(browser, lab, folder, repeats)
        finally:
            browser.close()
            lab.stop()
    return samples


def print_sections(samples):
    """Print a table per section of `samples`; their summaries."""
    summaries = {
        "changes at 1 step": print_table(
            "Dashboard() (1 training step): a change", samples["changes at 1 step"], PAGE + TRAINING
        ),
        f"changes at {LONG} steps": print_table(
            f"Dashboard(steps={LONG}): a change (progress bar: tqdm's bar first shows; after end: after the kernel "
            "ended the training)",
            samples[f"changes at {LONG} steps"],
            PAGE + TRAINING + LONG_COLUMNS,
        ),
        "step slider": print_table(
            'Dashboard(snapshots=10, steps=45): the "pictures at step" slider, an arrow key on its handle',
            {"move the step slider": samples["step slider"]},
            PAGE,
        )["move the step slider"],
        "cells": print_table(
            "Running a cell, from the run request to its first live picture (1st canvas paint after it starts); the "
            "kernel: from the request to the cell's start (queued), building the widget (of which training) and "
            "displaying it (its repr, with the still PNG)",
            samples["cells"],
            CELL_COLUMNS,
        ),
    }
    firsts = ", ".join(
        f"{expression} {runs[0]['first_figure_ms']:.0f} ms" for expression, runs in samples["cells"].items()
    )
    print(f"  the first run of each (the first of its kind in the kernel; Dashboard()'s, in the page): {firsts}")
    print("\nThe changes:\n" + "\n".join(f"  {kind}: {what}" for kind, (_, what) in changes().items()))
    return summaries


def print_targets(summaries, samples):
    """Print each target beside its measure; the verdicts."""
    print("\nSummary against the targets (judged by the median)")
    print(f"  {'':54} {'median / p90':>14}  {'target':>8}")
    verdicts = []
    for what, stats, target in targets(summaries, samples):
        met = bool(stats["n"]) and stats["median"] <= target
        verdicts.append({"what": what, "median": stats["median"], "p90": stats["p90"], "target_ms": target, "met": met})
        print(f"  {what:54} {fmt(stats, ' ms'):>14}  {'<= ' + str(target):>8}  {'met' if met else 'MISSED'}")
    return verdicts


def main(argv=None):
    args = parse(argv)
    repo = Path(args.repo).resolve()
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # as conftest.py: one torch thread, here and in the kernels
    if os.environ.get("NBDIAG_DATA_DIR"):  # the kernels run in the served folder: a relative path would not do
        os.environ["NBDIAG_DATA_DIR"] = str(Path(os.environ["NBDIAG_DATA_DIR"]).resolve())
    sys.path[:0] = [str(repo), str(SYSTEM_TESTS)]  # the expected tables from the nbdiag the kernels import

    started = time.monotonic()
    print(
        f"Page-side latency of nbdiag's dashboards in JupyterLab + headless Chromium; kernels import {repo}/nbdiag\n"
        f"{platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start; "
        f"{args.repeats} changes of each kind at 1 step, {args.long_repeats} at {LONG:,} steps"
        + (" (fewer: each is a new training; --long-repeats)" if args.long_repeats < args.repeats else "")
        + "\nms from the input event (key press, click, or a drag's release) in the page, median / 90th percentile;"
        " each change a new run (settings run before come after an untimed change of the seed: the session caches"
        " its runs)"
    )
    samples = measure(repo, args.repeats, args.long_repeats)
    summaries = print_sections(samples)
    verdicts = print_targets(summaries, samples)
    print(f"({time.monotonic() - started:.0f} s; load average {os.getloadavg()[0]:.1f} at the end)")
    if args.json:
        report = {"repo": str(repo), "machine": f"{platform.machine()}, {os.cpu_count()} cores", "drag": DRAG}
        report.update(samples=samples, summaries=summaries, targets=verdicts)
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
