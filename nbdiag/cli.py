"""Command line: `python -m nbdiag tables [options]` prints the lesson's tables; `doctor` checks a machine."""

import argparse
import os
import subprocess
import sys
from dataclasses import fields

from . import kernels
from .config import TYPES, Config, ConfigError, expected, format_number, parse_number, valid
from .data import DataError, load_dataset
from .doctor import doctor
from .stats import LESSON_DIGITS, tables
from .train import train


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line naming the option, exit status 2, no usage dump
        self.exit(2, f"nbdiag: error: {message}\n")


def _value(name):
    """argparse type: the text as a value option `name` takes (argparse names the option in its error)."""

    def parse(text):
        try:
            value = parse_number(text, name) if TYPES[name] is float else TYPES[name](text)
        except (ConfigError, ValueError):
            value = None
        if not valid(name, value):
            raise argparse.ArgumentTypeError(f"must be {expected(name)}, got {text!r}")
        return value

    return parse


def make_parser():
    """`tables` takes every Config option that has a flag (config.Option), plus --data."""
    parser = _Parser(prog="python -m nbdiag", description="Diagnostics of the makemore MLP, as the lesson prints them.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    t = sub.add_parser(
        "tables", help="train, then print the activation, gradient, weight-gradient and update:data tables"
    )
    for f in fields(Config):
        option = f.metadata["option"]
        if not option.flag:
            continue
        if f.type is bool:  # a switch: its flag turns the default around
            t.add_argument(
                option.flag,
                dest=f.name,
                action="store_false" if f.default else "store_true",
                help=f"turn off: {option.help}" if f.default else option.help,
            )
        else:
            t.add_argument(
                option.flag,
                dest=f.name,
                type=_value(f.name),
                default=f.default,
                help=f"{option.help} (default {format_number(f.default)})",
            )
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
        config = Config(**{f.name: getattr(args, f.name) for f in fields(Config) if f.metadata["option"].flag})
        dataset = load_dataset(args.data)
    except (ConfigError, DataError) as e:
        print(f"nbdiag: error: {e}", file=sys.stderr)
        return 2
    if os.environ.get(PINNED_MARK):
        print(
            "# kernels: Intel's AVX2 ones (MKL_CBWR=AVX2, ATEN_CPU_CAPABILITY=avx2), set for this command only, "
            "so the figures are the lesson's digit for digit\n"
        )
    run = train(config, dataset)
    print(tables(run, digits=LESSON_DIGITS))
    return 1 if run.diverged_at is not None or run.diverging_from is not None else 0  # the status line says why


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = make_parser().parse_args(argv)
    args.argv = argv[1:]  # the subcommand's own words, to run it again
    try:
        return doctor() if args.command == "doctor" else _tables(args)
    except KeyboardInterrupt:  # Ctrl-C: a line, not a traceback
        print("nbdiag: interrupted", file=sys.stderr)
        return 130
