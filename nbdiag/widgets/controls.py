"""The controls: one per option the dashboard offers, made from its description (nbdiag.config.Option).

Here too what a control sends back is turned into the config value it means (a slider's 1.67 is 5/3), the
gain buttons (the lesson's gains and the one that suits the activation, nbdiag.activations), and the one line a
student reads of a config's settings.
"""

import dataclasses
import math
from collections.abc import Iterable

import ipywidgets as W

from ..activations import FACTS, LESSON_GAINS
from ..config import TYPES, Config, ConfigError, format_number
from .layout import WRAPPING

CONTROLS = (
    "gain",
    "activation",
    "lr",
    "optimizer",
    "batchnorm",
    "residual",
    "fan_in_scaling",
    "depth",
    "n_hidden",
    "steps",
    "seed",
)

STYLE = {"description_width": "10em"}  # every control's label, so that the controls line up
# a slider narrows in a column narrower than 34em (its margins, --jp-widgets-margin, are outside 100%)
SLIDER_WIDTH = dict(width="34em", max_width="calc(100% - 2 * var(--jp-widgets-margin, 2px))")
SLIDERS = (W.FloatSlider, W.FloatLogSlider, W.IntSlider)


def snap_gain(value):
    """The slider's value to its 0.01 step, or the preset it shows (1.67 is 5/3).

    The browser's slider sends typed 3 back as 3.0000000000000004; the config gets 3.0.
    """
    value = round(value, 2)
    presets = [*LESSON_GAINS.values(), *(facts.gain for facts in FACTS.values())]
    return next((preset for preset in presets if round(preset, 2) == value), value)


def snap_lr(value):
    """The log slider's value to 3 significant digits: 0.09999999999999991 from the browser is 0.1."""
    return float(f"{value:.3g}")


_SNAP = {"gain": snap_gain, "lr": snap_lr}  # what a float control sends back, as the config value it means


def config_value(name, value):
    """A control's value as option `name`'s value."""
    return _SNAP[name](value) if name in _SNAP else TYPES[name](value)


def control(name, value):
    """The control that config.Config's Option for `name` describes, showing `value`."""
    option = Config.option(name)
    label, (low, high) = option.label or name, option.limits or (None, None)
    if option.control == "switch":
        return W.Checkbox(
            value=value,
            description=label,
            tooltip=option.help,
            indent=False,
            layout=W.Layout(width="auto", margin="0 2em 0 0"),
        )
    if option.control == "buttons":
        return W.ToggleButtons(
            options=option.choices,
            value=value,
            description=label,
            tooltip=option.help,
            style={**STYLE, "button_width": "5.5em"},
        )
    if option.control == "box":
        return W.BoundedIntText(value=value, min=low, max=high, description=label, tooltip=option.help, style=STYLE)
    common = dict(
        value=value,
        description=label,
        tooltip=option.help,
        continuous_update=option.live,
        style=STYLE,
        layout=W.Layout(**SLIDER_WIDTH),
    )
    if option.control == "log slider":
        return W.FloatLogSlider(
            base=10, min=math.log10(low), max=math.log10(high), step=0.1, readout_format=".3g", **common
        )
    if TYPES[name] is float:
        return W.FloatSlider(min=low, max=high, step=option.step, readout_format=".2f", **common)
    return W.IntSlider(min=low, max=high, step=option.step, **common)


def make_controls(names, config):
    """A control per name, showing `config`; ConfigError when a value lies outside its control's range."""
    values, controls = dataclasses.asdict(config), {}
    for name in names:
        value = values[name]
        controls[name] = control(name, value)
        limits = Config.option(name).limits
        if limits and not limits[0] <= value <= limits[1]:
            low, high = map(format_number, limits)
            raise ConfigError(f"{name}={value!r} is outside its control's range, {low} to {high}")
    return controls


def chosen(names, allowed, kind, at_least_one=False):
    """`names` (one name, or several) as a list; ConfigError naming the first that is not one of `allowed`, or, with
    `at_least_one`, saying that none was named."""
    if isinstance(names, str):
        names = [names]
    elif isinstance(names, Iterable):
        names = list(names)
    else:
        raise ConfigError(
            f"{kind}s must be a {kind}'s name or a list of them (the {kind}s are {', '.join(allowed)}), got {names!r}"
        )
    for name in names:
        if not isinstance(name, str) or name not in allowed:
            raise ConfigError(f"unknown {kind} {name!r}; the {kind}s are {', '.join(allowed)}")
    if at_least_one and not names:
        raise ConfigError(f"{kind}s must name at least one of {', '.join(allowed)}, got none")
    return names


def describe(config):
    """One line a student can read: the dashboard's settings of the run (the status line gives its steps)."""
    values = dataclasses.asdict(config)

    def shown(name):
        value = values[name]
        return ("on" if value else "off") if TYPES[name] is bool else format_number(value)

    return " · ".join(f"{Config.option(name).label or name} {shown(name)}" for name in CONTROLS if name != "steps")


def gain_presets(activation):
    """The gain buttons' values for `activation`: 0.5, 1, 3 and the gain that suits it (tanh's 5/3: the lesson's
    four), by label."""
    return FACTS[activation].presets


def preset_buttons(activation, set_gain):
    """A gain button per preset of `activation`, by label, the one that suits it marked; a click calls
    set_gain(value)."""
    facts = FACTS[activation]
    buttons = {}
    for label, value in gain_presets(activation).items():
        buttons[label] = button = W.Button(
            description=label,
            tooltip=f"gain {label}" + (f": {facts.gain_source}" if label == facts.gain_label else ""),
            button_style="info" if label == facts.gain_label else "",
            layout=W.Layout(width="3.6em", min_width="3.6em"),
        )
        button.on_click(lambda _button, value=value: set_gain(value))
    return buttons


def control_box(controls, presets, step_row=None):
    """One control per row; the on/off switches share a row, the gain's `presets` (a box) sit by its slider, and
    `step_row`, if any, comes last.

    A row too wide for its column wraps: the presets (together) go under the gain slider, switches under switches.
    """
    rows, switches = [], W.HBox(layout=W.Layout(padding="0 0 0 10.5em", **WRAPPING))
    for name, widget in controls.items():
        if isinstance(widget, W.Checkbox):
            if not switches.children:
                rows.append(switches)
            switches.children += (widget,)
        elif name == "gain":
            rows.append(W.HBox([widget, presets], layout=W.Layout(**WRAPPING)))
        else:
            rows.append(widget)
    if step_row is not None:
        rows.append(step_row)
    box = W.VBox(rows)
    box.add_class("nbdiag-controls")
    return box
