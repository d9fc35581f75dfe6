"""In a real JupyterLab in a real Chromium, the dashboard's page answers without a gross regression: a page gone
three times slower fails, not a busy machine. benchmarks/browser_latency.py measures every kind of change against
the issue's targets, with the same code (browser/latency.py); the samples of this test go to
test-artifacts/latency_regression.json.

The limits are three times what the page takes today on a 2-core machine, not three times the targets (100 ms to
the last figure for a typed gain, 300 ms from a Dashboard() cell to its first live picture beyond its training):
today's page misses those targets (about 350 ms and 900 ms at a load of 2), so limits at three times the targets
would fail on every run. A regression like 6c9d1b6's (the page three times slower) still fails them.
"""

import json
import statistics

from browser import latency

pytest_plugins = ["browser.harness"]  # fixtures: open_notebook, artifacts (one server and browser per session)

TYPINGS = 5  # gains typed into a 1-step Dashboard(), each a new run
CELL_RUNS = 3  # runs of its Dashboard() cell
TYPING_LIMIT_MS = 3 * 350  # median, key press to the last figure's repaint: today about 350 ms (target: 100)
CELL_LIMIT_MS = 3 * 900  # median, cell run to the first live picture beyond its training: today about 900 (target: 300)
QUIET = 0.5  # s without a repaint before and after each change: a 1-step change's repaints come closer together


def test_typing_a_gain_and_running_a_dashboard_cell_are_not_grossly_slower(open_notebook, artifacts, tmp_path):
    nb = open_notebook(latency.dashboard_notebook(tmp_path / "latency.ipynb"))
    for index in range(latency.FIRST_WIDGET_CELL):  # `%matplotlib widget` and the setup
        nb.run_cell(index)
    cells = [latency.time_cell(nb, latency.FIRST_WIDGET_CELL, quiet=QUIET) for _ in range(CELL_RUNS)]  # 1st: cold
    latency.add_cell_times(cells, nb.kernel_json("CELLS"), nb.kernel_json("TRAININGS"))
    board = latency.Board(nb, steps=1, quiet=QUIET)
    typed = [board.type_gain() for _ in range(TYPINGS)]
    assert nb.cell_errors() == []

    typing = statistics.median(sample["last_figure_ms"] for sample in typed)
    beyond = statistics.median(sample["beyond_training_ms"] for sample in cells)
    (artifacts / "latency_regression.json").write_text(
        json.dumps({"typing a gain": typed, "running the Dashboard() cell": cells}, indent=2) + "\n"
    )
    assert typing <= TYPING_LIMIT_MS, (
        f"typing a gain into a 1-step Dashboard(): its last figure repainted {typing:.0f} ms after the key press "
        f"(median of {TYPINGS}), over {TYPING_LIMIT_MS} ms, three times today's"
    )
    assert beyond <= CELL_LIMIT_MS, (
        f"running a Dashboard() cell: its first live picture painted {beyond:.0f} ms beyond its training (median of "
        f"{CELL_RUNS}), over {CELL_LIMIT_MS} ms, three times today's"
    )
