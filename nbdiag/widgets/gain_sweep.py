"""GainSweep: why 5/3, at initialization (nbdiag.sweep), as a widget.

Top: the last hidden layer's std and saturated share at initialization against the gain, one line per depth,
the gain marked. Below: the histograms of the chosen network's hidden layers. Its figure is a
nbdiag.picture.LiveFigure (ipympl's canvas, or a PNG elsewhere); its still, nbdiag.still's.
"""

import base64
import html
import math
import numbers

import ipywidgets as W

from .. import plots, still
from .. import sweep as sweeps
from ..activations import FACTS
from ..config import ConfigError, format_number, parse_number
from ..picture import SWEEP_FIGSIZE, LiveFigure, draw_network, sweep_axes
from ..train import one_thread
from . import layout, schedule
from .controls import SLIDER_WIDTH, STYLE

GAIN_LIMITS = (0.1, 4.0)  # the gain slider's range


def _shown(value):
    """`value` for an error message: its repr, cut short."""
    return repr(value) if len(repr(value)) <= 40 else f"{repr(value)[:37]}..."


def _checked(activation, depth, gain):
    """The start (activation, depth, gain) as GainSweep takes it, the gain as a float (None: the activation's
    suited gain; text as Config reads it, '5/3' or '√2'); else a ConfigError in one line naming the setting."""
    if not isinstance(activation, str) or activation not in sweeps.SWEPT:
        raise ConfigError(f"activation must be one of {', '.join(sweeps.SWEPT)}, got {_shown(activation)}")
    if isinstance(depth, bool) or not isinstance(depth, numbers.Integral) or depth not in sweeps.DEPTHS:
        raise ConfigError(f"depth must be one of {', '.join(map(str, sweeps.DEPTHS))}, got {_shown(depth)}")
    low, high = GAIN_LIMITS
    wrong = f"gain must be a number from {low:g} to {high:g} such as 1, 5/3 or '√2', got"
    if gain is None:
        gain = FACTS[activation].gain
    elif isinstance(gain, str):
        try:
            gain = parse_number(gain, "gain")
        except ConfigError:
            raise ConfigError(f"{wrong} {_shown(gain)}") from None
    elif isinstance(gain, bool) or not isinstance(gain, numbers.Real):
        raise ConfigError(f"{wrong} {_shown(gain)}")
    try:
        gain = float(gain)
    except OverflowError:  # an int beyond float's range
        gain = math.inf
    if not low <= gain <= high:  # NaN too
        raise ConfigError(f"{wrong} {format_number(gain) if math.isfinite(gain) else gain}")
    return activation, int(depth), gain


class GainSweep(W.VBox):
    """Why 5/3: pick an activation and a depth and see the gain sweep; move the gain and see that network's layers.

    An activation's sweep is computed once and kept: moving the gain or the depth runs one network forward,
    nothing more. GainSweep(activation="relu", depth=20, gain=1.6) sets the start (gain: calculate_gain's by
    default; text as Config reads it, "5/3" or "√2"). Its widgets: activation, depth, gain, preset (calculate_gain's
    gain), readout, errors, and image (the figure's widget); `figure` and `axes` are its matplotlib figure and axes.
    """

    def __init__(self, activation="tanh", depth=sweeps.DEPTHS[-1], gain=None):
        activation, depth, gain = _checked(activation, depth, gain)
        self._sweeps = {}  # activation -> its Sweep, computed on first use
        self.activation = W.ToggleButtons(options=sweeps.SWEPT, value=activation, description="activation", style=STYLE)
        self.depth = W.ToggleButtons(
            options=[(str(d), d) for d in sweeps.DEPTHS], value=depth, description="hidden layers", style=STYLE
        )
        self.gain = W.FloatSlider(
            value=gain,
            min=GAIN_LIMITS[0],
            max=GAIN_LIMITS[1],
            step=0.01,
            readout_format=".2f",
            description="gain",
            continuous_update=True,  # one network forward and a redraw: quick enough to follow a drag
            style=STYLE,
            layout=W.Layout(**SLIDER_WIDTH),
        )
        self.preset = W.Button(layout=W.Layout(width="auto"))  # calculate_gain's value for the activation
        self.preset.on_click(self._set_suited_gain)
        self.readout = W.HTML()
        self.errors = W.Output()  # a failing callback's traceback shows here, never lost in the kernel's log
        self._picture = LiveFigure(SWEEP_FIGSIZE, sweep_axes)
        self.figure, self.image, self.axes = self._picture.figure, self._picture.image, self._picture.axes
        self.shown = None  # (activation, depth, gain) of the pictures, once drawn
        self.shown_readout = None  # the readout line of what the pictures show, once drawn
        self._shown_histograms = None
        self._redraws = schedule.Debouncer(self.refresh)  # a drag's burst of messages: one redraw, of the latest
        for control in (self.activation, self.depth, self.gain):
            control.observe(lambda _change: self._redraws.request(), names="value")
        self._show()
        gain_row = W.HBox([self.gain, self.preset], layout=W.Layout(**layout.WRAPPING))
        super().__init__([self.activation, self.depth, gain_row, self.readout, self.errors, self.image])

    @property
    def chosen_sweep(self):
        """The Sweep of the chosen activation: computed the first time it is chosen, then kept."""
        name = self.activation.value
        if name not in self._sweeps:
            self._sweeps[name] = sweeps.sweep_gains(name)
        return self._sweeps[name]

    def _chosen_gain(self):
        """The slider's gain, or calculate_gain's exact value when the slider shows it (1.67 is 5/3)."""
        suited = FACTS[self.activation.value].gain
        return suited if round(self.gain.value, 2) == round(suited, 2) else round(self.gain.value, 2)

    def _set_suited_gain(self, _button):
        self.gain.value = FACTS[self.activation.value].gain

    def refresh(self):
        """Show the controls' activation, depth and gain; a failure shows in self.errors."""
        try:
            self._show()
        except Exception:
            schedule.show_error(self.errors)

    def _network(self, activation, depth, gain):
        """The chosen network's histograms and its one-line readout."""
        with one_thread():
            layers = sweeps.hidden_layers(activation, gain, depth)
            histograms = sweeps.histograms(activation, gain, depth, records=layers)
            std, share = (t.item() for t in sweeps.measure(layers[-1].out, activation, layers[-1].input))
        return histograms, sweeps.describe(activation, gain, depth, std, share)

    def _show(self):
        """Draw the controls' choice: the curves only for a new activation or depth, the network every time."""
        chosen = activation, depth, gain = self.activation.value, self.depth.value, self._chosen_gain()
        sweep, (histograms, line) = self.chosen_sweep, self._network(*chosen)
        if self.shown is None or self.shown[:2] != (activation, depth):  # a moved gain leaves the curves alone
            plots.plot_gain_sweep(sweep, self.axes[:2], highlight=depth, gain=gain)
            self.preset.description = f"calculate_gain: {sweep.facts.gain_label}"
            self.preset.tooltip = sweep.facts.gain_source
        draw_network(self.axes, activation, gain, histograms, line)
        self._picture.redraw()
        self.readout.value = f"<b>{html.escape(line)}</b>"
        self.shown, self.shown_readout, self._shown_histograms = chosen, line, histograms
        if self.errors.outputs:
            self.errors.outputs = ()

    def still_png(self):
        """What the widget shows, as a still PNG for pages that cannot run it (the lessons' stored outputs)."""
        activation, depth, gain = self.shown
        return still.gain_sweep_png(self._sweeps[activation], depth, gain, self._shown_histograms, self.shown_readout)

    def _repr_mimebundle_(self, **kwargs):
        """The widget and its readout, and for pages that cannot run it (not a live one) a still PNG of what it shows."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None or self.shown is None:
            return bundle
        bundle["text/plain"] = self.shown_readout
        if not schedule.live_page():  # a live page shows the widget at once; the still would only delay it
            bundle["image/png"] = base64.b64encode(self.still_png()).decode("ascii")
        return bundle

    def close(self):
        """Close the figure and every widget."""
        layout.close_tree(self)
