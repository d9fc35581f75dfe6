"""Settings that every test process, and every notebook kernel it starts, inherits."""

import os
from pathlib import Path

# one torch thread per process: with two xdist workers on two cores, extra threads only spin-wait
os.environ.setdefault("OMP_NUM_THREADS", "1")
# notebook kernels run in notebooks/, so a relative data path would point elsewhere
if os.environ.get("NBDIAG_DATA_DIR"):
    os.environ["NBDIAG_DATA_DIR"] = str(Path(os.environ["NBDIAG_DATA_DIR"]).resolve())


def pytest_configure(config):
    """Check the lessons with nbval, as `--nbval --nbval-sanitize-with notebooks/nbval_sanitize.cfg` would: set on
    nbval's own options (their dests in nbval 0.11's plugin), so that no unit-test run needs nbval's flags."""
    if config.pluginmanager.hasplugin("nbval"):
        config.option.nbval = True
        config.option.nbval_sanitize_with = str(Path(__file__).parent / "notebooks" / "nbval_sanitize.cfg")
