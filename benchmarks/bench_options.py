"""What Adam and residual connections cost: a 1,000-step run of each against the lecture's plain run.

    NBDIAG_DATA_DIR=/work/shared/data python benchmarks/bench_options.py [--steps 1000] [--repeats 5]

Times are wall-clock seconds of `nbdiag.train`, the median of runs that take turns (so a drift in the
machine's load hits every setup alike); the last lines are each setup's time over the plain run's.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's nbdiag, installed or not
from nbdiag import Config, load_dataset, train  # noqa: E402

SETUPS = {
    "plain (sgd)": dict(),
    "adam": dict(optimizer="adam", lr=1e-3),
    "residual": dict(residual=True),
    "residual + batchnorm": dict(residual=True, batchnorm=True),
    "batchnorm": dict(batchnorm=True),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000, help="training steps per run (default 1000)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each setup; the median counts")
    args = parser.parse_args(argv)
    dataset = load_dataset()
    configs = {name: Config(steps=args.steps, **setup) for name, setup in SETUPS.items()}
    for config in configs.values():  # warm up
        train(config, dataset, progress=False)
    times = {name: [] for name in configs}
    for r in range(args.repeats):
        names = list(configs) if r % 2 == 0 else list(configs)[::-1]
        for name in names:
            start = time.perf_counter()
            train(configs[name], dataset, progress=False)
            times[name].append(time.perf_counter() - start)
    print(f"{args.steps} steps, median wall time of {args.repeats} runs taking turns")
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, t in times.items():
        print(f"{name}: {medians[name]:.3f}s ({' '.join(f'{x:.3f}' for x in t)})")
    plain = medians["plain (sgd)"]
    for name, median in medians.items():
        if name != "plain (sgd)":
            print(f"ratio {name} / plain: {median / plain:.2f}")


if __name__ == "__main__":
    main()
