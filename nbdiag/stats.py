"""Diagnostics of a finished run as named records, and the lesson's text tables. No plotting here."""
import math
from dataclasses import dataclass

import numpy as np
import torch

from .data import BLOCK_SIZE

SATURATION_THRESHOLD = 0.97  # |tanh output| above this counts as saturated: its local gradient is < 6% of the maximum
SIGMOID_MARGIN = 0.03  # sigmoid output within this of 0 or 1 counts as saturated: its slope is < 12% of the maximum
HISTOGRAM_BINS = 100  # bins of the pictures' histograms (torch.histogram's default, as the lesson draws them)
# The lesson prints %e figures with 7 significant digits. The 7th depends on the CPU's kernels (see kernels.py):
# after one step it differs by up to 3 units from CPU to CPU, after batchnorm's 1001 steps by up to about 25. The
# first 3 are the same on every CPU: each lesson figure lies at least 50 units of the 7th digit from the edge where
# rounding to 3 would flip (tests/test_lesson_tables.py checks it), while 4 would leave some 2 units from it. So
# tables print 3 unless asked for the lesson's 7.
STABLE_DIGITS = 3
LESSON_DIGITS = 7
GELU_FLAT = 0.004  # GELU output in (-GELU_FLAT, 0) means an input below about -3, where its slope is under 1.3%


@dataclass
class ActivationStats:
    """A watched layer's output at the last step."""

    index: int  # position in the model's layer list
    kind: str
    mean: float
    std: float
    saturated: float  # percent of outputs on the activation's flat part (see `saturated`)


@dataclass
class GradientStats:
    """The gradient of the loss with respect to a watched layer's output at the last step."""

    index: int
    kind: str
    mean: float
    std: float


@dataclass
class WeightGradStats:
    """A 2-D weight's last gradient against the weight itself after the last update."""

    index: int  # position in the model's parameter list
    shape: tuple
    mean: float
    std: float
    grad_data_ratio: float  # std(grad) / std(weight)


@dataclass
class Histogram:
    """A density histogram of one tensor, as the lesson plots it (left bin edges against density)."""

    label: str
    x: np.ndarray  # (bins,) left edge of each bin
    density: np.ndarray  # (bins,)
    nonfinite: int  # NaN/inf values left out of the histogram


@dataclass
class RatioHistory:
    """One 2-D parameter's log10 update:data ratio at every step."""

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


def lesson_watched(kinds, tanh):
    """Indices of the layers the lesson inspects: every Tanh before the output, or every Linear when tanh is off."""
    kind = "Tanh" if tanh else "Linear"
    return [i for i, k in enumerate(kinds[:-1]) if k == kind]


def watched_layers(run):
    """The layers the diagnostics inspect: those in `run.watched` if the run has it (watch's), else the lesson's."""
    watched = getattr(run, "watched", None)  # a train.Run has none: its layers follow the lesson's rule
    if watched is None:
        watched = lesson_watched([layer.kind for layer in run.layers], run.config.tanh)
    watched = set(watched)
    return [layer for layer in run.layers if layer.index in watched]


def saturated(t, kind, threshold=None):
    """Mask of the outputs `t` of a `kind` layer sitting where the activation is flat, so little gradient passes.

    Tanh (and, as the lesson prints it, any other kind): |t| > SATURATION_THRESHOLD. Sigmoid: t within
    SIGMOID_MARGIN of 0 or 1. ReLU: t == 0 exactly (the unit is off, its gradient is zero). GELU: t in
    (-GELU_FLAT, 0), i.e. inputs below about -3 (plus a sliver of inputs just below 0, under 1% of a unit
    normal's mass). A `threshold` overrides all of these with |t| > threshold.
    """
    if threshold is not None:
        return t.abs() > threshold
    if kind == "Sigmoid":
        return (t < SIGMOID_MARGIN) | (t > 1 - SIGMOID_MARGIN)
    if kind == "ReLU":
        return t == 0
    if kind == "GELU":
        return (t < 0) & (t > -GELU_FLAT)
    return t.abs() > SATURATION_THRESHOLD


def saturation_percent(layer, threshold=None):
    """Percent of a layer record's outputs that are saturated."""
    return (saturated(layer.out, layer.kind, threshold).float().mean() * 100).item()


def weights(run):
    """The 2-D parameters (embedding and Linear weights), which the lesson's weight tables show."""
    return [p for p in run.params if len(p.shape) == 2]


def activation_stats(run):
    threshold = getattr(run, "saturation", None)  # nbdiag.watch's user-given threshold; a train.Run has none
    return [ActivationStats(l.index, l.kind, l.out.mean().item(), l.out.std().item(), saturation_percent(l, threshold))
            for l in watched_layers(run)]


def _with_grad(run):
    """The watched layers that received a gradient (a watched torch.nn layer in a frozen part gets none)."""
    return [l for l in watched_layers(run) if l.grad is not None]


def gradient_stats(run):
    return [GradientStats(l.index, l.kind, l.grad.mean().item(), l.grad.std().item()) for l in _with_grad(run)]


def weight_grad_stats(run):
    return [WeightGradStats(p.index, p.shape, p.grad.mean().item(), p.grad.std().item(),
                            (p.grad.std() / p.data.std()).item()) for p in weights(run) if p.grad is not None]


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
    """'layer 3 (Tanh)'; a watched torch.nn layer shows its module name instead of the index."""
    return f"layer {getattr(layer, 'name', '') or layer.index} ({layer.kind})"


def weight_label(p):
    """'6 (100, 27)'; a watched torch.nn parameter shows its name instead of the index."""
    return f"{getattr(p, 'name', '') or p.index} {p.shape}"


_layer_label, _weight_label = layer_label, weight_label  # the names other modules used before


def activation_histograms(run):
    return [histogram(l.out, layer_label(l)) for l in watched_layers(run)]


def gradient_histograms(run):
    return [histogram(l.grad, layer_label(l)) for l in _with_grad(run)]


def weight_grad_histograms(run):
    return [histogram(p.grad, weight_label(p)) for p in weights(run) if p.grad is not None]


def update_ratio_history(run):
    """log10 update:data of each 2-D parameter at each step, as the lesson's last picture plots it."""
    return [RatioHistory(f"param {getattr(p, 'name', '') or p.index}", p.index, run.update_ratios[:, p.index].numpy())
            for p in weights(run)]


def _signed(x, decimals, digits):
    """`x` as %+.{decimals}f; in the stable form a figure that rounds to zero has no sign: the CPU's rounding picks it."""
    text = f"{x:+.{decimals}f}"
    return " " + text[1:] if digits != LESSON_DIGITS and float(text) == 0 else text


def _scientific(x, digits):
    """`x` in scientific notation with `digits` significant digits (the lesson's %e has 7)."""
    return f"{x:.{digits - 1}e}"


def format_activation_table(stats, digits=STABLE_DIGITS):
    return "\n".join("layer %d (%10s): mean %s, std %.2f, saturated: %.2f%%"
                     % (s.index, s.kind, _signed(s.mean, 2, digits), s.std, s.saturated) for s in stats)


def format_gradient_table(stats, digits=STABLE_DIGITS):
    """The gradient table; `digits` is the significant digits of the std (see STABLE_DIGITS)."""
    return "\n".join("layer %d (%10s): mean %s, std %s" % (s.index, s.kind, _signed(s.mean, 6, digits),
                                                          _scientific(s.std, digits)) for s in stats)


def format_weight_table(stats, digits=STABLE_DIGITS):
    """The weight-gradient table; `digits` is the significant digits of the std and ratio (see STABLE_DIGITS)."""
    return "\n".join("weight %10s | mean %s | std %s | grad:data ratio %s"
                     % (s.shape, _signed(s.mean, 6, digits), _scientific(s.std, digits),
                        _scientific(s.grad_data_ratio, digits)) for s in stats)


def format_update_ratios(run):
    """The last step's log10 update:data of each 2-D weight."""
    if not len(run.update_ratios):
        return "(no update was applied)"
    return "\n".join("weight %10s | update:data log10 %+.3f" % (p.shape, run.update_ratios[-1, p.index].item())
                     for p in weights(run))


def tables(run, digits=STABLE_DIGITS):
    """All of the lesson's tables for a run, with headings; the command line prints them with LESSON_DIGITS."""
    sections = [
        ("activations", format_activation_table(activation_stats(run), digits)),
        ("gradients", format_gradient_table(gradient_stats(run), digits)),
        ("weight gradients", format_weight_table(weight_grad_stats(run), digits)),
        ("update:data at the last step", format_update_ratios(run)),
    ]
    text = "\n\n".join(f"# {title}\n{body}" for title, body in sections)
    return f"{text}\n\n{run.status}\nloss {run.losses[-1].item():.4f}"


def predicted_std(config, vocab_size):
    """Per watched layer, the std of its output and of its gradient that fan_in and gain arithmetic predicts at init.

    The arithmetic treats the from-scratch MLP (train.build_model) as a stack of linear layers: Tanh passes
    values through unchanged, so drawing this over the measured std shows where tanh's squashing departs
    from it. Forward: the embedding has std 1; a Linear multiplies the std by sqrt(fan_in) * std(W) (= gain
    with fan_in scaling); a BatchNorm1d resets it to gamma. Backward: at a uniform softmax (the shrunk last
    layer makes it nearly so) d loss / d logits has std sqrt(V - 1) / (V * batch_size); a Linear multiplies
    the gradient std by sqrt(fan_out) * std(W), a BatchNorm1d by gamma / (std of its input).
    """
    layers = []  # (kind, fan_in, fan_out, weight std or gamma) in build_model's order
    fan_in = config.n_embd * BLOCK_SIZE
    for i in range(config.depth + 1):
        last = i == config.depth
        fan_out = vocab_size if last else config.n_hidden
        w_std = (1 / fan_in**0.5 if config.fan_in_scaling else 1.0) * (1.0 if last else config.gain)
        if last and not config.batchnorm:
            w_std *= config.last_layer_scale
        layers.append(("Linear", fan_in, fan_out, w_std))
        if config.batchnorm:
            layers.append(("BatchNorm1d", fan_out, fan_out, config.last_layer_scale if last else 1.0))
        if config.tanh and not last:
            layers.append(("Tanh", fan_out, fan_out, None))
        fan_in = fan_out

    stds_in, forward, x = [], [], 1.0  # std of each layer's input and output, starting from the embedding's
    for kind, fan_in, _, w in layers:
        stds_in.append(x)
        if kind == "Linear":
            x = x * fan_in**0.5 * w
        elif kind == "BatchNorm1d":
            x = w
        forward.append(x)  # a Tanh leaves x as it is: that is the linear prediction
    backward = [0.0] * len(layers)
    g = (vocab_size - 1) ** 0.5 / (vocab_size * config.batch_size)  # d loss / d logits
    for i in reversed(range(len(layers))):
        kind, _, fan_out, w = layers[i]
        backward[i] = g  # the gradient at this layer's output; now carry it back to its input
        if kind == "Linear":
            g = g * fan_out**0.5 * w
        elif kind == "BatchNorm1d":
            g = g * w / stds_in[i]
    kinds = [kind for kind, *_ in layers]
    return [PredictedStd(i, kinds[i], forward[i], backward[i]) for i in lesson_watched(kinds, config.tanh)]


# -- over training time: snapshots of the watched layers at a schedule of steps, in bounded memory

OVER_TIME_BINS = 60  # value bins of each snapshot's histogram
MAX_SNAPSHOTS = 64  # snapshots kept at most; when full, every other one is dropped and the schedule coarsened
_FIXED_RANGE = {"Tanh": (-1.0, 1.0), "Sigmoid": (0.0, 1.0)}  # kinds whose outputs have a known range


@dataclass
class LayerOverTime:
    """One watched layer's output at each snapshot step: a histogram over fixed bins, and its mean/std/saturation."""

    label: str
    index: int  # position in the model's layer list
    kind: str
    steps: np.ndarray  # (snapshots,) the step of each snapshot (the forward pass of that step, before its update)
    edges: np.ndarray  # (bins + 1,) value bin edges, the same at every snapshot
    density: np.ndarray  # (snapshots, bins) density per bin; values beyond the edges are counted in the end bins
    mean: np.ndarray  # (snapshots,)
    std: np.ndarray  # (snapshots,)
    saturated: np.ndarray  # (snapshots,) percent, as in ActivationStats
    outside: np.ndarray  # (snapshots,) percent of the values beyond the edges (0 for tanh)


@dataclass
class StepPictures:
    """The records of the three distribution pictures at one snapshot step, as the last step's are drawn."""

    step: int
    activations: list  # a Histogram per watched layer (activation_histograms at this step)
    gradients: list  # a Histogram per watched layer that received a gradient
    weight_gradients: list  # a Histogram per 2-D weight


@dataclass
class Snapshot:
    """What Snapshots keeps of one step."""

    step: int
    layers: dict  # layer index -> (counts (bins,), mean, std, saturated, outside) over the layer's fixed bins
    pictures: StepPictures


class Snapshots:
    """Records watched layers and weights at a schedule of steps; never keeps more than `max_snapshots` of them.

    schedule: an int N (steps 0, N, 2N, ...) or "log" (steps 0, 1, 2, 4, 8, ...); the last step is always
    taken. When a snapshot would exceed `max_snapshots`, every other one is dropped first and the schedule
    coarsened to match (N -> 2N; powers of 2 -> powers of 4), so the kept steps stay evenly (or log-) spaced.
    Each snapshot holds, per watched layer, its outputs over fixed bins with mean/std/saturation (bins + 4
    numbers) and the histograms of its outputs and of their gradients (2 x 2 x HISTOGRAM_BINS), and per 2-D
    weight the histogram of its gradient (2 x HISTOGRAM_BINS): see numbers(). So memory is at most
    max_snapshots * (layers * (bins + 4 + 4 * HISTOGRAM_BINS) + weights * 2 * HISTOGRAM_BINS) numbers, however
    long the run (64 snapshots of the lesson's MLP: 238,080 numbers, under 1 MB in float32).
    """

    def __init__(self, schedule, max_snapshots=MAX_SNAPSHOTS, last_step=None, bins=OVER_TIME_BINS, threshold=None):
        log = schedule == "log"
        if not log and (not isinstance(schedule, int) or isinstance(schedule, bool) or schedule < 1):
            raise ValueError(f"snapshots must be a whole number of steps >= 1 or 'log', got {schedule!r}")
        if not isinstance(max_snapshots, int) or isinstance(max_snapshots, bool) or max_snapshots < 4:
            raise ValueError(f"max_snapshots must be a whole number >= 4, got {max_snapshots!r}")
        self.every, self.base = (None, 2) if log else (schedule, None)
        self.max_snapshots, self.last_step, self.bins, self.threshold = max_snapshots, last_step, bins, threshold
        self.layers = {}  # index -> (label, kind, edges) fixed at the first snapshot
        self.kept = []  # a Snapshot per kept step, in step order

    def due(self, step):
        """Whether the schedule takes a snapshot at `step`."""
        if step == self.last_step:
            return True
        if self.every is not None:
            return step % self.every == 0
        while step > 1 and step % self.base == 0:  # a power of base leaves 1
            step //= self.base
        return step <= 1

    def _thin(self):
        """Halve the schedule's density and drop the kept snapshots it no longer takes."""
        if self.every is not None:
            self.every *= 2
        else:
            self.base **= 2
        self.kept = [s for s in self.kept if self.due(s.step)]

    def add(self, step, layers, params=()):
        """Snapshot `layers` (records with index, kind, out, grad, and optionally name) and the 2-D `params`
        (records with index, shape, grad, and optionally name) at `step`, if the schedule says so."""
        if not self.due(step):
            return
        while len(self.kept) >= self.max_snapshots:
            self._thin()
            if not self.due(step):
                return
        weights = [p for p in params if len(p.shape) == 2 and p.grad is not None]
        pictures = StepPictures(step, [histogram(l.out, layer_label(l)) for l in layers],
                                [histogram(l.grad, layer_label(l)) for l in layers if l.grad is not None],
                                [histogram(p.grad, weight_label(p)) for p in weights])
        self.kept.append(Snapshot(step, {l.index: self._summary(l) for l in layers}, pictures))

    def _summary(self, layer):
        t = layer.out.detach().flatten().float()
        t = t[torch.isfinite(t)]
        if layer.index not in self.layers:
            self.layers[layer.index] = (layer_label(layer), layer.kind, self._edges(layer.kind, t))
        edges = self.layers[layer.index][2]
        lo, hi = edges[0].item(), edges[-1].item()
        outside = (((t < lo) | (t > hi)).float().mean() * 100).item() if t.numel() else 0.0
        counts = torch.histc(t.clamp(lo, hi), bins=self.bins, min=lo, max=hi)  # (bins,)
        sat = (saturated(t, layer.kind, self.threshold).float().mean() * 100).item() if t.numel() else math.nan
        mean, std = (t.mean().item(), t.std().item()) if t.numel() > 1 else (math.nan, math.nan)
        return counts.numpy(), mean, std, sat, outside

    def _edges(self, kind, t):
        """Value bins: the kind's own range if it has one, else the first snapshot's range widened by half."""
        if kind in _FIXED_RANGE and self.threshold is None:
            lo, hi = _FIXED_RANGE[kind]
        elif t.numel():
            lo, hi = t.min().item(), t.max().item()
            pad = max(hi - lo, 1e-6) / 2
            lo, hi = lo - pad, hi + pad
        else:
            lo, hi = -1.0, 1.0
        return torch.linspace(lo, hi, self.bins + 1, dtype=torch.float64)

    def records(self):
        """A LayerOverTime per snapshotted layer."""
        steps = np.array([s.step for s in self.kept])
        out = []
        for index, (label, kind, edges) in self.layers.items():
            rows = [s.layers[index] for s in self.kept]
            counts = np.stack([r[0] for r in rows]).astype(float)  # (snapshots, bins)
            widths = np.diff(edges.numpy())
            totals = np.maximum(counts.sum(1, keepdims=True), 1)
            out.append(LayerOverTime(label, index, kind, steps, edges.numpy(), counts / totals / widths,
                                     *(np.array([r[k] for r in rows]) for k in range(1, 5))))
        return out

    def numbers(self):
        """How many numbers the kept snapshots hold (the memory bound in the class docstring counts these)."""
        total = 0
        for s in self.kept:
            histograms = s.pictures.activations + s.pictures.gradients + s.pictures.weight_gradients
            total += sum(r[0].size + 4 for r in s.layers.values()) + sum(h.x.size + h.density.size for h in histograms)
        return total


def activations_over_time(run):
    """A LayerOverTime per watched layer, from a run recorded with snapshots (train(config, snapshots=N))."""
    snapshots = getattr(run, "snapshots", None)
    if snapshots is None or not snapshots.kept:
        raise ValueError("this run recorded no snapshots: train it with snapshots=N (every N steps) or "
                         "snapshots='log', e.g. train(config, snapshots=50)")
    return snapshots.records()


def snapshot_steps(run):
    """The steps at which a run recorded with snapshots kept them (what a step slider offers); [] without any."""
    snapshots = getattr(run, "snapshots", None)
    return [] if snapshots is None else [s.step for s in snapshots.kept]


def pictures_at(run, step):
    """StepPictures of the kept snapshot nearest `step`: the activation, gradient and weight-gradient histograms
    there, for plots.plot_activations(pictures_at(run, 100).activations) and the like."""
    steps = snapshot_steps(run)
    if not steps:
        raise ValueError("this run recorded no snapshots: train it with snapshots=N (every N steps) or "
                         "snapshots='log', e.g. train(config, snapshots=50)")
    return run.snapshots.kept[int(np.abs(np.array(steps) - step).argmin())].pictures
