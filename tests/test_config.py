"""Every option, whatever a student types: a value it takes, or one line naming the option. Property-based."""

import contextlib
import io
import math
import numbers
import signal
import subprocess
import sys
import time
from dataclasses import fields
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbdiag import cli
from nbdiag.config import OPTIONS, TYPES, Config, ConfigError

ANYTHING = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.fractions(),
    st.integers(min_value=-(2**31), max_value=2**31).map(np.int64),
    st.floats(width=32).map(np.float32),
    st.lists(st.integers(), max_size=3),
    st.sampled_from(["tanh", "relu", "gelu", "sigmoid", "linear", "sgd", "adam", "ReLU", " tanh"]),
)
FLAGS = {f.metadata["option"].flag: f.name for f in fields(Config) if f.metadata["option"].flag}
VALUED_FLAGS = [flag for flag, name in FLAGS.items() if TYPES[name] is not bool]


def takes(name, value):
    """What the option should accept, written independently of nbdiag's own check."""
    option, kind = Config.option(name), TYPES[name]
    if kind is bool:
        return isinstance(value, bool)
    if kind is str:
        return isinstance(value, str) and value in option.choices
    if isinstance(value, bool) or isinstance(value, list):
        return False
    if kind is float:
        if name == "gain" and isinstance(value, str):
            return False  # tested apart: gain parses fractions like '5/3'
        return isinstance(value, numbers.Real) and 0 < float(value) < math.inf
    high = math.inf if option.high is None else option.high
    return isinstance(value, numbers.Integral) and option.low <= value <= high


@pytest.mark.parametrize("name", OPTIONS)
@settings(max_examples=80, deadline=None)
@given(value=ANYTHING)
def test_a_config_takes_a_valid_value_or_names_the_option_in_one_line(name, value):
    if name == "gain" and isinstance(value, str):
        return
    try:
        config = Config(**{name: value})
    except ConfigError as e:
        assert not takes(name, value), f"{name}={value!r} refused: {e}"
        assert str(e).startswith(f"{name} must be") and "\n" not in str(e) and len(str(e)) < 200
    else:
        assert takes(name, value), f"{name}={value!r} accepted"
        stored = getattr(config, name)
        assert type(stored) is TYPES[name] and stored == TYPES[name](value)  # numpy numbers, fractions: Python types


@settings(max_examples=60, deadline=None)
@given(text=st.one_of(st.text(max_size=12), st.fractions(min_value=-10, max_value=10).map(str)))
def test_the_gain_parses_fractions_or_says_what_it_takes(text):
    try:
        gain = Config(gain=text).gain
    except ConfigError as e:
        assert str(e).startswith("gain must be") and "\n" not in str(e)
    else:
        assert gain == float(Fraction(text.strip())) and gain > 0


@pytest.mark.parametrize("flag", VALUED_FLAGS)
@settings(max_examples=60, deadline=None)
@given(text=st.one_of(st.text(max_size=12), st.integers(-(10**40), 10**40).map(str), st.floats().map(str)))
def test_the_command_line_parses_an_option_or_names_it_in_one_line(flag, text):
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            args = cli.make_parser().parse_args(["tables", flag, text])
        except SystemExit as exit:
            assert exit.code == 2
            message = stderr.getvalue()
            assert message.startswith(f"nbdiag: error: argument {flag}:") and message.count("\n") == 1
            return
    name = FLAGS[flag]
    assert Config(**{name: getattr(args, name)})  # what it parsed, the config takes


def test_steps_beyond_the_maximum_are_refused_before_any_memory_is_taken():
    for steps in ("100001", str(10**9), str(10**30)):
        result = subprocess.run(
            [sys.executable, "-m", "nbdiag", "tables", "--steps", steps], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 2 and result.stderr.count("\n") == 1 and "--steps" in result.stderr


def test_ctrl_c_stops_the_command_line_with_a_line_not_a_traceback():
    process = subprocess.Popen(
        [sys.executable, "-m", "nbdiag", "tables", "--steps", "100000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        seen = b""
        deadline = time.monotonic() + 120
        while b"training" not in seen and time.monotonic() < deadline:  # the progress bar: training has begun
            seen += process.stderr.read1(4096)
        assert b"training" in seen, seen
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=60)
    finally:
        process.kill()
    stderr = (seen + rest).decode()
    assert process.returncode == 130 and "Traceback" not in stderr and "interrupted" in stderr, stderr
