"""nbdiag.widgets.controls: a control per option, with the student's labels and ranges; the values a control sends
back as the config values they mean; the gain buttons; the settings line."""

import dataclasses
import html
import re

import ipywidgets as W
import pytest

import nbdiag.session
import nbdiag.stats
from nbdiag import Config, ConfigError
from nbdiag.activations import FACTS, LESSON_GAINS
from nbdiag.widgets import CONTROLS, Dashboard
from nbdiag.widgets.controls import chosen, config_value, describe, preset_buttons, snap_gain, snap_lr

pytestmark = pytest.mark.usefixtures("ipympl_backend")  # the lessons' backend: figures are ipympl's canvases


def page_text(html_widget):
    """The text a student reads in an HTML widget."""
    return html.unescape(re.sub(r"<[^>]+>", "", html_widget.value))


def test_controls_have_student_labels_and_ranges_that_give_valid_configs(dataset):
    d = Dashboard(dataset=dataset)
    c = d.panel.controls
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
    assert d.panel.session.config.gain == 0.2 and not d.panel.errors.outputs


def test_gain_presets_set_the_exact_lesson_values(dataset):
    d = Dashboard(controls=["gain"], views=["activations"], dataset=dataset)
    assert list(d.panel.presets) == ["0.5", "1", "5/3", "3"]
    for label, value in [("3", 3.0), ("0.5", 0.5), ("1", 1.0), ("5/3", 5 / 3)]:
        d.panel.presets[label].click()
        assert d.panel.session.config.gain == value and d.panel.session.run.config.gain == value
    assert d.panel.session.config.gain == 5 / 3 == LESSON_GAINS["5/3"]


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
    d = Dashboard(controls=[name], views=["activations"], dataset=dataset, gain=1)
    d.panel.controls[name].value = sent
    assert dataclasses.asdict(d.panel.session.config)[name] == expected


def test_a_value_outside_a_hidden_controls_range_is_fine(dataset):
    d = Dashboard(controls=["lr"], views=["activations"], dataset=dataset, gain=10)
    assert d.panel.session.config.gain == 10


def test_a_seed_beyond_the_browsers_range_is_refused_with_the_range_in_whole_numbers(dataset):
    with pytest.raises(ConfigError, match=r"seed=2\*\*60|seed=1152921504606846976") as error:
        Dashboard(dataset=dataset, seed=2**60)
    assert "0 to 9007199254740991" in str(error.value) and "e+" not in str(error.value)


def test_the_gain_buttons_follow_the_activation(dataset):
    d = Dashboard(dataset=dataset, controls=["gain", "activation"])
    assert list(d.panel.presets) == ["0.5", "1", "5/3", "3"] and d.panel.presets["5/3"].button_style == "info"
    d.panel.controls["activation"].value = "relu"
    assert list(d.panel.presets) == ["0.5", "1", "√2", "3"] and d.panel.presets["√2"].button_style == "info"
    d.panel.presets["√2"].click()
    assert d.panel.session.config.gain == 2**0.5 and d.panel.session.config.activation == "relu"
    assert "ReLU" in page_text(d.panel.tables_html)
    d.panel.controls["activation"].value = "sigmoid"  # its gain is 1, one of the lesson's: no fifth button
    assert list(d.panel.presets) == ["0.5", "1", "3"] and d.panel.presets["1"].button_style == "info"
    d.close()


def test_the_settings_line_names_every_control_but_the_steps_in_the_students_words():
    line = describe(Config(gain=5 / 3, batchnorm=True, lr=0.1))
    assert line.startswith("gain 5/3 · activation tanh · learning rate 0.1 · optimizer sgd")
    assert "batch norm on" in line and "residual off" in line and "training steps" not in line
    assert line.count(" · ") == len(CONTROLS) - 2


def test_a_controls_value_is_snapped_to_the_config_value_it_shows():
    assert snap_gain(1.41) == 2**0.5 and snap_gain(1.67) == 5 / 3 and snap_gain(1.234) == 1.23
    assert snap_lr(0.09999999999999991) == 0.1 and config_value("depth", 5.0) == 5 and config_value("lr", 0.1) == 0.1


def test_unknown_names_are_refused_naming_them_and_the_known_ones():
    assert chosen("gain", CONTROLS, "control") == ["gain"]
    with pytest.raises(ConfigError, match="unknown control 'volume'; the controls are gain, activation"):
        chosen(["gain", "volume"], CONTROLS, "control")


@pytest.mark.parametrize("activation", ["tanh", "relu", "gelu", "sigmoid"])
def test_the_suited_gain_buttons_tooltip_says_where_the_gain_comes_from(activation):
    facts = FACTS[activation]
    buttons = preset_buttons(activation, lambda value: None)
    assert buttons[facts.gain_label].tooltip == f"gain {facts.gain_label}: {facts.gain_source}"
    assert all(b.tooltip == f"gain {label}" for label, b in buttons.items() if label != facts.gain_label)
    if activation == "gelu":  # calculate_gain has none: the tooltip never says it has
        assert "calculate_gain has no GELU" in buttons["√2"].tooltip


def test_controls_and_views_must_be_names():
    with pytest.raises(
        ConfigError, match=r"^views must be a view's name or a list of them \(the views are a, b\), got 3$"
    ):
        chosen(3, ("a", "b"), "view")
    with pytest.raises(ConfigError, match=r"^views must name at least one of a, b, got none$"):
        chosen([], ("a", "b"), "view", at_least_one=True)
    with pytest.raises(ConfigError, match=r"^unknown view \['a'\]"):
        chosen([["a"]], ("a", "b"), "view")
    assert chosen((), ("a",), "control") == [] and chosen(iter(["a"]), ("a",), "view") == ["a"]
