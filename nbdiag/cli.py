"""Command line: `python -m nbdiag tables [options]` prints the lesson's tables; `doctor` checks a machine."""
import argparse
import math
import os
import subprocess
import sys

from . import kernels
from .data import DataError, load_dataset
from .doctor import doctor
from .stats import LESSON_DIGITS, tables
from .train import Config, ConfigError, parse_number, train


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line naming the option, exit status 2, no usage dump
        self.exit(2, f"nbdiag: error: {message}\n")


def _positive(text):
    """argparse type: a positive finite number, fractions like 5/3 allowed (argparse names the option)."""
    try:
        value = parse_number(text, "value")
    except ConfigError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number such as 0.1 or 5/3, got {text!r}")
    return value


def _whole(low):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"must be a whole number >= {low}, got {text!r}")
        return value

    return parse


def make_parser():
    d = Config()
    parser = _Parser(prog="python -m nbdiag", description="Diagnostics of the makemore MLP, as the lesson prints them.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    t = sub.add_parser("tables", help="train, then print the activation, gradient, weight-gradient and update:data tables")
    t.add_argument("--gain", type=_positive, default=d.gain, help="initialization gain, e.g. 5/3 (default 5/3)")
    t.add_argument("--batchnorm", action="store_true", help="a BatchNorm1d after every Linear")
    t.add_argument("--no-tanh", dest="tanh", action="store_false", help="remove the tanh layers (a linear sandwich)")
    t.add_argument("--no-fan-in", dest="fan_in_scaling", action="store_false",
                   help="do not divide initial weights by sqrt(fan_in)")
    t.add_argument("--lr", type=_positive, default=d.lr, help=f"learning rate (default {d.lr})")
    t.add_argument("--steps", type=_whole(1), default=d.steps, help="optimization steps (default 1)")
    t.add_argument("--seed", type=_whole(0), default=d.seed, help=f"generator seed (default {d.seed})")
    t.add_argument("--data", default=None, help="a one-word-per-line file (default: the names data set)")
    sub.add_parser("doctor", help="check this machine before class: versions, widgets, data, CPU kernels, speed")
    return parser


PINNED_MARK = "NBDIAG_KERNELS_PINNED"  # set in the environment of the process the command line re-runs with PINS


def _tables(args):
    pinned = kernels.pinned_environment(kernels.read_cpu(), os.environ)
    if pinned is not None:  # MKL and ATen read them once, when torch loads or first computes: so, a fresh process
        command = [sys.executable, "-m", "nbdiag", "tables", *args.argv]
        return subprocess.run(command, env={**pinned, PINNED_MARK: "1"}).returncode
    try:
        config = Config(gain=args.gain, batchnorm=args.batchnorm, tanh=args.tanh, fan_in_scaling=args.fan_in_scaling,
                        lr=args.lr, steps=args.steps, seed=args.seed)
        dataset = load_dataset(args.data)
    except (ConfigError, DataError) as e:
        print(f"nbdiag: error: {e}", file=sys.stderr)
        return 2
    if os.environ.get(PINNED_MARK):
        print("# kernels: Intel's AVX2 ones (MKL_CBWR=AVX2, ATEN_CPU_CAPABILITY=avx2), set for this command only, "
              "so the figures are the lesson's digit for digit\n")
    run = train(config, dataset)
    print(tables(run, digits=LESSON_DIGITS))
    return 1 if run.diverged_at is not None else 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = make_parser().parse_args(argv)
    args.argv = argv[1:]  # the subcommand's own words, to run it again
    if args.command == "doctor":
        return doctor()
    return _tables(args)
