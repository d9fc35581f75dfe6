"""In a real JupyterLab in a real Chromium, the dashboard answers the gain slider and the batch norm box with
the lesson's numbers, its step slider moves every picture to a snapshot step, and the dashboards fit the notebook
column at 1280 and 1920 px; screenshots and page-side latencies go to test-artifacts/."""

import json
import os
import platform
from pathlib import Path

import numpy as np
import pytest

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
            d.panel.step.value = step
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


LAYOUT = Path(__file__).parent / "browser" / "layout.ipynb"
# Where the boxes of the layout notebook's outputs land on the page: what does not fit, each with whether it is part
# of a controls box (or the row of a comparison's controls), and how many figures, findings, comparison columns and
# controls boxes were measured (so that no problem means something).
LAYOUT_JS = r"""() => {
  const EPS = 0.5;  // px: sub-pixel rounding
  const rect = e => e.getBoundingClientRect();
  const shown = r => r.width > 0 && r.height > 0;
  const px = x => Math.round(x * 10) / 10;
  const within = (r, box) => r.left >= box.left - EPS && r.right <= box.right + EPS;
  const name = e => {
    const classes = [...e.classList].filter(c => /^(widget-|jupyter-matplotlib|nbdiag-)/.test(c)).slice(0, 2);
    const text = (e.innerText || '').trim().replace(/\s+/g, ' ').slice(0, 40);
    return (classes.join('.') || e.tagName.toLowerCase()) + (text ? ` "${text}"` : '');
  };
  const problems = [];
  const counts = {outputs: 0, figures: 0, findings: 0, columns: 0, controls: 0};
  const outputs = [...document.querySelectorAll('.jp-OutputArea-output')].filter(o => o.querySelector('.jupyter-widgets'));
  for (const [n, output] of outputs.entries()) {
    counts.outputs++;
    const o = rect(output);
    const flag = (e, message) => problems.push({
      message: `output ${n + 1}: ${message}`,
      controls: !!(e.closest('.nbdiag-controls') || e.querySelector('.nbdiag-controls')),
    });
    // every figure, canvas and widget box inside the notebook column
    for (const e of output.querySelectorAll('.jupyter-widgets, .jupyter-matplotlib-figure, canvas')) {
      const r = rect(e);
      if (e.matches('.jupyter-matplotlib-figure')) counts.figures++;
      if (shown(r) && !within(r, o))
        flag(e, `${name(e)} spans x ${px(r.left)}..${px(r.right)}, wider than the output's ${px(o.left)}..${px(o.right)}`);
    }
    // no text cut off: descriptions, readouts, buttons (ellipsis), picture titles, status, findings, tables
    for (const e of output.querySelectorAll('.widget-label, .widget-readout, button, .widget-html-content, ' +
                                            '.widget-html-content *')) {
      if (shown(rect(e)) && e.scrollWidth > e.clientWidth + 1)
        flag(e, `${name(e)} is cut: ${e.scrollWidth} px of it in ${e.clientWidth} px`);
    }
    // every control inside its controls box
    for (const box of output.querySelectorAll('.nbdiag-controls')) {
      counts.controls++;
      for (const e of box.querySelectorAll('.jupyter-widgets'))
        if (shown(rect(e)) && !within(rect(e), rect(box))) flag(e, `${name(e)} sticks out of its controls box`);
    }
    // a comparison's columns: side by side (or one under the other) without overlapping, their contents inside them
    const rows = new Set([...output.querySelectorAll('.nbdiag-column')].map(c => c.parentElement));
    for (const row of rows) {
      const columns = [...row.children].filter(c => c.matches('.nbdiag-column'));
      counts.columns += columns.length;
      for (const [i, column] of columns.entries()) {
        const c = rect(column);
        for (const other of columns.slice(i + 1)) {
          const d = rect(other);
          const overlap = [Math.min(c.right, d.right) - Math.max(c.left, d.left),
                           Math.min(c.bottom, d.bottom) - Math.max(c.top, d.top)];
          if (overlap[0] > EPS && overlap[1] > EPS)
            flag(column, `columns ${name(column)} and ${name(other)} overlap by ${px(overlap[0])} px`);
        }
        for (const e of column.querySelectorAll('*')) {
          const r = rect(e);
          if (shown(r) && !within(r, c))
            flag(e, `${name(e)} spills out of its column ${px(c.left)}..${px(c.right)} to ${px(r.left)}..${px(r.right)}`);
        }
      }
    }
    // the findings (and the tables) wrap between words: by the CSS of their text, and in fact, line by line
    for (const text of output.querySelectorAll('.nbdiag-findings, .nbdiag-tables')) {
      if (text.matches('.nbdiag-findings')) counts.findings++;
      const walker = document.createTreeWalker(text, NodeFilter.SHOW_TEXT);
      const range = document.createRange();
      for (let t = walker.nextNode(); t; t = walker.nextNode()) {
        const s = getComputedStyle(t.parentElement);
        if (t.data.trim() && (s.wordBreak !== 'normal' || s.overflowWrap !== 'normal'))
          flag(t.parentElement, `${name(t.parentElement)} may break words: word-break ${s.wordBreak}, ` +
                                `overflow-wrap ${s.overflowWrap}`);
        let last = null, top = null;  // the last character laid out, and the top of its line
        for (let i = 0; i < t.data.length; i++) {
          range.setStart(t, i);
          range.setEnd(t, i + 1);
          const boxes = range.getClientRects();
          if (!boxes.length) continue;
          if (top !== null && boxes[0].top > top + 1 && /\w/.test(t.data[last]) && /\w/.test(t.data[i]))
            flag(text, `${name(text)} breaks a line mid-word: ` +
                       `"${t.data.slice(Math.max(0, last - 15), last + 1)} / ${t.data.slice(i, i + 15)}"`);
          last = i;
          top = boxes[0].top;
        }
      }
    }
  }
  return {problems, counts};
}"""


@pytest.mark.parametrize("width", [1280, 1920, 800])
def test_the_layout_fits_the_notebook_column(open_notebook, artifacts, width):
    """At a projector's 1280 px and a desktop's 1920 px, a dashboard with every view and the playground's comparison
    stay inside their cells' output: no figure wider than the notebook column, no control, title or readout cut,
    the comparison's columns side by side without overlapping, and the findings wrapped between words. In a narrow
    800 px window (JupyterLab's file browser open: a 370 px column) the controls still fit: their rows wrap, and
    the comparison's columns go one under the other; there the figures do not fit, ipympl's are of fixed size.

    The pages are in test-artifacts/layout/<width>.png."""
    nb = open_notebook(LAYOUT, viewport=(width, 1000))
    nb.run_all()
    assert len(nb.wait_for_figures()) == 5 + 4  # the dashboard's five views, the comparison's four
    nb.wait_for_output("trained 300 steps")
    nb.page.evaluate("() => document.fonts.ready.then(() => null)")
    nb.page.wait_for_timeout(500)  # ipympl sizes a canvas once it has shown
    layouts = [nb.page.evaluate(LAYOUT_JS)]
    # then the whole notebook in one screenshot, and measured again: its layout does not depend on the height
    height = nb.page.evaluate("""() => {
        const scroller = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer');
        const last = [...scroller.querySelectorAll('.jp-Cell')].pop();
        return last.getBoundingClientRect().bottom + scroller.scrollTop + 40; }""")
    nb.page.set_viewport_size({"width": width, "height": round(height)})
    nb.page.wait_for_timeout(500)
    (artifacts / "layout").mkdir(exist_ok=True)
    nb.screenshot(f"layout/{width}")
    layouts.append(nb.page.evaluate(LAYOUT_JS))
    for layout in layouts:
        assert layout["counts"] == {"outputs": 2, "figures": 9, "findings": 3, "columns": 6, "controls": 3}
        problems = [p["message"] for p in layout["problems"] if p["controls"] or width >= 1280]
        assert not problems, f"at {width} px:\n" + "\n".join(problems)
    assert nb.cell_errors() == []
