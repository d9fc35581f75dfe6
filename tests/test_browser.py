"""In a real JupyterLab in a real Chromium, the dashboard answers the gain slider and the batch norm box with
the lesson's numbers; screenshots and page-side latencies go to test-artifacts/."""
import json
import os
import platform
from pathlib import Path

from nbdiag import Config, train
from nbdiag.stats import (activation_stats, format_activation_table, format_gradient_table, format_weight_table,
                          gradient_stats, weight_grad_stats)

pytest_plugins = ["browser.harness"]  # fixtures: open_notebook, artifacts (one server and browser per session)

DASHBOARD = Path(__file__).parent / "browser" / "dashboard.ipynb"
SEED_GAIN_3 = "layer 1 (      Tanh): mean -0.03, std 0.85, saturated: 47.66%"  # the lesson's gain-3 table


def expected_lines(dataset, **config):
    """The activation, gradient and weight-gradient table lines the command line prints for this config."""
    run = train(Config(**config), dataset)
    text = "\n".join([format_activation_table(activation_stats(run)), format_gradient_table(gradient_stats(run)),
                      format_weight_table(weight_grad_stats(run))])
    return text.splitlines()


def assert_shows(nb, lines):
    shown = {line.rstrip() for line in nb.output_text().splitlines()}
    missing = [line for line in lines if line not in shown]
    assert not missing, "the page does not show:\n" + "\n".join(missing)


def test_dashboard_in_jupyterlab(open_notebook, artifacts, dataset):
    default = expected_lines(dataset)
    gain_3 = expected_lines(dataset, gain=3)
    gain_3_bn = expected_lines(dataset, gain=3, batchnorm=True)
    assert SEED_GAIN_3 in gain_3  # the library still reproduces the lesson
    assert gain_3_bn[0] not in gain_3

    nb = open_notebook(DASHBOARD)
    nb.run_all()
    nb.wait_for_output(default[0])
    assert_shows(nb, default)
    sizes = nb.wait_for_figures()
    nb.screenshot("dashboard_1_default")

    nb.arm_probe(SEED_GAIN_3)
    nb.type_into_readout("gain", 3)
    latency = {"gain 5/3 -> 3": nb.probe_latency()}
    assert float(nb.slider_readout("gain").inner_text()) == 3.0
    assert_shows(nb, gain_3)
    nb.screenshot("dashboard_2_gain_3")

    batchnorm = nb.checkbox("batch norm")
    assert not batchnorm.is_checked()
    nb.arm_probe(gain_3_bn[0])
    batchnorm.click()
    latency["batch norm off -> on (gain 3)"] = nb.probe_latency()
    assert batchnorm.is_checked()
    assert_shows(nb, gain_3_bn)
    assert SEED_GAIN_3 not in nb.output_text()
    nb.screenshot("dashboard_3_gain_3_batchnorm")

    nb.arm_probe(SEED_GAIN_3)
    batchnorm.click()
    latency["batch norm on -> off (gain 3)"] = nb.probe_latency()
    assert_shows(nb, gain_3)  # back to the lesson's numbers: nothing of the batchnorm run lingers

    assert len(nb.figure_sizes()) == len(sizes)  # redrawn in place, not piled up
    assert nb.cell_errors() == []
    (artifacts / "browser_latency.json").write_text(json.dumps({
        "what": "ms from the key press (Enter in the gain readout) or click (batch norm box) in the page to the "
                "new table text and to the first and last repaint of the ipympl figure; one sample per change",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "changes": latency,
    }, indent=2) + "\n")


LESSON = Path(__file__).resolve().parents[1] / "notebooks" / "01_gain_5_3.ipynb"


def test_a_lesson_notebook_in_jupyterlab(open_notebook, artifacts):
    """Lesson 1 runs end to end in the page, and its gain widget moves to the lesson's gain-3 numbers."""
    nb = open_notebook(LESSON)
    nb.run_all()
    nb.wait_for_figures()
    nb.type_into_readout("gain", 3)  # only a live kernel answers this: stored outputs cannot
    nb.wait_for_output(SEED_GAIN_3)
    assert float(nb.slider_readout("gain").inner_text()) == 3.0
    assert nb.cell_errors() == []
    nb.screenshot("lesson_01_gain_3")
