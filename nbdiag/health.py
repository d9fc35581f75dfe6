"""Health findings: read a run's records and say, per layer, what looks wrong, with the number behind it.

    for f in diagnose(run):      # a train.Run or what nbdiag.watch recorded
        print(f.severity, f.where, f.message)

Each check is a function of the run that returns its findings; `diagnose` runs them all. Pure torch, like
nbdiag.stats; the thresholds below are the rules of thumb of the lesson, the healthy bands are nbdiag.bands'.
"""

import math
from dataclasses import dataclass

import torch

from . import stats
from .activations import FACTS, of_kind, saturated
from .bands import SATURATION_LIMIT, UPDATE_RATIO_TARGET, UPDATE_RATIO_TOLERANCE
from .status import DIVERGING_FACTOR

DEAD_UNIT_LIMIT = 0.05  # fraction of a layer's units that are off (or saturated) for every example of the batch
DEAD_UNIT_MIN_BATCH = 16  # with fewer examples a unit can be off for all of them by chance
COLLAPSE_RATIO = 0.6  # output std below this fraction of the first watched layer's: the signal fades with depth
GROWTH_RATIO = 2.0  # ... above this multiple of the first's: the signal blows up with depth
GRADIENT_RATIO = 3.0  # gradient std this many times smaller (larger) than nearest the loss: vanishing (exploding)
LAST_LAYER_FACTOR = 10.0  # the last weight's update:data this many times the median weight's: it learns far faster
RATIO_WINDOW = 100  # the last steps whose update:data are averaged (one step's ratio is noisy)


@dataclass
class Finding:
    """One thing that looks wrong in a run, where, how badly, the number behind it, and what it means."""

    where: str  # the plots' label of the layer ('layer 1 (Tanh)'), of the weight ('weight 6 (100, 27)'), or 'run'
    code: str  # what kind of problem: 'diverged' (a non-finite loss or weight), 'diverging' (a finite loss far
    # above its start, see status.diverging_from), 'saturated', 'dead_units', 'collapsing', 'exploding_activations',
    # 'vanishing_gradients', 'exploding_gradients', 'last_layer_fast', 'update_ratio'
    severity: str  # 'error' (the run is broken) or 'warning' (it trains badly)
    value: float  # the number behind it, in the unit the message gives
    message: str  # one sentence a student understands


def diagnose(run):
    """Findings about a run (train.Run or nbdiag.watch's recording): errors first, then activations, gradients
    and updates, each in layer order."""
    # records shaped by updates that overshot: the advice for what they show is the learning rate, not the start
    overshot = (run.diverged_at or 0) > 0 or (run.diverged_at is None and run.diverging_from is not None)
    findings = [
        *diverged(run),
        *flat_parts(run, overshot),
        *signal_size(run, overshot),
        *gradients(run, overshot),
        *update_size(run, overshot),
        *last_layer_fast(run),
    ]
    return sorted(findings, key=lambda f: f.severity != "error")  # sorted() is stable: layer order stays


def format_findings(findings):
    """The findings as lines of text, or a line saying nothing looks wrong."""
    if not findings:
        return "no problems found: activations, gradients and update:data look healthy"
    return "\n".join(f"{f.severity:7s} {f.where}: {f.message}" for f in findings)


# -- the checks: each takes the run (and what it needs) and returns its findings


def diverged(run):
    """The loss, or the weights, became inf or nan ('diverged'); or the finite loss stayed far above its start
    ('diverging', status.diverging_from)."""
    if run.diverged_at is None:
        start = run.diverging_from
        if start is None:
            return []
        first, last = run.losses[0].item(), run.losses[-1].item()
        message = (
            f"the loss rose above {DIVERGING_FACTOR:g}x its value at step 0 ({first:.4g}) at step {start} and "
            f"stayed there, to {last:.4g} at the last step: each update overshoots, so the weights wander "
            f"away instead of learning; {_lr_advice(run)}"
        )
        return [Finding(where="run", code="diverging", severity="error", value=float(start), message=message)]
    step, loss = run.diverged_at, run.losses[run.diverged_at].item()
    config = run.config
    if math.isfinite(loss):  # train's runs stop when an update leaves a weight non-finite, with that step's loss
        message = (
            f"the update at step {step} made the weights inf or nan (the loss before it was {loss:.4g}): "
            f"the step was far too large; {_lr_advice(run)}"
        )
    elif step == 0 and config is not None:  # before any update: the learning rate played no part
        scaling = "" if config.fan_in_scaling else ", or turn fan_in scaling back on"
        message = (
            f"the loss was {loss} at step 0, before any update, so the learning rate is not to blame: the "
            f"initial weights are too large; lower the initial gain (now {config.gain:g}; {_suited_gain(run)}){scaling}"
        )
    elif step == 0:
        message = (
            f"the loss was {loss} at step 0, before any update: look at the input, the initial weights or the "
            f"loss function"
        )
    else:
        message = (
            f"the loss became {loss} at step {step}: the updates overshoot and blow up the weights; {_lr_advice(run)}"
        )
    return [Finding(where="run", code="diverged", severity="error", value=float(step), message=message)]


def flat_parts(run, overshot=False):
    """Per watched layer with finite outputs: too many outputs on its activation's flat part ('saturated'), and
    units that sit there for every example ('dead_units')."""
    findings = []
    for layer in _finite_layers(run):
        findings += _saturated(run, layer, overshot) + _dead_units(run, layer)
    return findings


def signal_size(run, overshot=False):
    """Each watched layer's output std against the first's: shrinking ('collapsing') or growing
    ('exploding_activations') with depth."""
    layers = _finite_layers(run)
    if len(layers) < 2:
        return []
    first = layers[0]
    first_std = _std(first.out)
    findings = []
    for layer in layers[1:]:
        ratio = _std(layer.out) / first_std if first_std > 0 else math.nan
        label, other = stats.layer_label(layer), stats.layer_label(first)
        if ratio < COLLAPSE_RATIO:
            message = (
                f"the output std is {_fraction(ratio)} {other}'s: the signal shrinks layer after "
                f"layer, so deeper layers see less and less of the input; "
                + _more(run, overshot, f"raise the initial gain ({_suited_gain(run)})", _DEEP)
            )
            findings.append(Finding(where=label, code="collapsing", severity="warning", value=ratio, message=message))
        elif ratio > GROWTH_RATIO:
            message = f"the output std is {_times(ratio)} {other}'s: the signal grows layer after layer; " + _more(
                run, overshot, "lower the initial gain", _DEEP
            )
            findings.append(
                Finding(where=label, code="exploding_activations", severity="warning", value=ratio, message=message)
            )
    return findings


def gradients(run, overshot=False):
    """Each watched layer's output-gradient std against the one nearest the loss: fading on the way back
    ('vanishing_gradients', exactly 0 included) or growing ('exploding_gradients')."""
    layers = [l for l in stats.watched_layers(run) if l.grad is not None and torch.isfinite(l.grad).all()]
    if len(layers) < 2:
        return []
    nearest = layers[-1]  # the watched layer nearest the loss
    ref = _std(nearest.grad)
    findings = []
    for layer in layers[:-1]:
        ratio = _std(layer.grad) / ref if ref > 0 else math.nan
        label, where = stats.layer_label(layer), stats.layer_label(nearest)
        if ratio < 1 / GRADIENT_RATIO:
            what = (
                f"no gradient at all reaches this layer (it is exactly 0), while {where}, nearest the loss, gets one: "
                f"a layer in between passes none back, so this one and those before it cannot learn"
                if ratio == 0  # not one example's gradient reaches it (a dead or fully saturated layer in between)
                else f"the gradient here is {_times(1 / ratio)} smaller than at {where}, nearest the loss: gradients "
                f"fade on their way back, so the early layers learn slowly"
            )
            message = f"{what}; " + _more(run, overshot, "raise the initial gain", _DEEP)
            findings.append(
                Finding(where=label, code="vanishing_gradients", severity="warning", value=ratio, message=message)
            )
        elif ratio > GRADIENT_RATIO:
            message = (
                f"the gradient here is {_times(ratio)} larger than at {where}, nearest the loss: "
                f"gradients grow on their way back, so the early layers take the biggest steps; "
                + _more(run, overshot, "lower the initial gain", _DEEP)
            )
            findings.append(
                Finding(where=label, code="exploding_gradients", severity="warning", value=ratio, message=message)
            )
    return findings


def update_size(run, overshot=False):
    """The median weight's recent update:data far from the 1e-3 rule of thumb ('update_ratio'), with the
    learning rate that brings it there."""
    recent = _recent_update_ratios(run)
    if not recent:
        return []
    median = torch.tensor(list(recent.values())).median().item()
    if abs(median - UPDATE_RATIO_TARGET) <= UPDATE_RATIO_TOLERANCE:
        return []
    factor = 10 ** (UPDATE_RATIO_TARGET - median)  # update:data grows in proportion to the learning rate
    lr = run.lr
    if factor > 1:
        factor = _one_digit(factor)
        change = f"multiply the learning rate by ~{factor:g}"
    else:
        factor = 1 / _one_digit(1 / factor)
        change = f"divide the learning rate by ~{1 / factor:g}"
    if lr:
        change += f" (lr {lr:g} -> {_one_digit(lr * factor):g})"
    if overshot and factor > 1:  # saturated or dead layers that overshooting left behind pass little gradient
        change = "here the layers that overshooting saturated pass little gradient: lower the learning rate"
    speed = "slowly: training crawls" if median < UPDATE_RATIO_TARGET else "fast: training is unstable"
    message = (
        f"each step changes a weight by about {10**median:.0e} of its size (median "
        f"update:data), far from the 1e-3 rule of thumb, so the weights learn too {speed}; "
        f"{change}"
    )
    return [Finding(where="run", code="update_ratio", severity="warning", value=median, message=message)]


def last_layer_fast(run):
    """The last weight's recent update:data far above the typical weight's ('last_layer_fast')."""
    recent = _recent_update_ratios(run)
    weights = stats.weights(run)
    if not recent:
        return []
    last, others = weights[-1], [recent[p.index] for p in weights[:-1] if p.index in recent]
    if last.index not in recent or not others:
        return []
    typical = torch.tensor(others).median().item()
    factor = 10 ** (recent[last.index] - typical)
    if factor <= LAST_LAYER_FACTOR:
        return []
    mine, theirs = f"{10 ** recent[last.index]:.0e}", f"{10**typical:.0e}"
    message = (
        f"the last layer's weight changes {_times(factor)} faster per step than the typical "
        f"weight (update:data {mine} vs {theirs}), so it learns ahead of the rest; early "
        f"on this comes from shrinking its initial weights and settles with training, "
        f"otherwise give it a smaller learning rate"
    )
    where = f"weight {stats.weight_label(last)}"
    return [Finding(where=where, code="last_layer_fast", severity="warning", value=factor, message=message)]


# -- one layer's flat part


def _saturated(run, layer, overshot):
    """[a 'saturated' finding] if too many of the layer's outputs sit on a flat tail, else []."""
    threshold = run.saturation_threshold
    facts = of_kind(layer.kind)
    if threshold is None and not (facts is not None and facts.flat_tails):
        return []  # its flat part is no tail (ReLU's 0 is half its outputs when healthy), or it has none
    pct = stats.saturation_percent(layer, threshold)
    if not pct > SATURATION_LIMIT:
        return []
    message = (
        f"{pct:.1f}% of the outputs are {_flat_words(layer, threshold)}, where almost no gradient gets through; "
        + _more(run, overshot, "lower the initial gain", _PUSHED, " before the activation")
    )
    return [Finding(where=stats.layer_label(layer), code="saturated", severity="warning", value=pct, message=message)]


def _dead_units(run, layer):
    """[a 'dead_units' finding] if too many units sit on the flat part for every example of the batch, else []."""
    threshold = run.saturation_threshold
    facts = of_kind(layer.kind)
    out = layer.out.reshape(layer.out.shape[0], -1)  # (batch, units)
    if threshold is None and not (facts is not None and facts.can_die) or out.shape[0] < DEAD_UNIT_MIN_BATCH:
        return []
    dead = saturated(out, layer.kind, threshold).all(dim=0)  # (units,)
    fraction = dead.float().mean().item()
    if not fraction > DEAD_UNIT_LIMIT:
        return []
    message = (
        f"{int(dead.sum())} of {dead.numel()} units ({fraction:.0%}) are {_flat_words(layer, threshold)} for "
        f"every example in the batch: they pass no gradient and may never learn again; "
        f"lower the learning rate, or the initial gain or bias"
    )
    return [
        Finding(where=stats.layer_label(layer), code="dead_units", severity="warning", value=fraction, message=message)
    ]


def _flat_words(layer, threshold):
    """Where the layer's outputs count as saturated, in words: its activation's (activations.FACTS), or the
    threshold's."""
    if threshold is not None:
        return f"saturated (|t| > {threshold:g})"
    facts = of_kind(layer.kind)
    return facts.flat_words if facts is not None else "saturated"


# -- helpers


def _finite_layers(run):
    """The watched layers whose outputs are all finite: the only ones whose sizes can be compared."""
    return [l for l in stats.watched_layers(run) if torch.isfinite(l.out).all()]


def _recent_update_ratios(run):
    """{weight's index: its mean log10 update:data over the last RATIO_WINDOW steps' finite ones}."""
    weights = stats.weights(run)
    ratios = run.update_ratios[-RATIO_WINDOW:]  # (window, n_params) log10
    if not weights or not len(ratios):
        return {}
    recent = {}
    for p in weights:
        r = ratios[:, p.index]
        r = r[torch.isfinite(r)]
        if len(r):
            recent[p.index] = r.mean().item()
    return recent


def _suited_gain(run):
    """Which gain suits the run's activation: "5/3 suits tanh" (the lesson's, for a recording of any model)."""
    activation = run.config.activation if run.config is not None else "tanh"
    return FACTS[activation].suits


def _lr_advice(run):
    lr = run.lr
    return (
        f"lower the learning rate (try lr {lr / 10:g} or smaller)"
        if lr
        else "lower the learning rate (try one 10x smaller)"
    )


_DEEP = "use fewer hidden layers or a smaller learning rate"  # what is left to try with batchnorm on
_PUSHED = "training pushed the outputs there: lower the learning rate"  # batchnorm starts every layer at std 1


def _more(run, overshot, without_batchnorm, with_batchnorm, where=""):
    """The advice for a run without batchnorm (`without_batchnorm`, or add it `where`), or for a train run that
    has it on already (`with_batchnorm`); a watched model's records do not say: it gets the first. For records
    that updates which overshot have shaped (`overshot`), the learning rate."""
    if overshot:
        return "the updates that overshot did this: lower the learning rate"
    if run.config is not None and run.config.batchnorm:
        return f"batchnorm is already on, so {with_batchnorm}"
    return f"{without_batchnorm} or add batchnorm{where}"


def _std(t):
    """t's std; in float64 where float32's overflows (values near float32's range), so ratios of it stay finite."""
    std = t.std().item()
    return std if math.isfinite(std) else t.double().std().item()


def _times(x):
    """'3.3x', '16x', '2400x'; from 1e4 on, 1 significant digit: '3e+07x'."""
    if not math.isfinite(x):
        return "immeasurably many times"
    if x < 10:
        return f"{x:.1f}x"
    return f"{x:.0f}x" if x < 1e4 else f"{x:.0e}x"


def _fraction(x):
    """x as a part of a whole: '24% of'; under 1%, '3e+05x smaller than'; at 0, 'exactly 0 times'."""
    if x == 0:
        return "exactly 0 times"
    return f"{x:.0%} of" if x >= 0.01 else f"{_times(1 / x)} smaller than"


def _one_digit(x):
    """x rounded to one significant digit: 97 -> 100, 0.0032 -> 0.003."""
    if x <= 0 or not math.isfinite(x):
        return x
    scale = 10 ** math.floor(math.log10(x))
    return round(x / scale) * scale
