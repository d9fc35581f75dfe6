"""Runs that go wrong, as the command line, the tables, train and the dashboard report them: diverging (a finite loss
far above its start), diverged (a non-finite loss, or weights an update made non-finite), and a failed redraw."""

import math
import os
import re
import subprocess
import sys

import torch

import nbdiag.health
from nbdiag import Config, kernels, train
from nbdiag.stats import (
    ActivationStats,
    GradientStats,
    WeightGradStats,
    format_activation_table,
    format_gradient_table,
    format_weight_table,
    tables,
)
from nbdiag.widgets import Dashboard


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "nbdiag", "tables", *args], capture_output=True, text=True)


def test_a_diverging_run_exits_nonzero_and_says_from_which_step():
    result = run_cli("--lr", "100", "--steps", "1000")
    assert result.returncode == 1, result.stderr
    assert "diverging from step 1: the loss stayed above 3x its value at step 0" in result.stdout
    assert "lr 100 is probably too large" in result.stdout and "trained" not in result.stdout


def test_weights_made_infinite_by_an_update_exit_nonzero():
    result = run_cli("--lr", "1e308")
    assert result.returncode == 1, result.stderr
    assert "diverged at step 0: its update made the weights inf or nan (lr 1e+308" in result.stdout


def test_a_healthy_run_at_a_large_learning_rate_still_exits_zero():
    result = run_cli("--lr", "1", "--steps", "500")  # lesson 7's overshooting run: its loss ends a little above start
    assert result.returncode == 0 and "trained 500 steps" in result.stdout


def test_a_non_finite_loss_at_step_0_names_the_gain_and_prints_no_figure_of_nan(dataset):
    text = tables(train(Config(gain=1e200), dataset))
    assert "diverged at step 0: the loss was nan before any update (the initial gain 1e+200" in text
    assert "lr 0.1" not in text
    assert "saturated: 0.00%" not in text and text.count("saturated: n/a (outputs not finite)") == 5
    assert "+nan" not in text and "mean nan" in text


def test_a_run_stops_at_the_update_that_made_its_weights_infinite(dataset):
    run = train(Config(lr=1e308, steps=50), dataset)
    assert run.diverged_at == 0 and run.steps_done == 1 and len(run.update_ratios) == 1
    assert not all(torch.isfinite(p.data).all() for p in run.params)
    # the records are the step's, with its layer-output gradients, as a run that ends at that step keeps them
    one = train(Config(lr=1e308, steps=1), dataset)
    assert one.diverged_at == 0 and one.status == run.status
    for mine, theirs in zip(run.layers, one.layers):
        assert mine.grad is not None and torch.equal(mine.grad, theirs.grad) and torch.equal(mine.out, theirs.out)
    assert "update:data log10 nan" in tables(run) and "+nan" not in tables(run)


def test_the_numbers_of_a_healthy_run_are_those_of_before(run):
    # a finite std is the only check a healthy step pays: its numbers and records stay as they were
    assert run.diverged_at is None and run.steps_done == 50 and torch.isfinite(run.update_ratios).all()


def test_tables_print_non_finite_statistics_as_words():
    nan, inf = math.nan, math.inf
    acts = format_activation_table(
        [ActivationStats(1, "Tanh", nan, nan, 0.0), ActivationStats(3, "Linear", inf, inf, 40)]
    )
    assert acts.splitlines() == [
        "layer 1 (      Tanh): mean nan, std nan, saturated: n/a (outputs not finite)",
        "layer 3 (    Linear): mean inf, std inf, saturated: 40.00%",  # finite outputs whose std overflowed
    ]
    assert format_gradient_table([GradientStats(1, "Tanh", -inf, nan)]) == "layer 1 (      Tanh): mean -inf, std nan"
    weight = format_weight_table([WeightGradStats(0, (27, 10), 0.0, 1e-3, inf)])
    assert weight.endswith("grad:data ratio inf") and not re.search(r"\+(nan|inf)", acts + weight)


# -- the dashboard


def test_a_failed_redraw_leaves_the_whole_panel_on_the_run_before(dataset, monkeypatch, ipympl_backend):
    d = Dashboard(dataset=dataset)
    panel = d.panel
    before = {
        name: w.value
        for name, w in (("status", panel.status), ("findings", panel.findings), ("tables", panel.tables_html))
    }
    shown = panel.shown
    real = nbdiag.health.diagnose

    def failing(run):
        if run.config.gain == 3.0:
            raise ZeroDivisionError("float division by zero")
        return real(run)

    monkeypatch.setattr(nbdiag.health, "diagnose", failing)
    panel.controls["gain"].value = 3.0
    (output,) = panel.errors.outputs
    assert output["text"].startswith("the run finished (trained 1 step, final loss")
    still = "but showing it failed; the status, pictures, findings and tables still show the run before it"
    assert still in output["text"]
    assert "ZeroDivisionError" in output["text"]
    assert {"status": panel.status.value, "findings": panel.findings.value, "tables": panel.tables_html.value} == before
    assert panel.shown is shown and panel.session.run is not shown  # the session has the new run; the panel, not
    monkeypatch.undo()
    panel.controls["batchnorm"].value = True  # the next change shows, and clears the error
    assert panel.shown is panel.session.run and not panel.errors.outputs and panel.status.value != before["status"]


def test_the_dashboard_builds_in_its_sliders_corner_under_the_lessons_kernels():
    """Dashboard(lr=10, steps=3000) divided by a gradient of exactly 0, under the kernels the lesson printed with."""
    code = (
        "import matplotlib; matplotlib.use('Agg')\n"
        "from nbdiag.widgets import Dashboard\n"
        "d = Dashboard(lr=10, steps=3000)\n"
        "print(d.panel.status.value)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **kernels.PINS}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "diverging from step 1" in result.stdout
