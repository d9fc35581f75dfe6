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
CHANGES = {  # kind -> what the student does
    "type a gain": "3 or 1.6667 (5/3) typed into the gain slider's readout, Enter",
    "click a gain button": "the next of the gain buttons 0.5, 1, 5/3, 3 clicked",
    "drag the gain slider": f"{DRAG} (to gain 5 or 0.2)",
    "toggle batch norm": "the batch norm box clicked",
}
CELLS = {  # variable -> the timed cell's expression
    "board": "Dashboard()",
    "comparison": "Comparison(dict(gain=1), dict(gain=5/3))",
    "sweep": "GainSweep()",
}


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=str(CHECKOUT), help="the checkout whose nbdiag the kernels import")
    parser.add_argument("--repeats", type=int, default=10, help="changes of each kind (and runs of each cell)")
    parser.add_argument("--long-repeats", type=int, help=f"changes of each kind at {LONG} steps (default: --repeats)")
    parser.add_argument("--json", help="write every sample and summary to this file")
    return parser.parse_args(argv)


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
        changes = [board.type_gain, board.click_preset, board.drag_gain, board.toggle_batchnorm]  # as CHANGES
        samples = {}
        for kind, change in zip(CHANGES, changes, strict=True):  # batch norm last: the gain changes run without it
            log(f"{steps} step(s): {kind} x {repeats}")
            samples[kind] = [change() for _ in range(repeats)]
        trainings = nb.kernel_json("TRAININGS")
        for kind_samples in samples.values():
            for sample in latency.add_trainings(kind_samples, trainings):
                end = sample["train_end_ms"]
                sample["text_after_training_ms"] = round(sample["text_ms"] - end, 1) if end is not None else None
                sample["pictures_after_training_ms"] = (
                    round(sample["last_figure_ms"] - end, 1) if end is not None else None
                )
        assert nb.cell_errors() == [], nb.cell_errors()
        return samples
    finally:
        context.close()


def measure_step_slider(browser, lab, folder, repeats):
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
            for sample in runs:
                sample["beyond_training_ms"] = round(sample["first_figure_ms"] - sample["training_ms"], 1)
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
    from browser.latency import summary

    return {field: summary([sample[field] for sample in samples]) for field in fields}


PAGE_FIELDS = ["text_ms", "first_figure_ms", "last_figure_ms"]
TRAINING_FIELDS = ["train_start_ms", "train_end_ms"]  # a change that re-runs
LONG_FIELDS = ["seen_ms", "text_after_training_ms", "pictures_after_training_ms"]
CELL_FIELDS = ["first_figure_ms", "last_figure_ms", "queued_ms", "build_ms", "training_ms", "display_ms"]
CELL_FIELDS += ["beyond_training_ms"]


def print_changes(title, samples, long=False, trains=True):
    """Print a line per kind of change of `samples` ({kind: samples}); their summaries."""
    fields = PAGE_FIELDS + (TRAINING_FIELDS if trains else []) + (LONG_FIELDS if long else [])
    summaries = {kind: summarize(kind_samples, fields) for kind, kind_samples in samples.items()}
    print(f"\n{title}")
    header = f"  {'change':22} {'n':>3}  {'text':>11}  {'last figure':>11}  {'1st figure':>11}  {'kernel training':>16}"
    print(header + (f"  {'progress bar':>12}  {'text/pictures after training':>28}" if long else ""))
    for kind, s in summaries.items():
        training = (
            f"{s['train_start_ms']['median']:.0f}..{s['train_end_ms']['median']:.0f}"
            if trains and s["train_end_ms"]["n"]
            else "-"
        )
        line = (
            f"  {kind:22} {s['text_ms']['n']:>3}  {fmt(s['text_ms']):>11}  {fmt(s['last_figure_ms']):>11}  "
            f"{fmt(s['first_figure_ms']):>11}  {training:>16}"
        )
        if long:
            after = f"{fmt(s['text_after_training_ms'])} | {fmt(s['pictures_after_training_ms'])}"
            line += f"  {fmt(s['seen_ms']):>12}  {after:>28}"
        print(line)
    return summaries


def print_cells(samples):
    summaries = {expression: summarize(runs, CELL_FIELDS) for expression, runs in samples.items()}
    print("\nRunning a cell, from the run request to its first live picture (first canvas paint after the cell starts)")
    print(
        f"  {'cell':42} {'n':>3}  {'1st picture':>11}  {'(1st run)':>9}  {'all pictures':>12}  {'kernel: queued':>14}  "
        f"{'build':>11}  {'(training)':>10}  {'display':>9}  {'beyond training':>15}"
    )
    for expression, s in summaries.items():
        first_run = samples[expression][0]["first_figure_ms"]
        print(
            f"  {expression:42} {s['first_figure_ms']['n']:>3}  {fmt(s['first_figure_ms']):>11}  {first_run:>9.0f}  "
            f"{fmt(s['last_figure_ms']):>12}  {fmt(s['queued_ms']):>14}  {fmt(s['build_ms']):>11}  "
            f"{s['training_ms']['median']:>10.0f}  {fmt(s['display_ms']):>9}  {fmt(s['beyond_training_ms']):>15}"
        )
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


def main(argv=None):
    args = parse(argv)
    repo = Path(args.repo).resolve()
    long_repeats = args.long_repeats or args.repeats
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # as conftest.py: one torch thread, here and in the kernels
    if os.environ.get("NBDIAG_DATA_DIR"):  # the kernels run in the served folder: a relative path would not do
        os.environ["NBDIAG_DATA_DIR"] = str(Path(os.environ["NBDIAG_DATA_DIR"]).resolve())
    sys.path[:0] = [str(repo), str(SYSTEM_TESTS)]  # the expected tables from the nbdiag the kernels import
    from browser.harness import JupyterLab, launch_chromium
    from playwright.sync_api import sync_playwright

    started = time.monotonic()
    print(
        f"Page-side latency of nbdiag's dashboards in JupyterLab + headless Chromium; kernels import {repo}/nbdiag\n"
        f"{platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start; "
        f"{args.repeats} changes of each kind at 1 step, {long_repeats} at {LONG:,} steps"
        + (" (fewer: --long-repeats)" if long_repeats < args.repeats else "")
        + "\nms from the input event (key press, click, or a drag's release) in the page, median / 90th percentile"
        f"\ndrag: {DRAG}"
    )
    samples = {}
    with tempfile.TemporaryDirectory(prefix="browser-latency-") as tmp, sync_playwright() as playwright:
        folder = Path(tmp) / "made"
        folder.mkdir()
        lab = JupyterLab(Path(tmp) / "lab", repo=repo).start()
        browser = launch_chromium(playwright)
        try:
            samples["changes at 1 step"] = measure_changes(browser, lab, folder, 1, args.repeats)
            samples[f"changes at {LONG} steps"] = measure_changes(browser, lab, folder, LONG, long_repeats)
            samples["step slider"] = measure_step_slider(browser, lab, folder, args.repeats)
            samples["cells"] = measure_cells(browser, lab, folder, args.repeats)
        finally:
            browser.close()
            lab.stop()

    summaries = {
        "changes at 1 step": print_changes("Dashboard() (1 training step): a change", samples["changes at 1 step"]),
        f"changes at {LONG} steps": print_changes(
            f"Dashboard(steps={LONG}): a change (progress bar: when tqdm's bar first shows; text/pictures after "
            "training: ms after the kernel ended the training)",
            samples[f"changes at {LONG} steps"],
            long=True,
        ),
        "step slider": print_changes(
            'Dashboard(snapshots=10, steps=45): the "pictures at step" slider, one arrow key on its handle',
            {"move the step slider": samples["step slider"]},
            trains=False,
        )["move the step slider"],
        "cells": print_cells(samples["cells"]),
    }
    print("\nThe changes: " + "; ".join(f"{kind}: {what}" for kind, what in CHANGES.items()))
    print("\nSummary against the targets (judged by the median)")
    print(f"  {'':54} {'median / p90':>14}  {'target':>8}")
    verdicts = []
    for what, stats, target in targets(summaries, samples):
        ok = stats["n"] and stats["median"] <= target
        verdicts.append({"what": what, "median": stats["median"], "p90": stats["p90"], "target_ms": target, "met": ok})
        print(f"  {what:54} {fmt(stats, ' ms'):>14}  {'<= ' + str(target):>8}  {'met' if ok else 'MISSED'}")
    print(f"({time.monotonic() - started:.0f} s)")
    if args.json:
        report = {"repo": str(repo), "machine": f"{platform.machine()}, {os.cpu_count()} cores", "drag": DRAG}
        report.update(samples=samples, summaries=summaries, targets=verdicts)
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
