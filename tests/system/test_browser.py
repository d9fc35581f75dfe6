"""In a real JupyterLab in a real Chromium, the dashboard answers the gain slider and the batch norm box with
the lesson's numbers, and its step slider moves every picture to a snapshot step; screenshots and page-side
latencies go to test-artifacts/."""

import json
import os
import platform
from pathlib import Path

import numpy as np

from nbdiag import Config, train
from nbdiag.stats import (
    activation_stats,
    format_activation_table,
    format_gradient_table,
    format_weight_table,
    gradient_stats,
    weight_grad_stats,
)
from nbdiag.widgets import Dashboard

pytest_plugins = ["browser.harness"]  # fixtures: open_notebook, artifacts (one server and browser per session)

DASHBOARD = Path(__file__).parent / "browser" / "dashboard.ipynb"
SEED_GAIN_3 = "layer 1 (      Tanh): mean -0.03, std 0.85, saturated: 47.66%"  # the lesson's gain-3 table


def expected_lines(dataset, **config):
    """The activation, gradient and weight-gradient table lines the command line prints for this config."""
    run = train(Config(**config), dataset)
    text = "\n".join(
        [
            format_activation_table(activation_stats(run)),
            format_gradient_table(gradient_stats(run)),
            format_weight_table(weight_grad_stats(run)),
        ]
    )
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
    (artifacts / "browser_latency.json").write_text(
        json.dumps(
            {
                "what": "ms from the key press (Enter in the gain readout) or click (batch norm box) in the page to the "
                "new table text and to the first and last repaint of the ipympl figure; one sample per change",
                "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                "changes": latency,
            },
            indent=2,
        )
        + "\n"
    )


LESSON = Path(__file__).resolve().parents[2] / "notebooks" / "01_gain_5_3.ipynb"


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


STEPS = Path(__file__).parent / "browser" / "steps.ipynb"
STEP_SLIDER = "pictures at step"
STEPS_DASHBOARD = dict(snapshots=10, steps=45, controls=["gain"])  # as in steps.ipynb: snapshots at 0, 10, ... 40
TITLES = ("activation distribution", "gradient distribution", "weights gradient distribution")


def expected_frames(dataset, route):
    """The pixels matplotlib renders for each picture of steps.ipynb's dashboard at its last step, then after the
    step slider went to each step of `route` in turn (the axes limits depend on the way there)."""
    d = Dashboard(dataset=dataset, **STEPS_DASHBOARD)
    frames = []
    for step in [None, *route]:
        if step is not None:
            d.step.value = step
        for figure in d.figures.values():
            figure.canvas.draw()
        frames.append([np.asarray(figure.canvas.buffer_rgba()).copy() for figure in d.figures.values()])
    d.close()
    return frames


def differing_pixels(shown, expected):
    """How many pixels differ, figure by figure (a figure without a canvas or of another size: what it is)."""
    return [
        int((a != b).any(axis=-1).sum())
        if a is not None and a.shape == b.shape
        else "no canvas"
        if a is None
        else f"{a.shape[1]}x{a.shape[0]} pixels, not {b.shape[1]}x{b.shape[0]}"
        for a, b in zip(shown, expected)
    ]


def test_the_step_slider_in_jupyterlab(open_notebook, dataset):
    """Keys on the step slider's handle move every picture to that snapshot step, pixel for pixel what
    matplotlib draws there, without a new run: the tables and the number of figures stay."""
    at_44, at_40, at_0 = expected_frames(dataset, [40, 0])

    nb = open_notebook(STEPS)
    nb.run_all()
    sizes = nb.wait_for_figures()
    assert len(sizes) == len(at_44)
    assert nb.slider_readout(STEP_SLIDER).inner_text().strip() == "44"  # the last step
    shown = {line.strip() for line in nb.output_text().splitlines()}
    assert set(TITLES) <= shown and not [line for line in shown if "distribution at step" in line]
    tables = nb.page.locator(".widget-html pre", has_text="# activations")
    last_tables = tables.inner_text()
    assert "trained 45 steps" in last_tables

    exactly = [0] * len(sizes)
    shown_frames = at_44
    for key, step, frames in (("ArrowLeft", 40, at_40), ("Home", 0, at_0)):
        nb.arm_probe(f"activation distribution at step {step}")  # once no figure has repainted for a second
        before = nb.canvas_pixels()
        assert differing_pixels(before, shown_frames) == exactly, f"before {key}: not what matplotlib draws"
        nb.press_on_slider(STEP_SLIDER, key)
        repainted = nb.probe_latency()["figures_repainted"]  # the titles, then the figures painted and quiet
        assert nb.slider_readout(STEP_SLIDER).inner_text().strip() == str(step)
        shown = {line.strip() for line in nb.output_text().splitlines()}
        missing = [f"{title} at step {step}" for title in TITLES if f"{title} at step {step}" not in shown]
        assert not missing, f"after {key} the page does not show {missing}"
        assert repainted == len(sizes), f"after {key} only {repainted} of {len(sizes)} figures repainted"
        after = nb.canvas_pixels()
        assert 0 not in differing_pixels(after, before), f"after {key} some figure still shows the old picture"
        assert differing_pixels(after, frames) == exactly, (
            f"after {key} the figures do not show what matplotlib draws at step {step}"
        )
        assert tables.inner_text() == last_tables  # the tables stay at the last step: no new run either
        shown_frames = frames

    assert len(nb.figure_sizes()) == len(sizes)  # redrawn in place, not piled up
    assert nb.cell_errors() == []
    nb.screenshot("steps_at_0")
