"""nbdiag.widgets.panel: a session shown through its controls, status, pictures, findings and tables, all or
nothing; changes merged in a kernel, long runs with a progress bar, errors shown, the command line's numbers.

Runs on ipympl's backend, the lessons' one: outside a kernel its canvas is a widget whose messages go
nowhere, and it renders as it would in the page. Inside a coroutine the panel takes the kernel's
path (changes wait for the event loop and merge); without one it runs each change at once.
"""

import asyncio
import html
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import nbdiag.picture
import nbdiag.session
import nbdiag.stats
from nbdiag import Config
from nbdiag.stats import tables
from nbdiag.train import PROGRESS_MIN_STEPS
from nbdiag.widgets import Comparison, Dashboard

pytestmark = pytest.mark.usefixtures("ipympl_backend")  # the lessons' backend: figures are ipympl's canvases


ROOT = Path(__file__).resolve().parents[1]


GAIN_3_LAYER_1 = "layer 1 (      Tanh): mean -0.03, std 0.85, saturated: 47.66%"


def page_text(html_widget):
    """The text a student reads in an HTML widget."""
    return html.unescape(re.sub(r"<[^>]+>", "", html_widget.value))


def descendants(widget):
    for child in getattr(widget, "children", ()):
        yield child
        yield from descendants(child)


async def until(condition, timeout=60):
    """Let the event loop run (as a kernel does between messages) until `condition()` holds."""
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise TimeoutError("the queued change did not run")


def ran(*sessions):
    return lambda: all(s.pending is None for s in sessions)


def setting(**values):
    return lambda d: [setattr(d.panel.controls[name], "value", value) for name, value in values.items()]


@pytest.mark.parametrize(
    "cli_args, change",
    [
        (["--gain", "3"], setting(gain=3.0)),
        (["--gain", "5/3"], lambda d: d.panel.presets["5/3"].click()),
        (
            ["--gain", "1", "--batchnorm", "--activation", "linear", "--no-fan-in"],
            setting(batchnorm=True, activation="linear", fan_in_scaling=False),
        ),
        (
            [
                "--gain",
                "1",
                "--activation",
                "relu",
                "--residual",
                "--optimizer",
                "adam",
                "--lr",
                "0.001",
                "--steps",
                "20",
            ],
            setting(activation="relu", residual=True, optimizer="adam", lr=0.001, steps=20),
        ),
        (["--gain", "1", "--lr", "0.5", "--steps", "30", "--seed", "42"], setting(lr=0.5, steps=30, seed=42)),
    ],
)
def test_identical_settings_give_the_command_lines_numbers(dataset, cli_args, change):
    d = Dashboard(dataset=dataset, gain=1)  # (so that the 5/3 preset is a change)
    change(d)
    # a kernel setting of the user's own (here MKL's default) keeps the command line from pinning Intel's AVX2
    # kernels, so it computes with the same kernels as this process, and so the same bits
    cli = subprocess.run(
        [sys.executable, "-m", "nbdiag", "tables", *cli_args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "MKL_CBWR": "AUTO"},
    )
    assert cli.returncode == 0, cli.stderr
    assert page_text(d.panel.tables_html) == tables(d.panel.session.run) == nbdiag.stats.tables(d.panel.session.run)
    assert nbdiag.stats.tables(d.panel.session.run, digits=nbdiag.stats.LESSON_DIGITS) == cli.stdout.rstrip("\n")


def test_the_histograms_are_computed_on_one_torch_thread_like_training(dataset, monkeypatch):
    threads, histogram = [], nbdiag.stats.histogram

    def counting_histogram(*args, **kw):
        threads.append(torch.get_num_threads())
        return histogram(*args, **kw)

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        d = Dashboard(views=["activations"], dataset=dataset)
        monkeypatch.setattr(nbdiag.stats, "histogram", counting_histogram)
        d.panel.controls["gain"].value = 3.0
        assert threads == [1] * 5 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_the_status_line_says_when_a_run_diverged(dataset):
    d = Dashboard(dataset=dataset)
    assert "trained 1 step," in page_text(d.panel.status) and "gain 5/3" in page_text(d.panel.status)
    for name, value in [("activation", "linear"), ("lr", 10.0), ("steps", 10)]:
        d.panel.controls[name].value = value
    assert "diverged at step" in page_text(d.panel.status) and "#b00020" in d.panel.status.value
    assert not d.panel.errors.outputs  # the pictures draw the finite values that are left


def test_rapid_changes_in_the_kernel_run_once_with_the_latest_values(dataset, trained, in_a_kernel):
    async def main():
        d = Dashboard(views=["activations"], dataset=dataset)
        trained.clear()
        for gain in (0.5, 1.0, 2.0, 3.0):  # a drag: messages that were waiting while the kernel was busy
            d.panel.controls["gain"].value = gain
        d.panel.controls["batchnorm"].value = True
        assert trained == []  # nothing runs inside the messages themselves
        await until(ran(d.panel.session))
        assert trained == [Config(gain=3.0, batchnorm=True)]  # one run; the stale values never ran
        assert page_text(d.panel.tables_html) == tables(d.panel.session.run)
        d.panel.controls["batchnorm"].value = False  # a later change runs again
        await until(ran(d.panel.session))
        assert trained[1:] == [Config(gain=3.0)] and GAIN_3_LAYER_1 in page_text(d.panel.tables_html)

    asyncio.run(main())


def test_long_runs_go_at_once_with_a_progress_bar_and_sliders_wait_for_release(dataset, trained, capfd, in_a_kernel):
    async def main():
        d = Dashboard(views=["update_ratios"], dataset=dataset)
        assert d.panel.controls["gain"].continuous_update and not d.panel.controls["steps"].continuous_update
        trained.clear()
        d.panel.controls["steps"].value = PROGRESS_MIN_STEPS
        assert [c.steps for c in trained] == [PROGRESS_MIN_STEPS]  # run inside the change, where its bar can show
        assert not d.panel.controls["gain"].continuous_update and not d.panel.controls["lr"].continuous_update

    asyncio.run(main())
    assert "training" in capfd.readouterr().err


@pytest.mark.parametrize("in_kernel", [False, True])
def test_an_exception_in_a_callback_shows_in_the_widget(dataset, monkeypatch, in_kernel, request):
    def failing_train(config, dataset=None, progress=None, **options):
        raise RuntimeError("the kernel ran out of memory")

    async def settle(condition):
        if in_kernel:
            await until(condition)

    async def main():
        d = Dashboard(views=["activations"], dataset=dataset)
        monkeypatch.setattr(nbdiag.session, "train", failing_train)
        d.panel.controls["gain"].value = 3.0
        await settle(lambda: d.panel.errors.outputs)
        monkeypatch.undo()
        (output,) = d.panel.errors.outputs
        assert output["name"] == "stderr" and "RuntimeError: the kernel ran out of memory" in output["text"]
        assert d.panel.session.config.gain == 5 / 3  # the pictures and tables still show the last run that worked
        d.panel.controls["batchnorm"].value = True  # the next change retries the gain with it, and clears the error
        await settle(ran(d.panel.session))
        assert d.panel.session.config == Config(gain=3.0, batchnorm=True) and not d.panel.errors.outputs

    if in_kernel:
        request.getfixturevalue("in_a_kernel")
        asyncio.run(main())
    else:  # no event loop around: each change runs at once
        with pytest.raises(StopIteration):
            main().send(None)


def set_from_page(client, model_id, value):
    """Send what the page sends when a control is moved; returns the message."""
    msg = client.session.msg(
        "comm_msg", {"comm_id": model_id, "data": {"method": "update", "state": {"value": value}, "buffer_paths": []}}
    )
    client.shell_channel.send(msg)
    return msg


def test_in_a_kernel_a_burst_of_slider_messages_runs_the_latest_value_only(kernel):
    kernel.run(
        "%matplotlib widget\n"
        "import nbdiag.session\nfrom nbdiag.widgets import Dashboard\n"
        "runs, _train = [], nbdiag.session.train\n"
        "def recording_train(config, *args, **kw):\n"
        "    runs.append(config.gain)\n"
        "    return _train(config, *args, **kw)\n"
        "nbdiag.session.train = recording_train\nd = Dashboard()\nruns.clear()",
    )
    assert kernel.run("print(type(d.figures['activations'].canvas).__module__)") == "ipympl.backend_nbagg"
    gain = kernel.run("print(d.panel.controls['gain'].model_id)")
    for value in (0.5, 1.0, 2.0, 2.5, 3.0):  # a drag's messages, all sent before the first run is over
        set_from_page(kernel.client, gain, value)
    for _ in range(600):
        if kernel.run("print(runs[-1:] == [3.0] and d.panel.session.pending is None)") == "True":
            break
        time.sleep(0.1)
    runs = kernel.run("print(runs)")
    assert runs.endswith("3.0]") and len(eval(runs)) <= 2, runs  # the values in between merged: never run
    assert (
        kernel.run("print(d.panel.session.config.gain, '47.66%' in d.panel.tables_html.value, d.panel.errors.outputs)")
        == "3.0 True ()"
    )


def test_in_a_kernel_a_long_runs_progress_bar_shows_in_the_dashboard(kernel):
    kernel.run(
        "%matplotlib widget\nfrom nbdiag.widgets import Dashboard\n"
        "d = Dashboard(controls=['steps'], views=['update_ratios'])",
    )
    steps, progress = kernel.run("print(d.panel.controls['steps'].model_id, d.panel.progress.model_id)").split()
    sent = set_from_page(kernel.client, steps, PROGRESS_MIN_STEPS)["header"]["msg_id"]
    captured, bar, cleared = False, False, False
    while True:  # what the page receives while the change runs
        msg = kernel.client.get_iopub_msg(timeout=300)
        if msg["msg_type"] == "comm_msg" and msg["content"]["comm_id"] == progress:
            captured |= msg["content"]["data"]["state"].get("msg_id") == sent  # the Output takes this message's output
        if msg["msg_type"] == "display_data" and msg["parent_header"].get("msg_id") == sent:
            bar |= "application/vnd.jupyter.widget-view+json" in msg["content"]["data"]  # tqdm's bar widget
        cleared |= msg["msg_type"] == "clear_output" and msg["parent_header"].get("msg_id") == sent and bar
        if (
            msg["msg_type"] == "status"
            and msg["parent_header"].get("msg_id") == sent
            and msg["content"]["execution_state"] == "idle"
        ):
            break
    assert captured and bar and cleared  # shown in the Output while the run lasts, then cleared
    assert kernel.run("print(d.panel.session.config.steps, d.panel.errors.outputs)") == f"{PROGRESS_MIN_STEPS} ()"


def test_health_findings_show_under_the_pictures_and_follow_changes(dataset):
    from nbdiag import health

    d = Dashboard(dataset=dataset, gain=3)
    parts = list(d.children)
    assert parts.index(d.panel.findings) > parts.index(d.panel.status)
    assert "|t| > 0.97" in page_text(d.panel.findings)  # gain 3 saturates the tanh layers
    assert page_text(d.panel.findings) == health.format_findings(health.diagnose(d.panel.session.run))
    d.panel.session.request(gain=0.5)
    d.panel.refresh()
    assert page_text(d.panel.findings) == health.format_findings(health.diagnose(d.panel.session.run))
    assert "|t| > 0.97" not in page_text(d.panel.findings)
    d.close()
    c = Comparison(dict(gain=1), dict(gain=3), dataset=dataset)
    assert "|t| > 0.97" in page_text(c.right.findings) and page_text(c.left.findings) != page_text(c.right.findings)
    c.close()


def drawn(picture):
    """The y data of each data line of a picture's first axes."""
    return [line.get_ydata() for line in picture.axes[0].get_lines() if line.get_gid() == "series"]


def test_the_step_slider_moves_every_picture_to_that_step_without_re_running(dataset, trained):
    d = Dashboard(dataset=dataset, snapshots=10, steps=45)
    run, pictures = d.panel.session.run, d.pictures
    assert (
        list(d.panel.step.options) == [0, 10, 20, 30, 40, 44]
        and d.panel.step.value == 44
        and d.panel.step in descendants(d)
    )
    last_tables = d.panel.tables_html.value
    d.panel.step.value = 20
    at = nbdiag.stats.pictures_at(run, 20)
    for view, histograms in (
        ("activations", at.activations),
        ("gradients", at.gradients),
        ("weight_gradients", at.weight_gradients),
    ):
        assert [list(y) for y in drawn(pictures[view])] == [list(h.density[np.isfinite(h.density)]) for h in histograms]
        assert "at step 20" in page_text(pictures[view].titles[0])
    [marker] = [line for line in pictures["update_ratios"].axes[0].get_lines() if line.get_gid() == "step"]
    assert list(marker.get_xdata()) == [20, 20]
    assert d.panel.tables_html.value == last_tables and len(trained) == 1 and not d.panel.errors.outputs  # no new run
    assert page_text(d.panel.step_note) == "pictures at step 20; the findings and tables below are at the last step, 44"
    d.panel.step.value = 44  # the last step: the run's own records again
    assert [list(y) for y in drawn(pictures["gradients"])] == [
        list(h.density) for h in nbdiag.stats.gradient_histograms(run)
    ]
    assert not [line for line in pictures["update_ratios"].axes[0].get_lines() if line.get_gid() == "step"]
    assert page_text(d.panel.step_note) == ""
    d.panel.controls["steps"].value = 25  # a new run: the slider offers its steps, at its last
    assert list(d.panel.step.options) == [0, 10, 20, 24] and d.panel.step.value == 24 and len(trained) == 2
    d.close()


def test_findings_and_tables_wrap_between_words_and_read_as_their_text(dataset):
    from nbdiag import health

    c = Comparison(dict(), dict(gain=3), dataset=dataset)
    for panel in (c.left, c.right):
        for widget, text in (
            (panel.findings, health.format_findings(health.diagnose(panel.shown))),
            (panel.tables_html, tables(panel.shown)),
        ):
            assert page_text(widget) == text  # the tags add no character: a copy from the page reads the text
            assert "break-all" not in widget.value and "anywhere" not in widget.value
            assert widget.value.count("word-break:normal") == text.count("\n") + 1  # every line
    c.close()


def test_the_page_changes_only_once_every_frame_is_ready_status_and_pictures_first(dataset, monkeypatch):
    d = Dashboard(dataset=dataset)
    events = []
    for figure in d.figures.values():
        figure.canvas.syncing_data_url = False  # as once a page shows the figure: frames are sent
        monkeypatch.setattr(figure.canvas, "send_binary", lambda frame: events.append("frame"))
    render = nbdiag.picture.Picture.render
    monkeypatch.setattr(nbdiag.picture.Picture, "render", lambda self: events.append("render") or render(self))
    for name in ("status", "findings", "tables_html"):
        getattr(d.panel, name).observe(lambda change, name=name: events.append(name), names="value")
    d.panel.controls["gain"].value = 3.0
    n = len(d.figures)
    assert events == ["render"] * n + ["status"] + ["frame"] * n + ["findings", "tables_html"]
    assert GAIN_3_LAYER_1 in page_text(d.panel.tables_html)
    d.close()


def test_a_picture_that_fails_to_render_leaves_the_whole_page_on_the_run_before(dataset, monkeypatch):
    d = Dashboard(dataset=dataset)
    before = {name: getattr(d.panel, name).value for name in ("status", "findings", "tables_html")}
    sent = []
    for figure in d.figures.values():
        figure.canvas.syncing_data_url = False
        monkeypatch.setattr(figure.canvas, "send_binary", sent.append)
    pictures = list(d.pictures.values())
    render = nbdiag.picture.Picture.render

    def failing_last(self):
        if self is pictures[-1]:
            raise RuntimeError("no memory for the frame")
        return render(self)

    monkeypatch.setattr(nbdiag.picture.Picture, "render", failing_last)
    d.panel.controls["gain"].value = 3.0
    assert sent == []  # no picture showed the new run while another could not
    assert {name: getattr(d.panel, name).value for name in before} == before
    assert "no memory for the frame" in d.panel.errors.outputs[-1]["text"]
    assert d.panel.shown.config.gain == pytest.approx(5 / 3)
    monkeypatch.setattr(nbdiag.picture.Picture, "render", render)
    d.panel.controls["gain"].value = 2.0  # the next change shows whole again
    assert len(sent) == len(pictures) and d.panel.shown.config.gain == 2.0
    d.close()
