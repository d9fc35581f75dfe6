"""The command line reproduces every table of the lesson that its own setup determines, on any CPU."""

import functools
import os
import re
import subprocess
import sys

import pytest

from nbdiag import kernels
from nbdiag.lesson import CASES, Figure, compare
from nbdiag.stats import LESSON_DIGITS, STABLE_DIGITS

# How we know where the digits are exact: the lesson's tables came from Intel's AVX2 kernels (MKL and ATen), which
# the command line pins on an Intel x86 CPU with AVX2 unless the environment chose other kernels. Elsewhere (AMD,
# whose MKL ignores MKL_CBWR; ARM, which has no MKL; other kernels chosen by hand) the 7th digit of an %e figure
# may differ. Measured on an AMD EPYC: up to 3 units after one step, and up to 12 after batchnorm's 1001 steps
# (with ATEN_CPU_CAPABILITY=default). After 1001 steps even Intel's own differ by 1 or 2 units from the lesson,
# whose torch rounded its 1001 steps differently.
EXACT_HERE = kernels.reproduces_lesson(kernels.read_cpu(), os.environ)
UNITS_ONE_STEP = 5  # the largest difference allowed in the last %e digit after one step, where it is not exact
UNITS_LONG_RUN = 25  # after 1001 steps


@functools.cache
def printed(options):
    """What `python -m nbdiag tables` prints for these options."""
    return subprocess.run(
        [sys.executable, "-m", "nbdiag", "tables", *options], capture_output=True, text=True, check=True
    ).stdout


def allowed_units(figure, one_step):
    """How far a figure may be from the lesson's, in units of its last printed digit."""
    if not figure.scientific:
        return 0  # fixed-point figures are the lesson's on every CPU (a zero's sign aside, see Figure)
    if one_step:
        return 0 if EXACT_HERE else UNITS_ONE_STEP
    return UNITS_LONG_RUN


@pytest.mark.parametrize("case", CASES)
def test_command_line_reproduces_the_lesson(case):
    one_step = CASES[case].one_step
    for figure in compare(printed(CASES[case].options), case):
        assert figure.last_digit_units <= allowed_units(figure, one_step), (
            f"{figure.row}: ours {figure.ours}, the lesson's {figure.lesson}"
        )


def test_the_command_line_says_when_it_pins_the_kernels():
    """Only where the pins give the lesson's digits, and only in its own process: said in one line."""
    text = printed(CASES["gain 5/3"].options)
    pinned = kernels.pinned_environment(kernels.read_cpu(), os.environ) is not None
    assert text.startswith("# kernels: Intel's AVX2 ones") == pinned, text.splitlines()[0]


# Every %e figure the lessons print: the one-step runs above, lesson 6's 1001 steps and lesson 8's batchnorm.
LESSON_RUNS = [case.options for case in CASES.values()] + [("--steps", "1001")]
EDGE_MARGIN = 50  # units of the 7th digit: twice the largest difference between CPUs measured after 1001 steps


@pytest.mark.parametrize("options", LESSON_RUNS, ids=" ".join)
def test_the_lessons_three_digits_are_far_from_a_rounding_edge(options):
    """Rounded to STABLE_DIGITS, a figure prints the same on a CPU whose 7th digit differs by less than the margin."""
    figures = re.findall(r"(\d\.\d{6})e[-+]\d\d", printed(options))
    assert len(figures) >= 10
    for figure in figures:
        rest = int(figure.replace(".", "")[STABLE_DIGITS:])  # the digits after the ones the lessons print
        half = 5 * 10 ** (LESSON_DIGITS - STABLE_DIGITS - 1)
        assert abs(rest - half) >= EDGE_MARGIN, f"{figure} rounds to {STABLE_DIGITS} digits too close to the edge"


def test_a_figure_counts_its_distance_in_units_of_the_last_digit():
    assert Figure("layer 1", "9.977490e-04", "9.977493e-04").last_digit_units == 3
    assert Figure("layer 1", "9.977493e-05", "9.977493e-04").last_digit_units == float("inf")
    assert Figure("layer 1", "-0.02", "-0.02").last_digit_units == 0
    assert Figure("layer 1", "-0.02", "-0.03").last_digit_units == 1
    assert Figure("layer 1", "+0.000000", "-0.000000").last_digit_units == 0  # the sign of a zero is the CPU's
    assert Figure("layer 1", "+0.000001", "-0.000001").last_digit_units == 2


def test_a_missing_or_changed_row_is_an_error():
    text = printed(CASES["gain 3"].options)
    with pytest.raises(ValueError, match="rows"):
        compare(text.replace("layer 9", "layer 8"), "gain 3")
    with pytest.raises(ValueError, match="figures"):
        compare(text.replace("saturated: 42.41%", "saturated: n/a"), "gain 3")
