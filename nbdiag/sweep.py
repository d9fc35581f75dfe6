"""Why 5/3: a sweep of the initial gain through deep stacks of one activation, at initialization, forward only.

The network is the bare question: `depth` hidden layers of `n_hidden` units, each a Linear (randn weights /
sqrt(fan_in) x gain, no bias) and the activation, fed one batch of standard normal inputs. For every gain
it records each layer's output std and saturated share. The first d layers of the deepest network are
the network of depth d (its weights are drawn first, in the same order), so one pass of the deepest network
per gain answers every depth; and all gains go through together, as one batch of batches.

It computes in float64, so that every CPU prints the same numbers. A tanh stack above gain 1 is chaotic: a
difference in the last bit grows layer by layer (at gain 3 about 1.3 times a layer), and in float32, whose
randn itself differs in the last bit between CPU kernels, the 50th layer's std then differs in its third digit
from CPU to CPU. In float64 the same growth leaves the printed digits alone.
"""

import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass

import torch

from .activations import FACTS, NAMES, named_gain, saturated_percent
from .config import ConfigError, parse_number
from .layers import ACTIVATIONS
from .records import LayerRecord
from .stats import histogram, shown
from .train import one_thread

# 0.1 to 4 in steps of 0.1, and each activation's calculate_gain exactly (5/3, √2)
GAINS_SWEPT = tuple(sorted({round(0.1 * k, 1) for k in range(1, 41)} | {facts.gain for facts in FACTS.values()}))
DEPTHS = (5, 20, 50)  # the lecture's depth, and two that only a good gain survives
SWEPT = NAMES  # the activations a sweep takes: layers.ACTIVATIONS and none ("linear")
N_HIDDEN = 100  # units per layer, as in the lecture
BATCH = 100  # inputs in the one batch: 10,000 values per layer, enough for a std and a share to 1%
SEED = 2147483647  # the lecture's generator seed
DTYPE = torch.float64  # the same numbers on every CPU (see above)
# Bounds on a sweep's size, so that no call takes gigabytes or minutes: G gains x depth layers of BATCH x n_hidden
MAX_GAINS = 200
MAX_DEPTH = 200
MAX_HIDDEN = 1024


@dataclass(frozen=True)
class Sweep:
    """Each hidden layer's output std and saturated share at initialization, for every gain."""

    activation: str
    gains: tuple  # (G,)
    depths: tuple  # the depths whose last hidden layer the pictures follow
    std: torch.Tensor  # (max depth, G): row d - 1 is hidden layer d's output std
    saturated: torch.Tensor  # (max depth, G): percent of hidden layer d's outputs on the activation's flat part

    @property
    def facts(self):
        """The activation's activations.ActivationFacts: its suited gain (facts.gain, facts.gain_label) and more."""
        return FACTS[self.activation]

    def at_depth(self, depth):
        """(std, saturated percent) of the last hidden layer of the `depth`-layer network, one per gain."""
        depth = _whole(depth, "depth", 1, len(self.std))
        return self.std[depth - 1], self.saturated[depth - 1]

    def gain_index(self, gain):
        """Where `gain` is among the swept gains; a ConfigError if it was not swept."""
        gain = _gain(gain, "gain")
        for i, swept in enumerate(self.gains):
            if math.isclose(swept, gain, rel_tol=1e-9):
                return i
        low, high = min(self.gains), max(self.gains)
        raise ConfigError(
            f"gain {gain:g} was not swept: this sweep has {len(self.gains)} gains from {low:g} to {high:g}; "
            f"sweep it with sweep_gains({self.activation!r}, gains=(..., {gain:g}))"
        )


def _whole(value, name, low, high):
    """`value` if it is a whole number from `low` to `high`, else a ConfigError naming `name` and the range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return int(value)


def _gain(value, name):
    """A positive finite gain from a number or text ('5/3', '√2'), as Config takes it; else a ConfigError."""
    if isinstance(value, str):
        value = parse_number(value, name)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < float(value) < math.inf:
        raise ConfigError(f"{name} must be a positive number such as 0.5 or 5/3, got {value!r}")
    return float(value)


def _many(values, name, one, most):
    """A non-empty tuple of at most `most` values, each checked by `one`; a ConfigError naming `name` otherwise."""
    if isinstance(values, (str, numbers.Number)) or not isinstance(values, Iterable):
        raise ConfigError(f"{name} must be a sequence such as ({values!r},), got {type(values).__name__} {values!r}")
    values = tuple(values)
    if not 1 <= len(values) <= most:
        raise ConfigError(f"{name} must hold 1 to {most} values, got {len(values)}")
    return tuple(one(v) for v in values)


def _activation(activation):
    """The from-scratch activation layer, or None for "linear" (no activation at all)."""
    if activation not in SWEPT:
        raise ConfigError(f"activation must be one of {', '.join(SWEPT)}, got {activation!r}")
    return ACTIVATIONS[activation]() if activation in ACTIVATIONS else None


def measure(x, activation, inputs=None):
    """(std, saturated percent) of hidden-layer outputs x over their last two dims: (..., B, n_hidden) -> (...,).

    The percent is activations.saturated_percent's, nan where the activation has no flat part (linear); GELU's
    rule reads the layer's `inputs` (its pre-activations)."""
    _activation(activation)  # a clear error for an unknown activation
    share = saturated_percent(x, FACTS[activation].kind, dim=(-2, -1), inputs=inputs)
    return x.std(dim=(-2, -1)), torch.full(x.shape[:-2], math.nan, dtype=x.dtype) if share is None else share


def across_examples(x):
    """How much hidden-layer outputs x still depend on the input: each unit's std over the batch, averaged over the
    units. (..., B, n_hidden) -> (...,). A layer whose every unit gives one value whatever the input has 0 here, however
    large its std over all values (which includes the differences between units)."""
    return x.std(dim=-2).mean(dim=-1)


def _weights(depth, n_hidden, seed):
    """The deepest network's inputs and weights (randn / sqrt(fan_in), as layers.Linear's), drawn in layer order."""
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(BATCH, n_hidden, generator=g, dtype=DTYPE)  # (B, n_hidden)
    weights = [torch.randn(n_hidden, n_hidden, generator=g, dtype=DTYPE) / n_hidden**0.5 for _ in range(depth)]
    return inputs, weights  # weights: depth x (n_hidden, n_hidden)


def _forward(activation, inputs, weights, gain):
    """Each hidden layer's (input of its activation, output) in turn: x @ (w * gain), as the lecture's
    `weight *= gain`, then the activation."""
    layer, x = _activation(activation), inputs
    for w in weights:
        pre = x @ (w * gain)  # (..., B, n_hidden)
        x = pre if layer is None else layer(pre)
        yield pre, x


def _network(n_hidden, seed):
    """The checked network arguments: (n_hidden, seed)."""
    return _whole(n_hidden, "n_hidden", 1, MAX_HIDDEN), _whole(seed, "seed", 0, 2**63 - 1)


def sweep_gains(activation="tanh", gains=GAINS_SWEPT, depths=DEPTHS, n_hidden=N_HIDDEN, seed=SEED):
    """The Sweep of `activation` ("tanh", "relu", "gelu", "sigmoid" or "linear") over `gains` up to max(depths).

    Every argument is checked first (a ConfigError names it and its valid range): at most MAX_GAINS gains and
    depths up to MAX_DEPTH, so that a sweep stays within a few seconds and a few hundred MB."""
    _activation(activation)
    gains = _many(gains, "gains", lambda g: _gain(g, "gains"), MAX_GAINS)
    depths = _many(depths, "depths", lambda d: _whole(d, "depths", 1, MAX_DEPTH), MAX_DEPTH)
    n_hidden, seed = _network(n_hidden, seed)
    inputs, weights = _weights(max(depths), n_hidden, seed)
    # Written in place, row by row: a small result kept from each layer, between the layer's large temporaries
    # (G x B x n_hidden each), would pin them in the heap, and the process's memory would grow by hundreds of MB.
    stds, shares = (torch.empty(len(weights), len(gains), dtype=DTYPE) for _ in range(2))  # (depth, G)
    with one_thread(), torch.no_grad():
        gain = torch.tensor(gains, dtype=DTYPE).view(-1, 1, 1)  # (G, 1, 1): each gain its own weights
        batches = inputs.expand(len(gains), -1, -1)  # (G, B, n_hidden): the same batch for every gain
        for d, (pre, x) in enumerate(_forward(activation, batches, weights, gain)):
            stds[d], shares[d] = measure(x, activation, pre)
    return Sweep(activation, tuple(gains), tuple(depths), stds, shares)


def hidden_layers(activation, gain, depth, n_hidden=N_HIDDEN, seed=SEED):
    """Each hidden layer for one gain, in the same network as the sweep's: a records.LayerRecord per layer (index
    1 to depth; out (B, n_hidden); input: its activation's input, which GELU's flat part reads)."""
    _activation(activation)
    gain, depth = _gain(gain, "gain"), _whole(depth, "depth", 1, MAX_DEPTH)
    n_hidden, seed = _network(n_hidden, seed)
    inputs, weights = _weights(depth, n_hidden, seed)
    kind = FACTS[activation].kind or "Linear"
    with one_thread(), torch.no_grad():
        layers = _forward(activation, inputs, weights, gain)
        return [LayerRecord(d, kind, out, None, input=pre) for d, (pre, out) in enumerate(layers, 1)]


def shown_layers(depth):
    """The hidden layers (1 to depth) a picture or a table of a `depth`-layer network shows: stats.shown's choice."""
    return shown(range(1, depth + 1))


def histograms(activation, gain, depth, layers=None, records=None, **network):
    """stats.Histogram records of some hidden layers' outputs (default: shown_layers(depth)), for
    plots.plot_activations; `records` from hidden_layers saves the forward pass."""
    records = records if records is not None else hidden_layers(activation, gain, depth, **network)
    chosen = (
        shown_layers(depth)
        if layers is None
        else _many(layers, "layers", lambda d: _whole(d, "layers", 1, depth), depth)
    )
    return [histogram(records[d - 1].out, f"layer {d}") for d in chosen]


# -- numbers in words, the same on every CPU: two significant digits


def gain_label(gain):
    """'5/3' or '√2' for calculate_gain's values (and a slider's 1.67 or 1.41 that means them), else '1.37'."""
    return named_gain(gain) or f"{gain:.2f}".rstrip("0").rstrip(".")


def format_std(std):
    """A std in two significant digits: '0.074', '0.50', '3.0', '31', '153', '8.7e-05', '1.2e+03'."""
    if std == 0 or not 0.01 <= abs(std) < 1000:
        return f"{std:.1e}" if std else "0"
    return f"{std:#.2g}".rstrip(".") if abs(std) < 100 else f"{std:.0f}"  # '#' keeps the zero of 0.50


def format_share(percent):
    """A saturated share in two significant digits: '0.0%', '3.6%', '40%'; 'n/a' where there is none (nan)."""
    if math.isnan(percent):
        return "n/a"
    return f"{percent:.1f}%" if percent < 10 else f"{percent:.0f}%"


def describe(activation, gain, depth, std, share):
    """One line on one network: 'tanh, gain 5/3, depth 50: last layer's std 0.63, 3.6% saturated' (ReLU's: '51%
    zero'; no activation: 'no flat part')."""
    facts = FACTS[activation]
    flat = "no flat part" if facts.flat is None else f"{format_share(share)} {facts.flat_label}"
    return f"{activation}, gain {gain_label(gain)}, depth {depth}: last layer's std {format_std(std)}, {flat}"


def format_table(sweep, gains, depths=None):
    """The last hidden layer's std and saturated share at each of `gains` (rows) and `depths` (columns)."""
    depths = sweep.depths if depths is None else _many(depths, "depths", lambda d: d, MAX_DEPTH)
    rows = [sweep.gain_index(g) for g in _many(gains, "gains", lambda g: g, MAX_GAINS)]  # a gain not swept: an error
    facts = sweep.facts
    share = "no flat part" if facts.flat is None else f"{facts.flat_label} share"
    lines = [f"{sweep.activation}: last hidden layer at initialization, std and {share}"]
    lines.append(f"{'gain':>6}" + "".join(f"{f'depth {d}':>19}" for d in depths))
    for i in rows:
        cells = []
        for d in depths:
            std, share = (t[i].item() for t in sweep.at_depth(d))
            cells.append(f"{format_std(std):>10} {format_share(share):>8}")
        lines.append(f"{gain_label(sweep.gains[i]):>6}" + "".join(cells))
    return "\n".join(lines)


def format_layers(activation, gain, depth, layers=None):
    """Some hidden layers of one network (default: shown_layers(depth)), a line each: std, std across examples
    (see across_examples) and saturated share."""
    records = hidden_layers(activation, gain, depth)
    chosen = (
        shown_layers(depth)
        if layers is None
        else _many(layers, "layers", lambda d: _whole(d, "layers", 1, depth), depth)
    )
    facts = FACTS[activation]
    lines = [f"{activation}, gain {gain_label(gain)}: std, std across examples, {facts.flat_label}"]
    for d in chosen:
        layer = records[d - 1]
        std, share = (t.item() for t in measure(layer.out, activation, layer.input))
        across = across_examples(layer.out).item()
        lines.append(f"layer {d:>2}: {format_std(std):>8} {format_std(across):>9} {format_share(share):>6}")
    return "\n".join(lines)
