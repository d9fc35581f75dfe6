"""The GainSweep widget: a tanh/ReLU/GELU stack's histograms at one gain, redrawn as the student moves it."""

import asyncio
import base64
import html
import io
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
from IPython.core.formatters import DisplayFormatter
from PIL import Image

import nbdiag.sweep
from nbdiag.widgets import GainSweep

ROOT2 = 2**0.5


@pytest.fixture
def counted(monkeypatch):
    """The activations nbdiag.sweep.sweep_gains is called for, in order."""
    calls, original = [], nbdiag.sweep.sweep_gains

    def counting(activation, *args, **kwargs):
        calls.append(activation)
        return original(activation, *args, **kwargs)

    monkeypatch.setattr(nbdiag.sweep, "sweep_gains", counting)
    return calls


def readout(widget):
    """The readout line a student reads."""
    return html.unescape(re.sub(r"<[^>]+>", "", widget.readout.value))


def histogram_data(widget):
    return [line.get_ydata().copy() for line in widget.axes[2].get_lines() if line.get_gid() == "series"]


def test_moving_the_gain_redraws_the_histograms_without_a_new_sweep(ipympl_backend, counted):
    g = GainSweep()
    assert g.image is g.figure.canvas and g.preset.description == "calculate_gain: 5/3"
    assert "tanh, gain 5/3, depth 50: last layer's std 0.63, 3.6% saturated" in readout(g)
    swept, lines, before = g.chosen_sweep, g.axes[2].get_lines(), histogram_data(g)
    g.gain.value = 3.0
    assert counted == ["tanh"] and g.chosen_sweep is swept  # one sweep, at the start
    assert g.axes[2].get_lines() == lines  # the same lines, new data
    assert not all(np.array_equal(a, b) for a, b in zip(before, histogram_data(g)))
    assert "gain 3, depth 50: last layer's std 0.83, 40% saturated" in readout(g)
    (marker,) = [line for line in g.axes[0].get_lines() if line.get_gid() == "gain"]
    assert list(marker.get_xdata()) == [3.0, 3.0]
    g.depth.value = 5
    assert counted == ["tanh"] and "depth 5:" in readout(g) and len(histogram_data(g)) == 5
    g.close()


def test_switching_the_activation_sweeps_it_once_and_moves_the_preset(ipympl_backend, counted):
    g = GainSweep(gain=1.2)
    g.activation.value = "relu"
    assert counted == ["tanh", "relu"] and g.chosen_sweep.activation == "relu"
    assert g.preset.description == "calculate_gain: √2" and g.gain.value == 1.2  # the gain stays where it was
    assert "relu, gain 1.2, depth 50: last layer's std 8.7e-05" in readout(g)
    g.preset.click()
    assert g.gain.value == ROOT2 and "relu, gain √2" in readout(g)
    g.activation.value = "tanh"
    assert counted == ["tanh", "relu"] and g.preset.description == "calculate_gain: 5/3"  # kept, not swept again
    g.gain.value = 1.67  # what the browser's slider sends back for 5/3
    assert "gain 5/3" in readout(g) and g.shown[2] == 5 / 3
    g.close()


def test_the_output_has_a_still_png_for_pages_that_cannot_run_widgets(ipympl_backend):
    g = GainSweep(activation="relu", depth=20, gain=1.6)
    bundle, _metadata = DisplayFormatter().format(g)  # what a notebook stores as the cell's output
    assert "application/vnd.jupyter.widget-view+json" in bundle
    png = base64.b64decode(bundle["image/png"])
    assert png.startswith(b"\x89PNG") and Image.open(io.BytesIO(png)).size[0] > 600
    assert bundle["text/plain"] == "relu, gain 1.6, depth 20: last layer's std 5.9, 48% zero"
    g.close()


def test_other_backends_get_a_png_that_follows_the_gain():
    plt.switch_backend("Agg")
    g = GainSweep()
    before = bytes(g.image.value)
    assert before.startswith(b"\x89PNG") and plt.get_fignums() == []  # not left behind in pyplot
    g.gain.value = 1.0
    assert bytes(g.image.value).startswith(b"\x89PNG") and bytes(g.image.value) != before
    g.close()


def test_a_failing_change_shows_in_the_widget_and_the_next_clears_it(ipympl_backend, monkeypatch):
    g = GainSweep()
    original = nbdiag.sweep.hidden_layers

    def failing(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(nbdiag.sweep, "hidden_layers", failing)
    g.gain.value = 2.0
    (output,) = g.errors.outputs
    assert "RuntimeError: out of memory" in output["text"] and g.shown[2] == 5 / 3  # still the last that worked
    monkeypatch.setattr(nbdiag.sweep, "hidden_layers", original)
    g.gain.value = 2.5
    assert not g.errors.outputs and g.shown[2] == 2.5
    g.close()


def test_in_a_kernel_a_drag_of_the_gain_redraws_once_with_the_latest_value(ipympl_backend, monkeypatch, in_a_kernel):
    async def main():
        g = GainSweep()
        shown, original = [], nbdiag.sweep.hidden_layers

        def counting(activation, gain, depth):  # one network forward per redraw
            shown.append(gain)
            return original(activation, gain, depth)

        monkeypatch.setattr(nbdiag.sweep, "hidden_layers", counting)
        for value in (1.1, 1.2, 1.3, 1.4):  # messages of one drag, arriving before the kernel's next turn
            g.gain.value = value
        assert shown == []  # nothing runs inside the messages themselves
        for _ in range(500):
            await asyncio.sleep(0.01)
            if shown:
                break
        await asyncio.sleep(0.1)
        assert shown == [1.4] and g.shown[2] == 1.4
        g.close()

    asyncio.run(main())


@pytest.mark.parametrize(
    "kwargs, match", [(dict(activation="elu"), "activation"), (dict(depth=7), "depth"), (dict(gain=5.0), "gain")]
)
def test_a_bad_start_is_refused_naming_the_setting(kwargs, match):
    from nbdiag import ConfigError

    with pytest.raises(ConfigError, match=match):
        GainSweep(**kwargs)


@pytest.mark.parametrize(
    "kwargs, gain", [(dict(gain="5/3"), 5 / 3), (dict(activation="relu", gain="√2"), ROOT2), (dict(gain=" 0.5 "), 0.5)]
)
def test_a_gain_is_taken_as_config_takes_it(ipympl_backend, kwargs, gain):
    g = GainSweep(depth=5, **kwargs)
    assert g.shown[2] == gain and g.gain.value == pytest.approx(gain)
    g.close()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(gain=True), r"^gain must be a number from 0.1 to 4 .*, got True$"),
        (dict(gain=float("nan")), r"^gain must be a number from 0.1 to 4 .*, got nan$"),
        (dict(gain=float("inf")), r"^gain must be a number from 0.1 to 4 .*, got inf$"),
        (dict(gain=10**400), r"^gain must be a number from 0.1 to 4 .*, got inf$"),
        (dict(gain="5/0"), r"^gain must be a number from 0.1 to 4 .*, got '5/0'$"),
        (dict(gain="fast"), r"^gain must be a number from 0.1 to 4 .*, got 'fast'$"),
        (dict(gain="9/2"), r"^gain must be a number from 0.1 to 4 .*, got 4.5$"),
        (dict(gain=[1]), r"^gain must be a number from 0.1 to 4 .*, got \[1\]$"),
        (dict(depth="50"), r"^depth must be one of 5, 20, 50, got '50'$"),
        (dict(depth=50.0), r"^depth must be one of 5, 20, 50, got 50.0$"),
        (dict(depth=[50]), r"^depth must be one of 5, 20, 50, got \[50\]$"),
        (dict(activation=["relu"]), r"^activation must be one of tanh, relu, gelu, sigmoid, linear, got \['relu'\]$"),
    ],
)
def test_a_bad_argument_is_refused_in_one_line_naming_it_and_what_it_takes(kwargs, match):
    from nbdiag import ConfigError

    with pytest.raises(ConfigError, match=match):
        GainSweep(**kwargs)
