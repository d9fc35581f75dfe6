"""What nbdiag knows of each activation, in one table: its gain, where it is flat, and how to say so.

Every module that needs a fact about an activation reads it here: the statistics and the snapshots (the
saturation rule), the sweep, the health findings (flat parts, dead units, the suited gain), the plots' healthy
band and the dashboard's gain buttons. A layer's `kind` is its class name ('Tanh', 'ReLU'), the same for the
from-scratch layers and torch.nn's.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

SATURATION_THRESHOLD = 0.97  # |tanh output| above this counts as saturated: its local gradient is < 6% of the maximum
SIGMOID_MARGIN = 0.03  # sigmoid output within this of 0 or 1 counts as saturated: its slope is < 12% of the maximum
GELU_FLAT = 0.004  # GELU output in (-GELU_FLAT, 0) means an input below about -3, where its slope is under 1.3%
LESSON_GAINS = {"0.5": 0.5, "1": 1.0, "5/3": 5 / 3, "3": 3.0}  # the lesson's four gains, exactly


def _tanh_flat(t):
    return t.abs() > SATURATION_THRESHOLD


def _sigmoid_flat(t):
    return (t < SIGMOID_MARGIN) | (t > 1 - SIGMOID_MARGIN)


def _relu_flat(t):
    return t == 0  # the unit is off: its gradient is zero


def _gelu_flat(t):
    return (t < 0) & (t > -GELU_FLAT)  # inputs below about -3 (and a sliver just below 0: under 1% of a unit normal)


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
    flat_tails: bool  # its flat parts are the ends of its range (tanh, sigmoid): saturation there is a problem
    can_die: bool  # a unit can get stuck on the flat part for every example, and pass no gradient
    output_range: tuple | None  # (low, high) its outputs never leave, if any: a snapshot's fixed bins
    healthy_output: tuple | None  # (low, high) outputs where its slope is healthy, for plots to shade, if any

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
            flat_tails=True,
            can_die=True,
            output_range=(-1.0, 1.0),
            healthy_output=(-SATURATION_THRESHOLD, SATURATION_THRESHOLD),
        ),
        ActivationFacts(
            "relu",
            "ReLU",
            _RELU_GAIN,
            "√2",
            "calculate_gain('relu') = √2",
            _relu_flat,
            "exactly 0 (the ReLU is off)",
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
            "on GELU's flat part below 0",
            flat_tails=False,
            can_die=True,
            output_range=None,
            healthy_output=None,
        ),
        ActivationFacts(
            "sigmoid",
            "Sigmoid",
            torch.nn.init.calculate_gain("sigmoid"),
            "1",
            "calculate_gain('sigmoid') = 1",
            _sigmoid_flat,
            f"on the flat tails of the sigmoid (t < {SIGMOID_MARGIN:g} or t > {1 - SIGMOID_MARGIN:g})",
            flat_tails=True,
            can_die=True,
            output_range=(0.0, 1.0),
            healthy_output=None,
        ),
        ActivationFacts(
            "linear",
            None,
            torch.nn.init.calculate_gain("linear"),
            "1",
            "calculate_gain('linear') = 1",
            None,
            "no flat part",
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


def saturated(t, kind, threshold=None):
    """Mask of the outputs `t` of a `kind` layer that sit on its flat part, where little gradient passes.

    The rule of the kind's ActivationFacts; any other kind (a Linear layer, an activation the table lacks) gets
    tanh's |t| > SATURATION_THRESHOLD, as the lesson prints it. A `threshold` overrides all with |t| > threshold.
    """
    if threshold is not None:
        return t.abs() > threshold
    facts = of_kind(kind)
    return (facts.flat if facts is not None and facts.flat is not None else _tanh_flat)(t)


def saturated_percent(t, kind, threshold=None, dim=None):
    """Percent of the finite values of `t` that are saturated (over `dim`, or all of them), in t's float dtype.

    Non-finite values lie on no part of the activation: they count neither way, and where no value is finite
    the percent is nan. An activation with no flat part (facts.flat None, e.g. sweep's 'linear') has 0.
    """
    dtype = t.dtype if t.is_floating_point() else torch.float32
    if kind is None:  # no layer at all: no flat part
        zeros = torch.zeros(() if dim is None else _reduced_shape(t, dim), dtype=dtype)
        finite = torch.isfinite(t).any() if dim is None else torch.isfinite(t).any(dim=_dims(dim))
        return zeros.masked_fill(~finite, math.nan)
    mask = saturated(t, kind, threshold)
    finite = torch.isfinite(t)
    if finite.all():  # the usual case, computed as the lesson does: mean of the mask
        return (mask.to(dtype).mean() if dim is None else mask.to(dtype).mean(dim=_dims(dim))) * 100
    dims = () if dim is None else _dims(dim)
    counted = (mask & finite).to(dtype).sum(dim=dims) if dims else (mask & finite).to(dtype).sum()
    total = finite.to(dtype).sum(dim=dims) if dims else finite.to(dtype).sum()
    return counted / total * 100  # 0/0: nan where nothing is finite


def _dims(dim):
    return tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)


def _reduced_shape(t, dim):
    dims = {d % t.dim() for d in _dims(dim)}
    return tuple(n for d, n in enumerate(t.shape) if d not in dims)
