"""Time the gain sweep (nbdiag.sweep): is a sweep of every gain and depth quick enough to follow a click?

One sweep is 42 gains (0.1 to 4 and calculate_gain's values) through 50 hidden layers of 100 units, one batch of
100 inputs, forward only, read at depths 5, 20 and 50: what the GainSweep widget computes when a student picks an
activation. Run from the repository root:

    python benchmarks/bench_sweep.py [--repeats 5]

Times are wall-clock seconds, the median of the repeats after one warm-up; the sweep runs on one thread by design.
Each line ends with the ratio of that time to the target, TARGET seconds: under 1 is quick enough.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's nbdiag, installed or not
from nbdiag.sweep import DEPTHS, GAINS_SWEPT, SWEPT, sweep_gains  # noqa: E402

TARGET = 1.0  # seconds: a sweep should take less than this


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed sweeps per activation; the median counts")
    args = parser.parse_args(argv)
    print(
        f"torch {torch.__version__}, CPU kernels {torch.backends.cpu.get_cpu_capability()}: "
        f"{len(GAINS_SWEPT)} gains x depths {', '.join(map(str, DEPTHS))}, median of {args.repeats}"
    )
    for activation in SWEPT:
        sweep_gains(activation)  # warm-up: the first call pays for loading kernels
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            sweep_gains(activation)
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        print(f"{activation:>8}: {median:.3f} s, {median / TARGET:.2f} of the {TARGET:g} s target")


if __name__ == "__main__":
    main()
