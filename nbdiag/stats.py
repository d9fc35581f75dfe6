"""Diagnostics of a finished run as named records, and the lesson's text tables. No plotting here."""

import math
from dataclasses import dataclass

import numpy as np
import torch

from .activations import of_kind, saturated_percent
from .layers import lesson_watched, plan

HISTOGRAM_BINS = 100  # bins of the pictures' histograms (torch.histogram's default, as the lesson draws them)
# The lesson prints %e figures with 7 significant digits. The 7th depends on the CPU's kernels (see kernels.py):
# after one step it differs by up to 3 units from CPU to CPU, after batchnorm's 1001 steps by up to about 25. The
# first 3 are the same on every CPU: each lesson figure lies at least 50 units of the 7th digit from the edge where
# rounding to 3 would flip (tests/test_lesson_tables.py checks it), while 4 would leave some 2 units from it. So
# tables print 3 unless asked for the lesson's 7.
STABLE_DIGITS = 3
LESSON_DIGITS = 7
RATIO_WINDOW = 100  # the last steps whose update:data are averaged (one step's ratio is noisy)
MAX_CURVES = 8  # a picture draws at most this many layers or weights (a 50-layer network's: 8 spread over them)


@dataclass
class ActivationStats:
    """A watched layer's output at the last step."""

    index: int  # position in the model's layer list
    kind: str
    mean: float
    std: float
    saturated: float | None  # percent of finite outputs on the activation's flat part; None: it has none (n/a)
    name: str = ""  # a watched layer's name, e.g. 'blocks.0.act'; '' in a train run
    share_label: str = "saturated"  # what the table calls that share: 'saturated', or ReLU's 'zero'


@dataclass
class GradientStats:
    """The gradient of the loss with respect to a watched layer's output at the last step."""

    index: int
    kind: str
    mean: float
    std: float
    name: str = ""  # a watched layer's name, e.g. 'blocks.0.act'; '' in a train run


@dataclass
class WeightGradStats:
    """A weight's last gradient against the weight itself after the last update."""

    index: int  # position in the model's parameter list
    shape: tuple
    mean: float
    std: float
    grad_data_ratio: float  # std(grad) / std(weight)
    name: str = ""  # a watched parameter's name, e.g. '1.weight'; '' in a train run


@dataclass
class Histogram:
    """A density histogram of one tensor, as the lesson plots it (left bin edges against density)."""

    label: str
    x: np.ndarray  # (bins,) left edge of each bin
    density: np.ndarray  # (bins,)
    nonfinite: int  # NaN/inf values left out of the histogram


@dataclass
class RatioHistory:
    """One weight's log10 update:data ratio at every step."""

    label: str
    index: int
    log10_ratio: np.ndarray  # (steps,)


@dataclass
class PredictedStd:
    """What fan_in and gain arithmetic predicts at initialization for a watched layer, if every layer were linear."""

    index: int  # position in the model's layer list, as in ActivationStats
    kind: str
    activation_std: float  # std of the layer's output
    gradient_std: float  # std of d loss / d output


def watched_layers(run):
    """The layers the diagnostics inspect (run.watched)."""
    watched = set(run.watched)
    return [layer for layer in run.layers if layer.index in watched]


def saturation_percent(layer, threshold=None):
    """Percent of a layer record's finite outputs that are saturated (activations.saturated_percent), or None
    where its layer has no flat part (a Linear layer, an activation nbdiag does not know)."""
    percent = saturated_percent(layer.out, layer.kind, threshold, inputs=layer.input)
    return None if percent is None else percent.item()


def weights(run):
    """The weights: every parameter of 2 or more dimensions (embedding, Linear, Conv, LSTM ... weights), which the
    lesson's weight tables show; biases and batchnorm's gain and shift are 1-D."""
    return [p for p in run.params if len(p.shape) >= 2]


def activation_stats(run):
    return [
        ActivationStats(
            l.index,
            l.kind,
            l.out.mean().item(),
            l.out.std().item(),
            saturation_percent(l, run.saturation_threshold),
            l.name,
            share_label(l.kind, run.saturation_threshold),
        )
        for l in watched_layers(run)
    ]


def _with_grad(run):
    """The watched layers that received a gradient (a watched torch.nn layer in a frozen part gets none)."""
    return [l for l in watched_layers(run) if l.grad is not None]


def gradient_stats(run):
    return [GradientStats(l.index, l.kind, l.grad.mean().item(), l.grad.std().item(), l.name) for l in _with_grad(run)]


def weight_grad_stats(run):
    return [
        WeightGradStats(
            p.index, p.shape, p.grad.mean().item(), p.grad.std().item(), (p.grad.std() / p.data.std()).item(), p.name
        )
        for p in weights(run)
        if p.grad is not None
    ]


def recent_update_ratios(run, window=RATIO_WINDOW):
    """{weight's index: its mean log10 update:data over the last `window` steps' finite ones}."""
    ratios = run.update_ratios[-window:]  # (window, n_params) log10
    if not len(ratios):
        return {}
    recent = {}
    for p in weights(run):
        r = ratios[:, p.index]
        r = r[torch.isfinite(r)]
        if len(r):
            recent[p.index] = r.mean().item()
    return recent


def histogram(t, label):
    """torch.histogram(t, density=True) of the finite values of t, in HISTOGRAM_BINS bins."""
    t = t.detach().flatten().float().cpu()  # torch.histogram runs on the CPU only
    finite = t[torch.isfinite(t)]
    nonfinite = t.numel() - finite.numel()
    if finite.numel() == 0:
        return Histogram(label, np.empty(0), np.empty(0), nonfinite)
    density, edges = torch.histogram(finite, bins=HISTOGRAM_BINS, density=True)
    return Histogram(label, edges[:-1].numpy(), density.numpy(), nonfinite)


def layer_label(layer):
    """'layer 3 (Tanh)' of a layer record or its statistics; a watched torch.nn layer shows its module name instead of
    the index."""
    return f"layer {layer.name or layer.index} ({layer.kind})"


def weight_label(p):
    """'6 (100, 27)'; a watched torch.nn parameter shows its name instead of the index."""
    return f"{p.name or p.index} {p.shape}"


def shown(items, most=MAX_CURVES):
    """The items a picture draws: at most `most` of them, evenly spaced from the first to the last, as many curves
    as a picture can tell apart. The tables keep every layer."""
    items = list(items)
    if len(items) <= most:
        return items
    return [items[i] for i in sorted({round(k * (len(items) - 1) / (most - 1)) for k in range(most)})]


def activation_histograms(run):
    return [histogram(l.out, layer_label(l)) for l in shown(watched_layers(run))]


def gradient_histograms(run):
    return [histogram(l.grad, layer_label(l)) for l in shown(_with_grad(run))]


def weight_grad_histograms(run):
    return [histogram(p.grad, weight_label(p)) for p in shown(p for p in weights(run) if p.grad is not None)]


def update_ratio_history(run):
    """log10 update:data of each weight at each step, as the lesson's last picture plots it."""
    return [
        RatioHistory(f"param {p.name or p.index}", p.index, run.update_ratios[:, p.index].numpy())
        for p in shown(weights(run))
    ]


def _not_a_number(x):
    """'nan', 'inf' or '-inf' for a statistic that is not a finite number, else None: never '+nan' or a rounded figure."""
    return None if math.isfinite(x) else str(x)


def _signed(x, decimals, digits):
    """`x` as %+.{decimals}f; in the stable form a figure that rounds to zero has no sign: the CPU's rounding picks it."""
    text = f"{x:+.{decimals}f}"
    return _not_a_number(x) or (" " + text[1:] if digits != LESSON_DIGITS and float(text) == 0 else text)


def _scientific(x, digits):
    """`x` in scientific notation with `digits` significant digits (the lesson's %e has 7)."""
    return _not_a_number(x) or f"{x:.{digits - 1}e}"


def _saturated(s):
    """'saturated: 20.25%' (ReLU's 'zero: 78.69%'), or why there is none: 'n/a' for a layer with no flat part, and
    with a nan or inf among the outputs (their std is nan), since they lie on no part of the activation."""
    if s.saturated is None:
        return f"{s.share_label}: n/a"
    return f"{s.share_label}: " + ("n/a (outputs not finite)" if math.isnan(s.std) else f"{s.saturated:.2f}%")


def share_label(kind, threshold=None):
    """What the tables call a `kind` layer's share on its flat part: its ActivationFacts.flat_label, 'saturated'
    for a threshold or a kind without facts."""
    facts = of_kind(kind)
    return facts.flat_label if facts is not None and threshold is None else "saturated"


def _layer_rows(stats):
    """Each row's head, 'layer 3 (      Tanh)' as the lesson prints it (its `layer %d (%10s)`), padded so that the rows
    of a deeper table, or of longer class names, line up: 'layer  3 (...)' next to 'layer 11 (...)'."""
    names = [str(s.name or s.index) for s in stats]
    width, kind_width = max(map(len, names), default=0), max([10, *(len(s.kind) for s in stats)])
    return [f"layer {name:>{width}} ({s.kind:>{kind_width}})" for name, s in zip(names, stats)]


def format_activation_table(stats, digits=STABLE_DIGITS):
    """The activation table; a watched layer shows its name."""
    return "\n".join(
        f"{head}: mean {_signed(s.mean, 2, digits)}, std {s.std:.2f}, {_saturated(s)}"
        for head, s in zip(_layer_rows(stats), stats)
    )


def format_gradient_table(stats, digits=STABLE_DIGITS):
    """The gradient table; `digits` is the significant digits of the std (see STABLE_DIGITS)."""
    return "\n".join(
        f"{head}: mean {_signed(s.mean, 6, digits)}, std {_scientific(s.std, digits)}"
        for head, s in zip(_layer_rows(stats), stats)
    )


def format_weight_table(stats, digits=STABLE_DIGITS):
    """The weight-gradient table; `digits` is the significant digits of the std and ratio (see STABLE_DIGITS)."""
    return "\n".join(
        "%s | mean %s | std %s | grad:data ratio %s"
        % (
            _weight_row(s),
            _signed(s.mean, 6, digits),
            _scientific(s.std, digits),
            _scientific(s.grad_data_ratio, digits),
        )
        for s in stats
    )


def _weight_row(p):
    """'weight (100, 27)' as the lesson prints it; a watched weight by its name too: 'weight 1.weight (16, 8, 3, 3)'."""
    return f"weight {p.name} {p.shape}" if p.name else "weight %10s" % (p.shape,)


def format_update_ratios(run):
    """The last step's log10 update:data of each weight."""
    if not len(run.update_ratios):
        return "(no update was applied)"
    return "\n".join(
        "%s | update:data log10 %s" % (_weight_row(p), _signed(run.update_ratios[-1, p.index].item(), 3, LESSON_DIGITS))
        for p in weights(run)
    )


def tables(run, digits=STABLE_DIGITS):
    """All of the lesson's tables for a run, with headings; the command line prints them with LESSON_DIGITS."""
    sections = [
        ("activations", format_activation_table(activation_stats(run), digits)),
        ("gradients", format_gradient_table(gradient_stats(run), digits)),
        ("weight gradients", format_weight_table(weight_grad_stats(run), digits)),
        ("update:data at the last step", format_update_ratios(run)),
    ]
    text = "\n\n".join(f"# {title}\n{body}" for title, body in sections)
    if not len(run.losses):  # a recording of zero steps: its status says no step was recorded
        return f"{text}\n\n{run.status}"
    return f"{text}\n\n{run.status}\nloss {run.losses[-1].item():.4f}"


def predicted_std(config, vocab_size):
    """Per watched layer, the std of its output and of its gradient that fan_in and gain arithmetic predicts at init.

    The arithmetic treats the from-scratch MLP (train.build_model) as a stack of linear layers: an activation
    passes values through unchanged, so drawing this over the measured std shows where its squashing departs
    from it; a residual Add sums two independent signals, and sends its gradient back along both ways. Forward: the embedding has std 1; a Linear multiplies the std by sqrt(fan_in) * std(W) (= gain
    with fan_in scaling); a BatchNorm1d resets it to gamma. Backward: at a uniform softmax (the shrunk last
    layer makes it nearly so) d loss / d logits has std sqrt(V - 1) / (V * batch_size); a Linear multiplies
    the gradient std by sqrt(fan_out) * std(W), a BatchNorm1d by gamma / (std of its input).
    """
    plans = plan(config, vocab_size)
    layers = [(p.kind, p.fan_in, p.fan_out, _weight_std(p, config)) for p in plans]
    stds_in, forward, x = [], [], 1.0  # std of each layer's input and output, starting from the embedding's
    for p, (kind, fan_in, _, w) in zip(plans, layers):
        stds_in.append(x)
        if kind == "Linear":
            x = x * fan_in**0.5 * w
        elif kind == "BatchNorm1d":
            x = w
        elif kind == "Add":  # the sum of two independent signals
            x = math.hypot(x, forward[p.source])  # (no overflow in squaring a large std: it becomes inf)
        forward.append(x)  # an activation leaves x as it is: that is the linear prediction
    backward = [0.0] * len(layers)
    skipped = [0.0] * len(layers)  # the gradient std an Add sends straight back to a layer's output
    g = (vocab_size - 1) ** 0.5 / (vocab_size * config.batch_size)  # d loss / d logits
    for i in reversed(range(len(layers))):
        kind, _, fan_out, w = layers[i]
        g = backward[i] = math.hypot(g, skipped[i])  # the gradient at this layer's output; now to its input
        if kind == "Linear":
            g = g * fan_out**0.5 * w
        elif kind == "BatchNorm1d":
            g = g * w / stds_in[i]
        elif kind == "Add":
            skipped[plans[i].source] = math.hypot(skipped[plans[i].source], g)
    kinds = [kind for kind, *_ in layers]
    return [PredictedStd(i, kinds[i], forward[i], backward[i]) for i in lesson_watched(kinds, config.activation)]


def _weight_std(layer, config):
    """A planned layer's weight std at initialization (a Linear's), or its gamma (a BatchNorm1d's); None for Tanh."""
    if layer.kind == "Linear":
        return layer.scale / layer.fan_in**0.5 if config.fan_in_scaling else layer.scale
    return layer.scale if layer.kind == "BatchNorm1d" else None


def activations_over_time(run):
    """A snapshots.LayerOverTime per watched layer, from a run recorded with snapshots (train(config, snapshots=N))."""
    if run.snapshots is None or not run.snapshots.kept:
        raise ValueError(
            "this run recorded no snapshots: train it with snapshots=N (every N steps) or "
            "snapshots='log', e.g. train(config, snapshots=50)"
        )
    return run.snapshots.records()


def snapshot_steps(run):
    """The steps at which a run recorded with snapshots kept them (what a step slider offers); [] without any."""
    return [] if run.snapshots is None else [s.step for s in run.snapshots.kept]


def pictures_at(run, step):
    """snapshots.StepPictures of the kept snapshot nearest `step`: the activation, gradient and weight-gradient histograms
    there, for plots.plot_activations(pictures_at(run, 100).activations) and the like."""
    steps = snapshot_steps(run)
    if not steps:
        raise ValueError(
            "this run recorded no snapshots: train it with snapshots=N (every N steps) or "
            "snapshots='log', e.g. train(config, snapshots=50)"
        )
    return run.snapshots.kept[int(np.abs(np.array(steps) - step).argmin())].pictures
