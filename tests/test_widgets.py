"""The dashboard without a browser: controls, in-place redraws, merged changes, errors shown, CLI numbers.

Runs on ipympl's backend, the lessons' one: outside a kernel its canvas is a widget whose messages go
nowhere, and it renders as it would in the page. Inside a coroutine the dashboard takes the kernel's
path (changes wait for the event loop and merge); without one it runs each change at once.
"""

import asyncio
import gc
import html
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch_models import train_watched

import nbdiag.session
import nbdiag.stats
from nbdiag import Config, ConfigError, train
from nbdiag.activations import LESSON_GAINS
from nbdiag.picture import KEEP
from nbdiag.stats import tables
from nbdiag.train import PROGRESS_MIN_STEPS
from nbdiag.widgets import CONTROLS, VIEWS, Comparison, Dashboard

ROOT = Path(__file__).resolve().parents[1]
GAIN_3_LAYER_1 = "layer 1 (      Tanh): mean -0.03, std 0.85, saturated: 47.66%"


@pytest.fixture(autouse=True)
def ipympl_backend():
    before = plt.get_backend()
    plt.switch_backend("module://ipympl.backend_nbagg")
    yield
    plt.switch_backend(before)


def page_text(html_widget):
    """The text a student reads in an HTML widget."""
    return html.unescape(re.sub(r"<[^>]+>", "", html_widget.value))


def resident_bytes():
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def open_widgets():
    return len(W.widgets.widget._instances)  # every widget not closed yet, by model id


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


def test_the_full_dashboard_has_every_control_and_view(dataset):
    d = Dashboard(dataset=dataset)
    assert tuple(d.controls) == CONTROLS and tuple(d.figures) == VIEWS
    parts = list(descendants(d))
    assert all(c in parts for c in d.controls.values()) and d.tables_html in parts
    for figure in d.figures.values():
        assert isinstance(figure.canvas, W.DOMWidget) and figure.canvas in parts  # ipympl's canvas, embedded
    assert GAIN_3_LAYER_1 not in page_text(d.tables_html) and d.session.tables() in page_text(d.tables_html)


def test_controls_have_student_labels_and_ranges_that_give_valid_configs(dataset):
    d = Dashboard(dataset=dataset)
    c = d.controls
    assert (c["gain"].description, c["gain"].min, c["gain"].max) == ("gain", 0.2, 5.0)
    assert isinstance(c["lr"], W.FloatLogSlider) and (c["lr"].base, c["lr"].min, c["lr"].max) == (10, -3, 1)
    assert isinstance(c["batchnorm"], W.Checkbox) and c["batchnorm"].description == "batch norm"
    assert isinstance(c["residual"], W.Checkbox) and isinstance(c["fan_in_scaling"], W.Checkbox)
    assert (
        isinstance(c["activation"], W.ToggleButtons) and c["activation"].options == Config.option("activation").choices
    )
    assert isinstance(c["optimizer"], W.ToggleButtons) and c["optimizer"].options == ("sgd", "adam")
    assert c["steps"].min == 1 and c["steps"].max >= 2000 and c["seed"].min == 0
    assert [c[n].description for n in ("depth", "n_hidden", "steps", "seed")] == [
        "hidden layers",
        "neurons per layer",
        "training steps",
        "random seed",
    ]
    for name in ("gain", "lr", "depth", "n_hidden", "steps", "seed"):
        ends = (10.0 ** c[name].min, 10.0 ** c[name].max) if name == "lr" else (c[name].min, c[name].max)
        for value in ends:  # each end of each range is a valid config
            nbdiag.session.changed(Config(), **{name: value})
    c["gain"].value = -1  # out of range: the slider holds its minimum, a valid gain
    assert d.session.config.gain == 0.2 and not d.errors.outputs


def test_gain_presets_set_the_exact_lesson_values(dataset):
    d = Dashboard(controls=["gain"], views=[], dataset=dataset)
    assert list(d.presets) == ["0.5", "1", "5/3", "3"]
    for label, value in [("3", 3.0), ("0.5", 0.5), ("1", 1.0), ("5/3", 5 / 3)]:
        d.presets[label].click()
        assert d.session.config.gain == value and d.session.run.config.gain == value
    assert d.session.config.gain == 5 / 3 == LESSON_GAINS["5/3"]


@pytest.mark.parametrize(
    "name, sent, expected",
    [
        ("gain", 3.0000000000000004, 3.0),  # typed 3, snapped by the browser's slider
        ("gain", 0.5700000000000001, 0.57),
        ("gain", 1.67, 5 / 3),  # the slider showing the 5/3 preset, echoed back
        ("lr", 0.09999999999999991, 0.1),  # 10 ** -1.0000000000000004
        ("lr", 10**-1.3, 0.0501),
    ],
)
def test_values_from_the_browser_are_rounded_to_what_the_control_shows(dataset, name, sent, expected):
    d = Dashboard(controls=[name], views=[], dataset=dataset, gain=1)
    d.controls[name].value = sent
    assert getattr(d.session.config, name) == expected


@pytest.mark.parametrize(
    "kwargs, option",
    [
        (dict(gain=10), "gain"),
        (dict(gain=-1), "gain"),
        (dict(steps=10**6), "steps"),
        (dict(bogus=1), "bogus"),
        (dict(controls=["volume"]), "volume"),
        (dict(views=["loss"]), "loss"),
    ],
)
def test_invalid_settings_are_rejected_naming_the_option(dataset, kwargs, option):
    with pytest.raises(ConfigError, match=option):
        Dashboard(dataset=dataset, **kwargs)


def test_a_value_outside_a_hidden_controls_range_is_fine(dataset):
    d = Dashboard(controls=["lr"], views=[], dataset=dataset, gain=10)
    assert d.session.config.gain == 10


def test_a_single_view_updates_its_lines_in_place(dataset):
    d = Dashboard(controls=["gain"], views=["activations"], tables=False, dataset=dataset, gain=5 / 3)
    assert list(d.controls) == ["gain"] and list(d.figures) == ["activations"] and d.tables_html is None
    (ax,) = d.figures["activations"].axes
    lines = [line for line in ax.get_lines() if line.get_gid() == "series"]
    before = [line.get_ydata().copy() for line in lines]
    d.controls["gain"].value = 3
    assert [line for line in ax.get_lines() if line.get_gid() == "series"] == lines  # the same artists
    assert all(not np.array_equal(line.get_ydata(), y) for line, y in zip(lines, before))
    assert [line.get_label() for line in lines] == [f"layer {i} (Tanh)" for i in (1, 3, 5, 7, 9)]


def test_100_changes_leave_no_figure_artist_widget_or_memory_behind(dataset):
    fignums, widgets_before = plt.get_fignums(), open_widgets()
    d = Dashboard(dataset=dataset)
    shown_in_a_page(d)

    def artists():
        return sum(len(figure.findobj()) for figure in d.figures.values())

    gains = [0.5, 1.0, 5 / 3, 3.0, 2.0]
    for i in range(10):  # warm up: every layout and limit once
        d.controls["gain"].value = gains[i % len(gains)]
    counts, widgets = artists(), open_widgets()
    gc.collect()
    objects, rss = len(gc.get_objects()), resident_bytes()
    for i in range(100):
        d.controls["gain"].value = gains[i % len(gains)]
    gc.collect()
    assert d.session.config.gain == gains[99 % len(gains)]
    assert plt.get_fignums() == fignums and artists() == counts and open_widgets() == widgets
    assert len(gc.get_objects()) - objects < 100  # e.g. a kept Run or Line2D per change would be 100s
    assert resident_bytes() - rss < 20e6  # kept runs' tensors would be ~30 MB
    d.close()
    assert open_widgets() == widgets_before


def shown_in_a_page(dashboard):
    """As when the page has shown each figure: ipympl then takes the frames the dashboard sends."""
    for figure in dashboard.figures.values():
        figure.canvas.syncing_data_url = False  # what ipympl sets on the page's 'initialized' message


def test_no_frame_is_sent_before_a_page_shows_the_figure(dataset):
    d = Dashboard(dataset=dataset)
    d.controls["gain"].value = 3.0
    # ipympl would keep such a frame as the figure's image for the page, without its data: URL prefix: broken
    assert all(figure.canvas._data_url is None for figure in d.figures.values())
    shown_in_a_page(d)
    d.controls["gain"].value = 1.0
    assert all(figure.canvas._last_buff.size > 1 for figure in d.figures.values())  # frames now go out


def test_every_frame_is_whole_so_a_page_that_loses_one_shows_no_stale_lines(dataset):
    """In a quick series of frames (a drag) the page may replace one before it shows: a frame of only the
    changed pixels would then be lost for good, and its lines would stay on the picture."""
    d = Dashboard(dataset=dataset, snapshots=5, steps=20)
    shown_in_a_page(d)
    for control, value in (("gain", 1.0), ("gain", 1.02), ("gain", 1.04)):
        d.controls[control].value = value
        assert all(figure.canvas._current_image_mode == "full" for figure in d.figures.values())
    for step in (15, 10, 5):
        d.step.value = step
        assert all(figure.canvas._current_image_mode == "full" for figure in d.figures.values())
    d.close()


def test_a_blitted_frame_equals_a_full_render(dataset):
    d = Dashboard(dataset=dataset)
    shown_in_a_page(d)
    for gain in (1.0, 1.04, 1.08, 1.12, 3.0, 3.04):
        d.controls["gain"].value = gain
        for figure in d.figures.values():
            frame = np.asarray(figure.canvas.get_renderer().buffer_rgba()).copy()
            figure.canvas.draw()  # everything, from scratch
            assert np.array_equal(frame, np.asarray(figure.canvas.get_renderer().buffer_rgba()))


def test_axes_keep_every_drawn_point_in_view(dataset):
    from nbdiag import health

    d = Dashboard(dataset=dataset)
    for changes in [
        dict(gain=3),
        dict(gain=0.5),
        dict(batchnorm=True),
        dict(gain=5),
        dict(activation="linear"),
        dict(lr=10, steps=10),
        dict(fan_in_scaling=False),
    ]:
        for name, value in changes.items():
            d.controls[name].value = value
        assert not d.errors.outputs
        for view, figure in d.figures.items():
            (ax,) = figure.axes
            (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
            xs = np.concatenate([line.get_xdata() for line in ax.get_lines() if line.get_gid() == "series"])
            ys = [line.get_ydata() for line in ax.get_lines() if line.get_gid() in ("series", "guide")]
            if view == "update_ratios":
                band = health.healthy_bands()["update_ratio"]
                ys.append([band.low, band.high])
            ys = np.concatenate(ys)
            if len(xs):  # every point in view, and the view not much wider than the points (and 1e-3 guide, band)
                assert x0 <= xs.min() and xs.max() <= x1 and y0 <= ys.min() and ys.max() <= y1
                assert ys.max() - ys.min() >= KEEP * (y1 - y0) * 0.99


def setting(**values):
    return lambda d: [setattr(d.controls[name], "value", value) for name, value in values.items()]


@pytest.mark.parametrize(
    "cli_args, change",
    [
        (["--gain", "3"], setting(gain=3.0)),
        (["--gain", "5/3"], lambda d: d.presets["5/3"].click()),
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
    assert page_text(d.tables_html) == d.session.tables() == nbdiag.stats.tables(d.session.run)
    assert nbdiag.stats.tables(d.session.run, digits=nbdiag.stats.LESSON_DIGITS) == cli.stdout.rstrip("\n")


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
        d.controls["gain"].value = 3.0
        assert threads == [1] * 5 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_the_status_line_says_when_a_run_diverged(dataset):
    d = Dashboard(dataset=dataset)
    assert "trained 1 step," in page_text(d.status) and "gain 5/3" in page_text(d.status)
    for name, value in [("activation", "linear"), ("lr", 10.0), ("steps", 10)]:
        d.controls[name].value = value
    assert "diverged at step" in page_text(d.status) and "#b00020" in d.status.value
    assert not d.errors.outputs  # the pictures draw the finite values that are left


def test_rapid_changes_in_the_kernel_run_once_with_the_latest_values(dataset, trained, in_a_kernel):
    async def main():
        d = Dashboard(views=["activations"], dataset=dataset)
        trained.clear()
        for gain in (0.5, 1.0, 2.0, 3.0):  # a drag: messages that were waiting while the kernel was busy
            d.controls["gain"].value = gain
        d.controls["batchnorm"].value = True
        assert trained == []  # nothing runs inside the messages themselves
        await until(ran(d.session))
        assert trained == [Config(gain=3.0, batchnorm=True)]  # one run; the stale values never ran
        assert page_text(d.tables_html) == tables(d.session.run)
        d.controls["batchnorm"].value = False  # a later change runs again
        await until(ran(d.session))
        assert trained[1:] == [Config(gain=3.0)] and GAIN_3_LAYER_1 in page_text(d.tables_html)

    asyncio.run(main())


def test_long_runs_go_at_once_with_a_progress_bar_and_sliders_wait_for_release(dataset, trained, capfd, in_a_kernel):
    async def main():
        d = Dashboard(views=["update_ratios"], dataset=dataset)
        assert d.controls["gain"].continuous_update and not d.controls["steps"].continuous_update
        trained.clear()
        d.controls["steps"].value = PROGRESS_MIN_STEPS
        assert [c.steps for c in trained] == [PROGRESS_MIN_STEPS]  # run inside the change, where its bar can show
        assert not d.controls["gain"].continuous_update and not d.controls["lr"].continuous_update

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
        d.controls["gain"].value = 3.0
        await settle(lambda: d.errors.outputs)
        monkeypatch.undo()
        (output,) = d.errors.outputs
        assert output["name"] == "stderr" and "RuntimeError: the kernel ran out of memory" in output["text"]
        assert d.session.config.gain == 5 / 3  # the pictures and tables still show the last run that worked
        d.controls["batchnorm"].value = True  # the next change retries the gain with it, and clears the error
        await settle(ran(d.session))
        assert d.session.config == Config(gain=3.0, batchnorm=True) and not d.errors.outputs

    if in_kernel:
        request.getfixturevalue("in_a_kernel")
        asyncio.run(main())
    else:  # no event loop around: each change runs at once
        with pytest.raises(StopIteration):
            main().send(None)


def test_comparison_runs_both_sides_from_one_seed_with_shared_axes(dataset, trained):
    c = Comparison(dict(gain=1), dict(gain=5 / 3), dataset=dataset)
    left, right = c.left.session, c.right.session
    assert left.config == Config(gain=1) and right.config == Config(gain=5 / 3)
    assert page_text(c.left.tables) == tables(train(Config(gain=1), dataset))
    assert page_text(c.right.tables) == tables(train(Config(gain=5 / 3), dataset))
    assert "seed" not in c.left.controls and c.seed is not None

    def limits_shared():
        return all(
            fig.axes[0].get_xlim() == fig.axes[1].get_xlim() and fig.axes[0].get_ylim() == fig.axes[1].get_ylim()
            for fig in c.figures.values()
        )

    assert limits_shared()
    right_run = right.run
    c.left.controls["gain"].value = 3.0
    assert GAIN_3_LAYER_1 in page_text(c.left.tables) and right.run is right_run and limits_shared()
    trained.clear()
    c.seed.value = 42
    assert sorted(cfg.gain for cfg in trained) == [5 / 3, 3.0] and left.config.seed == right.config.seed == 42
    assert limits_shared()


def test_a_comparison_needs_one_seed(dataset):
    with pytest.raises(ConfigError, match="seed"):
        Comparison(dict(seed=1), dict(seed=2), dataset=dataset)
    c = Comparison(dict(seed=7), dict(batchnorm=True), controls=["gain"], views=["activations"], dataset=dataset)
    assert c.left.session.config.seed == c.right.session.config.seed == 7 and c.seed is None


def test_other_backends_get_a_png_that_changes_with_the_run(dataset):
    plt.switch_backend("Agg")
    d = Dashboard(controls=["gain"], views=["activations"], dataset=dataset)
    (image,) = [w for w in descendants(d) if isinstance(w, W.Image)]
    before = bytes(image.value)
    assert isinstance(image, W.Image) and before.startswith(b"\x89PNG") and plt.get_fignums() == []
    d.controls["gain"].value = 3.0
    assert bytes(image.value).startswith(b"\x89PNG") and bytes(image.value) != before


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
    gain = kernel.run("print(d.controls['gain'].model_id)")
    for value in (0.5, 1.0, 2.0, 2.5, 3.0):  # a drag's messages, all sent before the first run is over
        set_from_page(kernel.client, gain, value)
    for _ in range(600):
        if kernel.run("print(runs[-1:] == [3.0] and d.session.pending is None)") == "True":
            break
        time.sleep(0.1)
    runs = kernel.run("print(runs)")
    assert runs.endswith("3.0]") and len(eval(runs)) <= 2, runs  # the values in between merged: never run
    assert (
        kernel.run("print(d.session.config.gain, '47.66%' in d.tables_html.value, d.errors.outputs)") == "3.0 True ()"
    )


def test_in_a_kernel_a_long_runs_progress_bar_shows_in_the_dashboard(kernel):
    kernel.run(
        "%matplotlib widget\nfrom nbdiag.widgets import Dashboard\n"
        "d = Dashboard(controls=['steps'], views=['update_ratios'])",
    )
    steps, progress = kernel.run("print(d.controls['steps'].model_id, d.progress.model_id)").split()
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
    assert kernel.run("print(d.session.config.steps, d.errors.outputs)") == f"{PROGRESS_MIN_STEPS} ()"


def test_health_findings_show_under_the_pictures_and_follow_changes(dataset):
    from nbdiag import health

    d = Dashboard(dataset=dataset, gain=3)
    parts = list(d.children)
    assert parts.index(d.verdicts) > parts.index(d.status)
    assert "|t| > 0.97" in page_text(d.verdicts)  # gain 3 saturates the tanh layers
    assert page_text(d.verdicts) == health.format_findings(health.diagnose(d.session.run))
    d.session.request(gain=0.5)
    d._panel.refresh()
    assert page_text(d.verdicts) == health.format_findings(health.diagnose(d.session.run))
    assert "|t| > 0.97" not in page_text(d.verdicts)
    d.close()
    c = Comparison(dict(gain=1), dict(gain=3), dataset=dataset)
    assert "|t| > 0.97" in page_text(c.right.verdicts) and page_text(c.left.verdicts) != page_text(c.right.verdicts)
    c.close()


def drawn(picture):
    """The y data of each data line of a picture's first axes."""
    return [line.get_ydata() for line in picture.axes[0].get_lines() if line.get_gid() == "series"]


def test_the_step_slider_moves_every_picture_to_that_step_without_re_running(dataset, trained):
    d = Dashboard(dataset=dataset, snapshots=10, steps=45)
    run, pictures = d.session.run, d._pictures
    assert list(d.step.options) == [0, 10, 20, 30, 40, 44] and d.step.value == 44 and d.step in descendants(d)
    last_tables = d.tables_html.value
    d.step.value = 20
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
    assert d.tables_html.value == last_tables and len(trained) == 1 and not d.errors.outputs  # no new run
    assert (
        page_text(d._panel.step_note) == "pictures at step 20; the findings and tables below are at the last step, 44"
    )
    d.step.value = 44  # the last step: the run's own records again
    assert [list(y) for y in drawn(pictures["gradients"])] == [
        list(h.density) for h in nbdiag.stats.gradient_histograms(run)
    ]
    assert not [line for line in pictures["update_ratios"].axes[0].get_lines() if line.get_gid() == "step"]
    assert page_text(d._panel.step_note) == ""
    d.controls["steps"].value = 25  # a new run: the slider offers its steps, at its last
    assert list(d.step.options) == [0, 10, 20, 24] and d.step.value == 24 and len(trained) == 2
    d.close()


def test_a_blitted_frame_at_a_step_equals_a_full_render(dataset):
    widgets_before = open_widgets()
    d = Dashboard(dataset=dataset, snapshots=5, steps=20)
    shown_in_a_page(d)
    for step in (5, 10, 0, 19, 15):
        d.step.value = step
        for figure in d.figures.values():
            frame = np.asarray(figure.canvas.get_renderer().buffer_rgba()).copy()
            figure.canvas.draw()
            assert np.array_equal(frame, np.asarray(figure.canvas.get_renderer().buffer_rgba()))
    d.close()
    assert open_widgets() == widgets_before  # the step slider and its note closed with the rest


def test_healthy_bands_are_shaded_in_the_dashboard(dataset):
    d = Dashboard(dataset=dataset, controls=["activation"])

    def bands(view):
        return [p for p in d._pictures[view].axes[0].patches if p.get_gid() == "healthy_band"]

    assert len(bands("update_ratios")) == 1 and len(bands("activations")) == 1 and not bands("gradients")
    d.controls["activation"].value = "linear"  # no tanh: no tanh band on the Linear outputs
    assert not bands("activations") and len(bands("update_ratios")) == 1
    d.controls["activation"].value = "relu"  # another activation: nor its band (tanh's)
    assert not bands("activations")
    d.controls["activation"].value = "tanh"
    assert len(bands("activations")) == 1
    d.close()


def recorded(snapshots=None):
    """What nbdiag.watch records of a small torch.nn model trained 12 steps with Adam."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32), torch.nn.Tanh(), torch.nn.Linear(32, 3)
    )
    return train_watched(model, 12, torch.optim.Adam, 0.01, inputs=8, classes=3, lr=0.01, snapshots=snapshots)


def test_a_watched_torch_nn_run_shows_in_the_same_dashboard_views():
    from nbdiag import health

    rec = recorded(snapshots=4)
    d = Dashboard(run=rec)
    assert not d.controls and tuple(d.figures) == VIEWS and not d.errors.outputs
    assert page_text(d.tables_html) == tables(rec) and page_text(d.status).startswith("recorded 12 steps")
    assert page_text(d.verdicts) == health.format_findings(health.diagnose(rec))
    assert [list(y) for y in drawn(d._pictures["activations"])] == [
        list(h.density) for h in nbdiag.stats.activation_histograms(rec)
    ]
    assert "layer 1 (ReLU)" in d._pictures["activations"].legends[0].value
    assert list(d.step.options) == [0, 4, 8, 11]  # the kept snapshots and the last step
    d.step.value = 4
    assert "at step 4" in page_text(d._pictures["weight_gradients"].titles[0]) and not d.errors.outputs
    d.close()
    assert Dashboard(run=recorded()).step is None  # no snapshots, no slider


@pytest.mark.parametrize(
    "kwargs, option", [(dict(gain=3), "gain"), (dict(controls=["lr"]), "controls"), (dict(snapshots=5), "snapshots")]
)
def test_a_recorded_run_cannot_be_re_run_and_says_why(kwargs, option):
    with pytest.raises(ConfigError, match=f"{option}: a recorded run is shown as it is"):
        Dashboard(run=recorded(), **kwargs)
    with pytest.raises(ConfigError, match="run must be"):
        Dashboard(run="my_run.pt")


def test_the_saturation_over_time_view_follows_the_step_slider(dataset):
    d = Dashboard(dataset=dataset, snapshots=10, steps=45, views=[*VIEWS, "saturation_over_time"], gain=3)
    picture = d._pictures["saturation_over_time"]
    records = nbdiag.stats.activations_over_time(d.session.run)
    assert [list(y) for y in drawn(picture)] == [list(r.saturated) for r in records]
    assert min(records[0].saturated) > 40  # gain 3: the lesson's 47.66% at step 0, and it stays high
    assert [p.get_gid() for p in picture.axes[0].patches] == ["healthy_band"]
    d.step.value = 30
    [marker] = [line for line in picture.axes[0].get_lines() if line.get_gid() == "step"]
    assert list(marker.get_xdata()) == [30, 30] and "at step" not in page_text(picture.titles[0])
    d.close()
    with pytest.raises(ConfigError, match="views: saturation_over_time .* snapshots=N"):
        Dashboard(dataset=dataset, views=["saturation_over_time"])


def test_a_seed_beyond_the_browsers_range_is_refused_with_the_range_in_whole_numbers(dataset):
    with pytest.raises(ConfigError, match=r"seed=2\*\*60|seed=1152921504606846976") as error:
        Dashboard(dataset=dataset, seed=2**60)
    assert "0 to 9007199254740991" in str(error.value) and "e+" not in str(error.value)


# -- layout: what the browser test (tests/system/test_browser.py) measures in the page, checked without a browser

NOTEBOOK_COLUMN = 848  # px: the output area of a cell in JupyterLab 4 in a 1280 px window, file browser open
IPYMPL_FRAME = 8  # px: what an ipympl figure adds around its canvas


def cut_texts(figure):
    """The axes whose tick labels, axis labels or offset texts ("1e-5") a render would cut at the figure's edges."""
    renderer, edges = figure.canvas.get_renderer(), figure.bbox
    cut = []
    for ax in figure.axes:
        box = ax.get_tightbbox(renderer)  # what the axes draw, ticks outside the limits left out
        if box.x0 < edges.x0 - 0.5 or box.y0 < edges.y0 - 0.5 or box.x1 > edges.x1 + 0.5 or box.y1 > edges.y1 + 0.5:
            cut.append(f"{ax.get_title()!r}: {box.extents.round()} in {edges.extents.round()}")
    return cut


def test_every_row_of_pictures_fits_a_1280_px_notebook_column(dataset):
    d = Dashboard(dataset=dataset, snapshots=10, steps=20, views=[*VIEWS, "saturation_over_time"])
    c = Comparison(dict(batchnorm=False), dict(batchnorm=True), dataset=dataset)
    pictures = list(d._pictures.values())
    rows = [pictures[i : i + 2] for i in range(0, len(pictures), 2)] + [[p] for p in c._pictures.values()]
    for row in rows:
        widths = [p.figure.bbox.width + IPYMPL_FRAME for p in row]
        assert sum(widths) <= NOTEBOOK_COLUMN, f"{[p.view.name for p in row]}: {widths} px"
        for p in row:  # the titles and legends over each column of a picture: together as wide as its figure
            assert sum(float(t.layout.width.removesuffix("px")) for t in p.titles) <= p.figure.bbox.width + 1
    d.close()
    c.close()


@pytest.mark.parametrize(
    "config",
    [
        dict(),
        dict(steps=1),
        dict(gain=3),
        dict(gain=0.5, depth=10),  # gradients' densities in the millions: "-500000", then "1e6" over the axes
        dict(gain=0.2, depth=10),
        dict(batchnorm=True, gain=0.2),
        dict(lr=10.0),  # diverged
    ],
)
def test_no_tick_or_axis_label_is_cut_at_a_figures_edge(dataset, config):
    views = [*VIEWS, "saturation_over_time"]
    d = Dashboard(dataset=dataset, snapshots=10, views=views, **{"steps": 30, **config})
    c = Comparison(dict(), config, dataset=dataset)
    for figure in [*d.figures.values(), *c.figures.values()]:
        assert not cut_texts(figure)
    d.close()
    c.close()


def test_findings_and_tables_wrap_between_words_and_read_as_their_text(dataset):
    from nbdiag import health

    c = Comparison(dict(), dict(gain=3), dataset=dataset)
    for panel in (c.left, c.right):
        for widget, text in (
            (panel.verdicts, health.format_findings(health.diagnose(panel.shown))),
            (panel.tables, tables(panel.shown)),
        ):
            assert page_text(widget) == text  # the tags add no character: a copy from the page reads the text
            assert "break-all" not in widget.value and "anywhere" not in widget.value
            assert widget.value.count("word-break:normal") == text.count("\n") + 1  # every line
    c.close()


def test_the_gain_buttons_follow_the_activation(dataset):
    d = Dashboard(dataset=dataset, controls=["gain", "activation"])
    assert list(d.presets) == ["0.5", "1", "5/3", "3"] and d.presets["5/3"].button_style == "info"
    d.controls["activation"].value = "relu"
    assert list(d.presets) == ["0.5", "1", "√2", "3"] and d.presets["√2"].button_style == "info"
    d.presets["√2"].click()
    assert d.session.config.gain == 2**0.5 and d.session.config.activation == "relu"
    assert "ReLU" in page_text(d.tables_html)
    d.controls["activation"].value = "sigmoid"  # its gain is 1, one of the lesson's: no fifth button
    assert list(d.presets) == ["0.5", "1", "3"] and d.presets["1"].button_style == "info"
    d.close()
