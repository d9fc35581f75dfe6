"""Kernel-side latency of the dashboard: from a control change to the finished redraw.

For N changes of the full dashboard's gain control (setting `control.value`, as a slider message
does), time the re-run, the update of every picture and table, and the rendering of the new
frames. The dashboard renders synchronously: when the change returns, every figure's frame has been
rendered (in full, or only its lines over a saved background while the axes keep their limits) and
PNG-encoded for the page. As a worst case, each change is then followed by a forced, synchronous
`fig.canvas.draw()` of every figure (a full render + encode, as when the page asks for a new frame).

Two kinds of change: the gain slider dragged from 1 to 3 (steps of 0.04, as a drag sends them), and
the lesson's gain presets clicked in turn (jumps: 0.5, 1, 5/3, 3). Prints the median and the 90th
percentile of each, at 1 step and at 1,000 steps. The target: a median under 150 ms at 1 step.

    NBDIAG_DATA_DIR=../shared/data python benchmarks/widget_latency.py [--changes 50] [--steps 1 1000]
"""

import argparse
import os
import time

import matplotlib

matplotlib.use("module://ipympl.backend_nbagg")  # the lessons' backend; outside a kernel its messages go nowhere

import numpy as np  # noqa: E402

from nbdiag.activations import LESSON_GAINS  # noqa: E402
from nbdiag.session import shared_dataset  # noqa: E402
from nbdiag.widgets import Dashboard  # noqa: E402

TARGET_MS = 150  # median at 1 step


def drag(changes):
    return [round(1 + 0.04 * (i % 50 + 1), 2) for i in range(changes)]  # 1.04 ... 3.0


def presets(changes):
    values = list(LESSON_GAINS.values())
    return [values[(i + 1) % len(values)] for i in range(changes)]  # each differs from the one before


def measure(steps, gains, dataset):
    """Per change, in ms: (control change -> dashboard redrawn, then a forced full draw of every figure, CPU time)."""
    dashboard = Dashboard(steps=steps, dataset=dataset)
    canvases = [figure.canvas for figure in dashboard.figures.values()]
    for canvas in canvases:
        canvas.syncing_data_url = False  # as once the page shows the figure: only the changed pixels are encoded
    times = []
    for gain in gains:
        start, start_cpu = time.perf_counter(), time.thread_time()
        dashboard.panel.controls["gain"].value = gain
        redrawn, cpu = time.perf_counter(), time.thread_time() - start_cpu
        for canvas in canvases:
            canvas.draw()
        times.append((redrawn - start, time.perf_counter() - redrawn, cpu))
    assert dashboard.panel.session.run.config.gain == gains[-1], "the last change was not run"
    dashboard.close()
    return np.array(times) * 1000  # (changes, 3)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 1000])
    args = parser.parse_args(argv)
    dataset = shared_dataset()
    print(
        f"kernel-side latency over {args.changes} changes, control change -> full dashboard redrawn "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    for steps in args.steps:
        for pattern in (drag, presets):
            ms = measure(steps, pattern(args.changes), dataset)
            redraw, forced = ms[:, 0], ms[:, 0] + ms[:, 1]
            line = (
                f"{steps:>5} step{'s' if steps > 1 else ' '}, gain {pattern.__name__:7}: "
                f"median {np.median(redraw):6.1f} ms, 90th percentile {np.percentile(redraw, 90):6.1f} ms "
                f"(CPU {np.median(ms[:, 2]):5.1f} ms) | with a forced full draw: "
                f"median {np.median(forced):6.1f} ms, 90th percentile {np.percentile(forced, 90):6.1f} ms"
            )
            if steps == 1:
                line += f" | median / {TARGET_MS} ms target: {np.median(redraw) / TARGET_MS:.2f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
