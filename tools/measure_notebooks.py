"""Run every lesson notebook under nbval as the test suite does, and print its wall time and each kernel's peak memory.

    NBDIAG_DATA_DIR=/path/to/folder/with/names.txt python tools/measure_notebooks.py [-n 2]

Peak memory is the kernel's VmHWM (the most resident memory it ever held), read from /proc (Linux)
while the kernels run. Targets: the suite under 120 s on a 2-core machine, every kernel under 600 MB.
"""

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIME_LIMIT_S, MEMORY_LIMIT_MB = 120, 600


def kernel_peaks_mb():
    """pid -> peak resident MB of every running ipykernel process."""
    peaks = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if b"ipykernel" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:  # the process ended meanwhile
            continue
        hwm = next((line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")), None)
        if hwm is not None:
            peaks[int(pid)] = int(hwm) / 1024
    return peaks


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", default="2", help="pytest-xdist workers (default 2; 0 runs in one process)")
    args = parser.parse_args(argv)
    if not os.environ.get("NBDIAG_DATA_DIR"):
        sys.exit("set NBDIAG_DATA_DIR to a folder holding names.txt")
    already = set(kernel_peaks_mb())  # kernels of something else running on this machine
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-n",
        args.n,
        "--dist",
        "loadfile",
        "--nbval",
        "--nbval-sanitize-with",
        "notebooks/nbval_sanitize.cfg",
        "notebooks",
    ]
    peaks, done = {}, threading.Event()

    def watch():
        while not done.is_set():
            for pid, mb in kernel_peaks_mb().items():
                if pid not in already:
                    peaks[pid] = max(mb, peaks.get(pid, 0))
            time.sleep(0.2)

    watcher = threading.Thread(target=watch)
    watcher.start()
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT)
    seconds = time.perf_counter() - start
    done.set()
    watcher.join()
    print(f"suite: {seconds:.1f} s wall (target < {TIME_LIMIT_S} s), pytest exit code {result.returncode}")
    print(f"kernels: {len(peaks)}, peak memory each (MB): {', '.join(f'{mb:.0f}' for mb in sorted(peaks.values()))}")
    print(f"largest kernel peak: {max(peaks.values(), default=0):.0f} MB (target < {MEMORY_LIMIT_MB} MB)")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
