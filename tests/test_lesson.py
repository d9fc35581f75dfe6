"""nbdiag.lesson: the lesson's tables, and the figure-by-figure comparison with what a run prints."""

import pytest

from nbdiag.lesson import CASES, GAIN_1_ACTIVATIONS, NO_TANH_GRADIENTS, Figure, compare

# as nbdiag prints the lesson's gain-1 table, its last figure one unit of its last digit away
GAIN_1_PRINTED = GAIN_1_ACTIVATIONS.replace("(tanh)", "(      Tanh)").replace(
    "0.32, saturated: 0.00%", "0.32, saturated: 0.01%"
)


def test_compare_pairs_every_figure_with_the_lessons():
    figures = compare(GAIN_1_PRINTED, "gain 1")
    assert len(figures) == 5 * 3 and figures[0] == Figure("layer 1", "-0.02", "-0.02")
    assert [f.last_digit_units for f in figures if f.row == "layer 9"] == [0, 0, 1]  # 0.01% against 0.00%


def test_rows_padded_for_a_deep_table_still_match_the_lessons():
    padded = GAIN_1_PRINTED.replace("layer ", "layer  ")  # as a table with a layer 10 or more lays them out
    assert [f.ours for f in compare(padded, "gain 1")] == [f.ours for f in compare(GAIN_1_PRINTED, "gain 1")]


def test_a_missing_row_is_an_error_not_a_match():
    with pytest.raises(ValueError, match="printed rows"):
        compare("\n".join(GAIN_1_PRINTED.strip().splitlines()[:-1]), "gain 1")


def test_a_row_with_other_figures_is_an_error():
    with pytest.raises(ValueError, match="does not have the figures"):
        compare(GAIN_1_PRINTED.replace("mean -0.02, std 0.62", "mean -0.02"), "gain 1")


def test_scientific_figures_count_units_of_their_last_digit():
    assert Figure("layer 1", "4.205591e-04", "4.205588e-04").last_digit_units == 3
    assert Figure("layer 1", "4.205588e-05", "4.205588e-04").last_digit_units == float("inf")


def test_every_case_has_tables_and_says_whether_it_is_one_step():
    assert all(case.tables and isinstance(case.one_step, bool) for case in CASES.values())
    assert not CASES["batchnorm 1001 steps"].one_step and CASES["gain 5/3"].one_step


def test_a_linear_layers_n_a_is_compared_on_its_mean_and_std():
    printed = "\n".join(
        f"layer {i} (    Linear): mean {m}, std {sd}, saturated: n/a"
        for i, m, sd in [(0, "-0.04", "1.65"), (1, "-0.04", "2.72"), (2, "-0.00", "4.67"), (3, "+0.09", "7.50")]
    )
    printed += "\nlayer 4 (    Linear): mean -0.72, std 12.78, saturated: n/a\n" + NO_TANH_GRADIENTS.strip()
    figures = [f for f in compare(printed, "linear sandwich") if "e" not in f.lesson]
    assert len(figures) == 5 * 2 + 5 and all(f.last_digit_units == 0 for f in figures)  # mean, std; gradient means
