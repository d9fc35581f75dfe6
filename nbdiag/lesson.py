"""The lesson's published tables, and how the tables a run prints compare with them, figure by figure."""

import re
from dataclasses import dataclass

# Copied from the lesson's text: the rows it prints for the watched layers and the weights.
GAIN_5_3_ACTIVATIONS = """
layer 1 (tanh): mean -0.02, std 0.75, saturated: 20.25%
layer 3 (tanh): mean -0.00, std 0.69, saturated: 8.38%
layer 5 (tanh): mean +0.00, std 0.67, saturated: 6.62%
layer 7 (tanh): mean -0.01, std 0.66, saturated: 5.47%
layer 9 (tanh): mean -0.02, std 0.66, saturated: 6.12%
"""
GAIN_1_ACTIVATIONS = """
layer 1 (tanh): mean -0.02, std 0.62, saturated: 3.50%
layer 3 (tanh): mean -0.00, std 0.48, saturated: 0.03%
layer 5 (tanh): mean +0.00, std 0.41, saturated: 0.06%
layer 7 (tanh): mean +0.00, std 0.35, saturated: 0.00%
layer 9 (tanh): mean -0.02, std 0.32, saturated: 0.00%
"""
GAIN_3_ACTIVATIONS = """
layer 1 ( tanh): mean -0.03, std 0.85, saturated: 47.66%
layer 3 ( tanh): mean +0.00, std 0.84, saturated: 40.47%
layer 5 ( tanh): mean -0.01, std 0.84, saturated: 42.38%
layer 7 ( tanh): mean -0.01, std 0.84, saturated: 42.00%
layer 9 ( tanh): mean -0.03, std 0.84, saturated: 42.41%
"""
GAIN_0_5_ACTIVATIONS = """
layer 1 ( tanh): mean -0.01, std 0.41, saturated: 0.00%
layer 3 ( tanh): mean -0.00, std 0.20, saturated: 0.00%
layer 5 ( tanh): mean +0.00, std 0.10, saturated: 0.00%
layer 7 ( tanh): mean +0.00, std 0.05, saturated: 0.00%
layer 9 ( tanh): mean -0.00, std 0.02, saturated: 0.00%
"""
GAIN_5_3_GRADIENTS = """
layer 1 ( tanh): mean +0.000010, std 4.205588e-04
layer 3 ( tanh): mean -0.000003, std 3.991179e-04
layer 5 ( tanh): mean +0.000003, std 3.743020e-04
layer 7 ( tanh): mean +0.000015, std 3.290473e-04
layer 9 ( tanh): mean -0.000014, std 3.054035e-04
"""
GAIN_3_GRADIENTS = """
layer 1 ( tanh): mean -0.000001, std 9.977493e-04
layer 3 ( tanh): mean +0.000010, std 7.421208e-04
layer 5 ( tanh): mean +0.000003, std 5.569782e-04
layer 7 ( tanh): mean +0.000017, std 3.952166e-04
layer 9 ( tanh): mean -0.000014, std 3.051525e-04
"""
GAIN_0_5_GRADIENTS = """
layer 1 ( tanh): mean +0.000000, std 1.892402e-05
layer 3 ( tanh): mean -0.000001, std 3.943546e-05
layer 5 ( tanh): mean +0.000004, std 8.035369e-05
layer 7 ( tanh): mean +0.000009, std 1.561152e-04
layer 9 ( tanh): mean -0.000014, std 3.053498e-04
"""
NO_TANH_ACTIVATIONS = """
layer 0 ( Linear): mean -0.04, std 1.65, saturated: 55.12%
layer 1 ( Linear): mean -0.04, std 2.72, saturated: 71.78%
layer 2 ( Linear): mean -0.00, std 4.67, saturated: 81.31%
layer 3 ( Linear): mean +0.09, std 7.50, saturated: 91.19%
layer 4 ( Linear): mean -0.72, std 12.78, saturated: 93.69%
"""
NO_TANH_GRADIENTS = """
layer 0 ( Linear): mean +0.000053, std 2.619185e-03
layer 1 ( Linear): mean -0.000006, std 1.583188e-03
layer 2 ( Linear): mean +0.000043, std 9.519162e-04
layer 3 ( Linear): mean +0.000019, std 5.457934e-04
layer 4 ( Linear): mean -0.000013, std 3.161244e-04
"""
WEIGHTS_GAIN_5_3 = """
weight (27, 10) | mean -0.000031 | std 1.365078e-03 | grad:data ratio 1.364090e-03
weight (30, 100) | mean -0.000049 | std 1.207430e-03 | grad:data ratio 3.871660e-03
weight (100, 100) | mean +0.000016 | std 1.096730e-03 | grad:data ratio 6.601988e-03
weight (100, 100) | mean -0.000010 | std 9.893572e-04 | grad:data ratio 5.893091e-03
weight (100, 100) | mean -0.000011 | std 8.623432e-04 | grad:data ratio 5.158124e-03
weight (100, 100) | mean -0.000004 | std 7.388576e-04 | grad:data ratio 4.415211e-03
weight (100, 27) | mean -0.000000 | std 2.364824e-02 | grad:data ratio 2.328203e+00
"""
BATCHNORM_ACTIVATIONS = """
layer 2 ( tanh): mean -0.00, std 0.63, saturated: 2.62%
layer 5 ( tanh): mean +0.00, std 0.64, saturated: 2.47%
layer 8 ( tanh): mean -0.00, std 0.64, saturated: 2.16%
layer 11 ( tanh): mean +0.00, std 0.65, saturated: 1.81%
layer 14 ( tanh): mean -0.00, std 0.65, saturated: 1.78%
"""
BATCHNORM_GRADIENTS = """
layer 2 ( tanh): mean -0.000000, std 3.682961e-03
layer 5 ( tanh): mean -0.000000, std 3.262612e-03
layer 8 ( tanh): mean +0.000000, std 2.973734e-03
layer 11 ( tanh): mean +0.000000, std 2.741114e-03
layer 14 ( tanh): mean +0.000000, std 2.584295e-03
"""


@dataclass(frozen=True)
class LessonCase:
    """One setup of the lesson and the tables it printed for it."""

    options: tuple  # the command line's options for the run, e.g. ('--gain', '3')
    tables: tuple  # the lesson's tables (text) for that run
    one_step: bool  # a single step: no long run has amplified the kernels' rounding


CASES = {
    "gain 5/3": LessonCase(("--gain", "5/3"), (GAIN_5_3_ACTIVATIONS, GAIN_5_3_GRADIENTS, WEIGHTS_GAIN_5_3), True),
    "gain 1": LessonCase(("--gain", "1"), (GAIN_1_ACTIVATIONS,), True),
    "gain 3": LessonCase(("--gain", "3"), (GAIN_3_ACTIVATIONS, GAIN_3_GRADIENTS), True),
    "gain 0.5": LessonCase(("--gain", "0.5"), (GAIN_0_5_ACTIVATIONS, GAIN_0_5_GRADIENTS), True),
    "linear sandwich": LessonCase(
        ("--activation", "linear", "--gain", "5/3"), (NO_TANH_ACTIVATIONS, NO_TANH_GRADIENTS), True
    ),
    "batchnorm 1001 steps": LessonCase(
        ("--batchnorm", "--steps", "1001"), (BATCHNORM_ACTIVATIONS, BATCHNORM_GRADIENTS), False
    ),
}

NUMBER = re.compile(r"[-+]?\d+\.\d+(?:e[-+]\d+)?")


@dataclass(frozen=True)
class Figure:
    """One printed number next to the lesson's."""

    row: str  # 'layer 1' or 'weight (27, 10)'
    ours: str
    lesson: str

    @property
    def scientific(self):
        """An %e figure, whose last digit depends on the CPU's kernels."""
        return "e" in self.lesson

    @property
    def last_digit_units(self):
        """How far apart the two are, in units of the lesson's last printed digit (fixed-point: a zero's sign
        aside, since the sign of a mean that rounds to zero is the CPU's)."""
        if not self.scientific:
            return round(abs(float(self.ours) - float(self.lesson)) * 10 ** len(self.lesson.split(".")[1]))
        (m1, e1), (m2, e2) = self.ours.split("e"), self.lesson.split("e")
        if e1 != e2:
            return float("inf")
        return round(abs(float(m1) - float(m2)) * 10 ** len(m2.split(".")[1]))


def _row(line):
    """What identifies a row: 'layer 1' or 'weight (27, 10)' (the lesson spells the class names its own way)."""
    return re.sub(r"\s+", " ", re.match(r"(layer\s+\d+|weight\s+\([\d, ]+\))", line).group(1))


def _table(line):
    """Which table a row belongs to: 'activation', 'gradient', 'weight' or 'update'."""
    for table, mark in [("activation", "saturated"), ("weight", "grad:data"), ("update", "update:data")]:
        if mark in line:
            return table
    return "gradient"


def compare(printed, case):
    """Every figure of the lesson's tables for `case` next to the one in `printed` (the command line's output).
    Raises ValueError when a row is missing or has other figures, as no number can stand in for it."""
    rows = [line for line in printed.splitlines() if line.startswith(("layer", "weight"))]
    figures = []
    for table in CASES[case].tables:
        lesson_rows = table.strip().splitlines()
        our_rows = [line for line in rows if _table(line) == _table(lesson_rows[0])]
        if [_row(r) for r in our_rows] != [_row(r) for r in lesson_rows]:
            raise ValueError(
                f"{case}: printed rows {[_row(r) for r in our_rows]}, the lesson's {[_row(r) for r in lesson_rows]}"
            )
        for ours_row, lesson_row in zip(our_rows, lesson_rows):
            ours, lesson = NUMBER.findall(ours_row), NUMBER.findall(lesson_row)
            if "Linear): " in ours_row and ours_row.endswith("saturated: n/a") and len(lesson) == len(ours) + 1:
                # the lesson counts |t| > 0.97 of a Linear layer as saturated; nbdiag says n/a, as a Linear layer has
                # no flat part (activations.rule): its mean and std are still compared
                lesson = lesson[:-1]
            if len(ours) != len(lesson):
                raise ValueError(f"{case}: {ours_row!r} does not have the figures of {lesson_row!r}")
            figures += [Figure(_row(lesson_row), o, l) for o, l in zip(ours, lesson)]
    return figures
