"""Health findings: read a run's records and say, per layer, what looks wrong, with the number behind it.

    for f in diagnose(run):      # a train.Run or what nbdiag.watch recorded
        print(f.severity, f.where, f.message)

Each check is a function of the run that returns its findings; `diagnose` runs them all. Pure torch, like
nbdiag.stats; the thresholds below are the rules of thumb of the lesson, the healthy bands are nbdiag.bands'.
"""

import dataclasses
import math
from dataclasses import dataclass, field

import torch

from . import stats
from .activations import of_kind, saturated
from .bands import SATURATION_LIMIT, UPDATE_RATIO_TARGET, UPDATE_RATIO_TOLERANCE
from .cause import SAFE_LR, Advice, broken_start, divergence_cause, uniform_loss
from .status import DIVERGING_FACTOR

DEAD_UNIT_LIMIT = 0.05  # fraction of a layer's units that are off (or saturated) for every example of the batch
DEAD_UNIT_MIN_BATCH = 16  # with fewer examples a unit can be off for all of them by chance
COLLAPSE_RATIO = 0.6  # output std below this fraction of the first watched layer's: the signal fades with depth
GROWTH_RATIO = 2.0  # ... above this multiple of the first's: the signal blows up with depth
GRADIENT_RATIO = 3.0  # gradient std this many times smaller (larger) than nearest the loss: vanishing (exploding)
LAST_LAYER_FACTOR = 10.0  # the last weight's update:data this many times the median weight's: it learns far faster
GROUP_FROM = 3  # a problem found in this many layers or more is one finding, so no run gets more than a dozen


@dataclass
class Finding:
    """One thing that looks wrong in a run, where, how badly, the number behind it, and what it means."""

    where: str  # the plots' label of the layer ('layer 1 (Tanh)'), of the weight ('weight 6 (100, 27)'), 'run', or
    # for a finding grouped over layers, their range ('layers 12 to 50 (ReLU)')
    code: str  # what kind of problem: 'broken_start' (a huge loss before any update), 'diverged' (a non-finite
    # loss or weight), 'diverging' (a finite loss far above its start, see status.diverging_from), 'saturated',
    # 'dead_units', 'collapsing', 'exploding_activations', 'vanishing_gradients', 'exploding_gradients',
    # 'last_layer_fast', 'update_ratio'
    severity: str  # 'error' (the run is broken) or 'warning' (it trains badly)
    value: float  # the number behind it, in the unit the message gives (a group's: its worst layer's)
    message: str  # one sentence a student understands, ending in the advice
    fix: dict = field(default_factory=dict)  # the Config change the advice means, e.g. {"gain": 5/3}; {} for none
    # (a watched model's findings, advice with no option to change): re-running with it shows the advice is right
    layers: tuple = ()  # the labels of the layers it was found in, for a finding about layers


def diagnose(run, grouped=True):
    """Findings about a run (train.Run or nbdiag.watch's recording): errors first, then activations, gradients
    and updates, in layer order; a problem found in GROUP_FROM layers or more is one finding for all of them
    (`grouped=False`: a finding per layer)."""
    advice = Advice(run)
    if run.config is None:  # a watched model's gain is unknown: first see which way its findings point
        advice.directions = {_DIRECTION.get(f.code, 0) for f in _checks(run, advice)}
    findings = _checks(run, advice)
    return sorted(_grouped(findings) if grouped else findings, key=lambda f: f.severity != "error")  # stable


def _checks(run, advice):
    return [
        *start(run),
        *diverged(run),
        *flat_parts(run, advice),
        *signal_size(run, advice),
        *gradients(run, advice),
        *update_size(run, advice),
        *last_layer_fast(run),
    ]


# which way each problem calls the initial gain: +1 lower it, -1 raise it
_DIRECTION = {"saturated": 1, "exploding_activations": 1, "exploding_gradients": 1, "collapsing": -1}
_DIRECTION["vanishing_gradients"] = -1
_WORSE_LOW = {"collapsing", "vanishing_gradients"}  # problems whose value is worse the lower it is


def _grouped(findings):
    """The findings, with each problem found in GROUP_FROM layers or more told once for all of them, by its worst
    layer: '5 layers from layer 3 (ReLU) to layer 11 (ReLU)'."""
    layered = {}
    for f in findings:
        if f.where.startswith("layer "):
            layered.setdefault(f.code, []).append(f)
    out = []
    for f in findings:
        group = layered.get(f.code, []) if f.where.startswith("layer ") else []
        if len(group) < GROUP_FROM:
            out.append(dataclasses.replace(f, layers=(f.where,)) if group else f)
        elif f is group[0]:
            worst = (min if f.code in _WORSE_LOW else max)(group, key=lambda g: g.value)
            where = f"{len(group)} layers from {group[0].where} to {group[-1].where}"
            message = f"worst at {worst.where}: {worst.message}"
            layers = tuple(g.where for g in group)
            out.append(Finding(where, f.code, f.severity, worst.value, message, worst.fix, layers))
    return out


def format_findings(findings):
    """The findings as lines of text, or a line saying nothing looks wrong."""
    if not findings:
        return "no problems found: activations, gradients and update:data look healthy"
    return "\n".join(f"{f.severity:7s} {f.where}: {f.message}" for f in findings)


# -- the checks: each takes the run (and the Advice) and returns its findings


def start(run):
    """A loss far above a uniform guess's before any update, though finite ('broken_start'): the initialization's
    fault, never the learning rate's. (A non-finite one is 'diverged' at step 0.)"""
    if not broken_start(run) or run.diverged_at == 0:
        return []
    first, uniform, cause = run.losses[0].item(), uniform_loss(run), divergence_cause(run)
    message = (
        f"the loss was {first:.4g} at step 0, before any update, {_times(first / uniform)} a uniform guess's "
        f"({uniform:.2f}), so the learning rate is not to blame: {cause.blame}; {cause.advice}"
    )
    return [Finding("run", "broken_start", "error", first, message, cause.fix)]


def diverged(run):
    """The loss, or the weights, became inf or nan ('diverged'); or the finite loss stayed far above its start
    ('diverging', status.diverging_from). Each names its cause (cause.divergence_cause) and its fix."""
    if run.diverged_at is None and run.diverging_from is None:
        return []
    cause = divergence_cause(run)
    if "lr" in cause.fix:  # the learning rate alone, or with the start: its advice names both
        advice = cause.advice
    elif broken_start(run):
        advice = f"the updates started from a broken start: {cause.advice}"
    else:
        advice = f"the start amplifies every update's error: {cause.advice}"
    if run.diverged_at is None:
        start, first, last = run.diverging_from, run.losses[0].item(), run.losses[-1].item()
        message = (
            f"the loss rose above {DIVERGING_FACTOR:g}x its value at step 0 ({first:.4g}) at step {start} and "
            f"stayed there, to {last:.4g} at the last step: each update overshoots, so the weights wander "
            f"away instead of learning; {advice}"
        )
        return [Finding("run", "diverging", "error", float(start), message, cause.fix)]
    step, loss = run.diverged_at, run.losses[run.diverged_at].item()
    if math.isfinite(loss):  # train's runs stop when an update leaves a weight non-finite, with that step's loss
        message = (
            f"the update at step {step} made the weights inf or nan (the loss before it was {loss:.4g}): "
            f"the step was far too large; {advice}"
        )
    elif step == 0 and run.config is not None:  # before any update: the learning rate played no part
        message = (
            f"the loss was {loss} at step 0, before any update, so the learning rate is not to blame: the "
            f"initial weights are too large ({cause.blame}); {cause.advice}"
        )
    elif step == 0:
        message = (
            f"the loss was {loss} at step 0, before any update: look at the input, the initial weights or the "
            f"loss function"
        )
    else:
        message = f"the loss became {loss} at step {step}: the updates overshoot and blow up the weights; {advice}"
    return [Finding("run", "diverged", "error", float(step), message, cause.fix)]


def flat_parts(run, advice):
    """Per watched layer with finite outputs: too many outputs on its activation's flat tails ('saturated'), and
    units that sit on its flat part for every example ('dead_units')."""
    findings = []
    for layer in _finite_layers(run):
        findings += _saturated(run, layer, advice) + _dead_units(run, layer, advice)
    return findings


def signal_size(run, advice):
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
            words, fix = advice.larger()
            message = (
                f"the output std is {_fraction(ratio)} {other}'s: the signal shrinks layer after "
                f"layer, so deeper layers see less and less of the input; {words}"
            )
            findings.append(Finding(label, "collapsing", "warning", ratio, message, fix))
        elif ratio > GROWTH_RATIO:
            words, fix = advice.smaller()
            message = f"the output std is {_times(ratio)} {other}'s: the signal grows layer after layer; {words}"
            findings.append(Finding(label, "exploding_activations", "warning", ratio, message, fix))
    return findings


def gradients(run, advice):
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
            words, fix = advice.larger()
            findings.append(Finding(label, "vanishing_gradients", "warning", ratio, f"{what}; {words}", fix))
        elif ratio > GRADIENT_RATIO:
            words, fix = advice.smaller()
            message = (
                f"the gradient here is {_times(ratio)} larger than at {where}, nearest the loss: "
                f"gradients grow on their way back, so the early layers take the biggest steps; {words}"
            )
            findings.append(Finding(label, "exploding_gradients", "warning", ratio, message, fix))
    return findings


def update_size(run, advice):
    """The median weight's recent update:data far from the 1e-3 rule of thumb ('update_ratio'), with the
    learning rate that brings it there."""
    recent = stats.recent_update_ratios(run)
    if not recent or advice.broken:  # after a broken start the update sizes say nothing of the learning rate
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
    fix = {"lr": _one_digit(lr * factor)} if lr and run.config is not None else {}
    if lr:
        change += f" (lr {lr:g} -> {_one_digit(lr * factor):g})"
    if advice.overshot and factor > 1:  # saturated or dead layers that overshooting left behind pass little gradient
        change = "here the layers that overshooting saturated pass little gradient: lower the learning rate"
        fix = advice.cause.fix
    elif factor > 1 and run.config is not None and (advice.gain_below() or lr * factor > SAFE_LR[run.config.optimizer]):
        # small updates from gradients that fade (a gain below its suited one), or a learning rate that could not
        # rise that far without overshooting: the start's fix, not a larger learning rate
        change, fix = advice.larger()
    speed = "slowly: training crawls" if median < UPDATE_RATIO_TARGET else "fast: training is unstable"
    message = (
        f"each step changes a weight by about {10**median:.0e} of its size (median "
        f"update:data), far from the 1e-3 rule of thumb, so the weights learn too {speed}; "
        f"{change}"
    )
    return [Finding("run", "update_ratio", "warning", median, message, fix)]


def last_layer_fast(run):
    """The last weight's recent update:data far above the typical weight's ('last_layer_fast')."""
    recent = stats.recent_update_ratios(run)
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


def _saturated(run, layer, advice):
    """[a 'saturated' finding] if too many of the layer's outputs sit on a flat tail, else []."""
    threshold = run.saturation_threshold
    facts = of_kind(layer.kind)
    if threshold is None and not (facts is not None and facts.flat_tails):
        return []  # its flat part is no tail (ReLU's 0 is half its outputs when healthy), or it has none
    pct = stats.saturation_percent(layer, threshold)
    if pct is None or not pct > SATURATION_LIMIT:
        return []
    words, fix = advice.smaller(" before the activation")
    message = (
        f"{pct:.1f}% of the outputs are {_flat_words(layer, threshold)}, where almost no gradient gets through; {words}"
    )
    return [Finding(stats.layer_label(layer), "saturated", "warning", pct, message, fix)]


def _dead_units(run, layer, advice):
    """[a 'dead_units' finding] if too many units sit on the flat part for every example of the batch, else []."""
    threshold = run.saturation_threshold
    facts = of_kind(layer.kind)
    out = layer.out.reshape(layer.out.shape[0], -1)  # (batch, units)
    if threshold is None and not (facts is not None and facts.can_die) or out.shape[0] < DEAD_UNIT_MIN_BATCH:
        return []
    inputs = None if layer.input is None else layer.input.reshape(out.shape)
    flat = saturated(out, layer.kind, threshold, inputs)
    if flat is None:  # a rule that reads the layer's input, which was not kept
        return []
    dead = flat.all(dim=0)  # (units,)
    fraction = dead.float().mean().item()
    if not fraction > DEAD_UNIT_LIMIT:
        return []
    words, fix = advice.dead_units()
    message = (
        f"{int(dead.sum())} of {dead.numel()} units ({fraction:.0%}) are {_flat_words(layer, threshold)} for "
        f"every example in the batch: they pass no gradient and may never learn again; {words}"
    )
    return [Finding(stats.layer_label(layer), "dead_units", "warning", fraction, message, fix)]


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
