"""What nbdiag knows of each activation, in one table: its gain, where it is flat, and how to say so.

Every module that needs a fact about an activation reads it here: the statistics and the snapshots (the
saturation rule), the sweep, the health findings (flat parts, dead units, the suited gain), the plots' healthy
band and the dashboard's gain buttons. A layer's `kind` is its class name ('Tanh', 'ReLU'), the same for the
from-scratch layers and torch.nn's.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch

SATURATION_THRESHOLD = 0.97  # |tanh output| above this counts as saturated: its local gradient is < 6% of the maximum
SIGMOID_MARGIN = 0.03  # sigmoid output within this of 0 or 1 counts as saturated: its slope is < 12% of the maximum
# GELU is flat only for inputs below about -3 (slope under 1.3%). Its output cannot tell: an output just below 0
# comes from such an input or from one just below 0, where the slope is 0.5. So GELU's rule reads its input.
GELU_FLAT_INPUT = -3.0
LESSON_GAINS = {"0.5": 0.5, "1": 1.0, "5/3": 5 / 3, "3": 3.0}  # the lesson's four gains, exactly


def _tanh_flat(t):
    return t.abs() > SATURATION_THRESHOLD


def _sigmoid_flat(t):
    return (t < SIGMOID_MARGIN) | (t > 1 - SIGMOID_MARGIN)


def _relu_flat(t):
    return t == 0  # the unit is off: its gradient is zero


def _gelu_flat(x):
    return x < GELU_FLAT_INPUT  # x: GELU's input


@dataclass(frozen=True)
class ActivationFacts:
    """One activation, described once."""

    name: str  # Config.activation's word: 'tanh'
    kind: str | None  # its layer's class name, 'Tanh'; None for 'linear', which is no layer at all
    gain: float  # the gain that keeps a signal's size through layers of it (torch.nn.init.calculate_gain's)
    gain_label: str  # that gain as a student writes it: '5/3', '√2'
    gain_source: str  # where that gain comes from, in words
    flat: Callable | None  # flat(t): mask of outputs on its flat part, where little gradient passes; None: it has none
    flat_words: str  # where outputs count as saturated, in words
    flat_label: str  # the tables' name for the share on the flat part: 'saturated', or ReLU's 'zero'
    flat_tails: bool  # its flat parts are the ends of its range (tanh, sigmoid): saturation there is a problem
    can_die: bool  # a unit can get stuck on the flat part for every example, and pass no gradient
    output_range: tuple | None  # (low, high) its outputs never leave, if any: a snapshot's fixed bins
    healthy_output: tuple | None  # (low, high) outputs where its slope is healthy, for plots to shade, if any
    flat_reads_input: bool = False  # `flat` takes the layer's input, not its output (GELU's: see GELU_FLAT_INPUT)
    bounded: bool = False  # its outputs stay within a bounded range: too much gain saturates it rather than grows it

    @property
    def presets(self):
        """The gain buttons: 0.5, 1, 3 and the gain that suits it (tanh's 5/3: the lesson's four), by value."""
        presets = {"0.5": 0.5, "1": 1.0, "3": 3.0, self.gain_label: self.gain}
        return dict(sorted(presets.items(), key=lambda item: item[1]))

    @property
    def suits(self):
        """'5/3 suits tanh'."""
        return f"{self.gain_label} suits {self.name}"


_RELU_GAIN = torch.nn.init.calculate_gain("relu")
FACTS = {
    facts.name: facts
    for facts in (
        ActivationFacts(
            "tanh",
            "Tanh",
            torch.nn.init.calculate_gain("tanh"),
            "5/3",
            "calculate_gain('tanh') = 5/3",
            _tanh_flat,
            f"on the flat tails of tanh (|t| > {SATURATION_THRESHOLD:g})",
            "saturated",
            flat_tails=True,
            can_die=True,
            output_range=(-1.0, 1.0),
            healthy_output=(-SATURATION_THRESHOLD, SATURATION_THRESHOLD),
            bounded=True,
        ),
        ActivationFacts(
            "relu",
            "ReLU",
            _RELU_GAIN,
            "√2",
            "calculate_gain('relu') = √2",
            _relu_flat,
            "exactly 0 (the ReLU is off)",
            "zero",
            flat_tails=False,
            can_die=True,
            output_range=None,
            healthy_output=None,
        ),
        ActivationFacts(
            "gelu",
            "GELU",
            _RELU_GAIN,  # calculate_gain has no GELU: ReLU's, which GELU resembles away from 0
            "√2",
            "ReLU's √2 (calculate_gain has no GELU)",
            _gelu_flat,
            f"on GELU's flat part (inputs below {GELU_FLAT_INPUT:g})",
            "saturated",
            flat_tails=False,
            can_die=True,
            output_range=None,
            healthy_output=None,
            flat_reads_input=True,
        ),
        ActivationFacts(
            "sigmoid",
            "Sigmoid",
            torch.nn.init.calculate_gain("sigmoid"),
            "1",
            "calculate_gain('sigmoid') = 1",
            _sigmoid_flat,
            f"on the flat tails of the sigmoid (t < {SIGMOID_MARGIN:g} or t > {1 - SIGMOID_MARGIN:g})",
            "saturated",
            flat_tails=True,
            can_die=True,
            output_range=(0.0, 1.0),
            healthy_output=None,
            bounded=True,
        ),
        ActivationFacts(
            "linear",
            None,
            torch.nn.init.calculate_gain("linear"),
            "1",
            "calculate_gain('linear') = 1",
            None,
            "no flat part",
            "saturated",
            flat_tails=False,
            can_die=False,
            output_range=None,
            healthy_output=None,
        ),
    )
}
NAMES = tuple(FACTS)  # the activations a Config and a sweep take: 'tanh', 'relu', 'gelu', 'sigmoid', 'linear'
_BY_KIND = {facts.kind: facts for facts in FACTS.values() if facts.kind is not None}


def of_kind(kind):
    """The facts of a layer of class `kind` ('Tanh', 'ReLU'), or None for a layer that is no activation we know."""
    return _BY_KIND.get(kind)


def named_gain(gain):
    """'5/3' or '√2' for a suited gain (or a slider's 1.67 or 1.41 that means it), else None."""
    return next((f.gain_label for f in FACTS.values() if round(f.gain, 2) == round(gain, 2)), None)


def rule(kind, threshold=None):
    """How outputs of a `kind` layer count as saturated: a `threshold` on |output| if given, else its activation's
    flat part (ActivationFacts.flat); None where there is none: a layer that is no activation we know (a Linear, an
    nn.SiLU) or one without a flat part. A flat part that reads the layer's input (GELU) needs that input."""
    if threshold is not None:
        return lambda t: t.abs() > threshold
    facts = of_kind(kind)
    return None if facts is None else facts.flat


def reads_input(kind, threshold=None):
    """Whether a `kind` layer's rule reads its input rather than its output (GELU's, without a threshold)."""
    facts = of_kind(kind)
    return threshold is None and facts is not None and facts.flat_reads_input


def saturated(t, kind, threshold=None, inputs=None):
    """Mask of the outputs `t` of a `kind` layer on its flat part, where little gradient passes (see `rule`); None
    where the layer has no such rule, or its rule reads the layer's `inputs` and they are not given."""
    flat = rule(kind, threshold)
    if flat is None:
        return None
    if reads_input(kind, threshold):
        return None if inputs is None else flat(inputs)
    return flat(t)


def saturated_percent(t, kind, threshold=None, dim=None, inputs=None):
    """Percent of the finite values of `t` that are saturated (over `dim`, or all of them), in t's float dtype;
    None where `saturated` has no mask (no flat part: 'n/a').

    Non-finite values lie on no part of the activation: they count neither way, and where no value is finite
    the percent is nan."""
    mask = saturated(t, kind, threshold, inputs)
    if mask is None:
        return None
    dtype = t.dtype if t.is_floating_point() else torch.float32
    finite = torch.isfinite(t)
    dims = () if dim is None else tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    if finite.all():  # the usual case, computed as the lesson does: mean of the mask
        return (mask.to(dtype).mean(dim=dims) if dims else mask.to(dtype).mean()) * 100
    counted, total = (mask & finite).to(dtype), finite.to(dtype)
    return (counted.sum(dim=dims) / total.sum(dim=dims) if dims else counted.sum() / total.sum()) * 100
