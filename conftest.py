"""Settings that every test process, and every notebook kernel it starts, inherits."""
import os
from pathlib import Path

# one torch thread per process: with two xdist workers on two cores, extra threads only spin-wait
os.environ.setdefault("OMP_NUM_THREADS", "1")
# notebook kernels run in notebooks/, so a relative data path would point elsewhere
if os.environ.get("NBDIAG_DATA_DIR"):
    os.environ["NBDIAG_DATA_DIR"] = str(Path(os.environ["NBDIAG_DATA_DIR"]).resolve())
