"""Which setting to blame for a run's problems, and the advice: the start (the gain, fan_in scaling, residual
growth) or the learning rate, and for a run that trains badly, which way to move the gain, or what instead.

The status line and the health findings both name it from here, with the change of the Config that fixes it, so
that what nbdiag tells a student can be checked by running that change. Pure arithmetic on the records and the
config: nothing is trained again.
"""

import math
import statistics
from dataclasses import dataclass

from . import stats
from .activations import FACTS, of_kind
from .bands import UPDATE_RATIO_TARGET, UPDATE_RATIO_TOLERANCE
from .config import format_number

INIT_LOSS_FACTOR = (
    10.0  # a loss this many times a uniform guess's (ln of the classes) before any update: a broken start
)
INIT_GROWTH_LIMIT = 10.0  # the signal growing this many times through the network at initialization: a start that
# amplifies every update's error (the linear sandwich at gain 5/3 grows it 13x in 5 layers and diverges at lr 0.1,
# which trains well at gain 1)
# A learning rate above this is to blame for a divergence whatever the start (lesson 7: SGD overshoots from lr 1 on,
# Adam moves every weight by about lr a step); at or below it, a start that grows the signal is.
SAFE_LR = {"sgd": 0.5, "adam": 0.01}


@dataclass(frozen=True)
class Cause:
    """A setting to blame, in words, and the change of the Config that fixes it ({} where there is none to make)."""

    blame: str  # "lr 0.1 is probably too large"
    advice: str  # "lower the learning rate (try lr 0.01 or smaller)"
    fix: dict  # {"lr": 0.01}: the Config change the advice means; {} for a watched model


def uniform_loss(run):
    """The cross-entropy of a uniform guess over the run's classes, ln(classes), or None for a watched model (whose
    loss nbdiag does not know)."""
    if run.config is None or not run.layers:
        return None
    return math.log(run.layers[-1].out.shape[-1])  # the last layer gives one logit per class


def broken_start(run):
    """Whether the loss before any update was non-finite or over INIT_LOSS_FACTOR times a uniform guess's."""
    if not run.steps_done:
        return False
    first, uniform = run.losses[0].item(), uniform_loss(run)
    return not math.isfinite(first) or (uniform is not None and first > INIT_LOSS_FACTOR * uniform)


def init_growth(config):
    """How many times the signal's std grows from the input to the last hidden layer at initialization, by the
    arithmetic of the gains: a layer multiplies it by gain / (the activation's suited gain), times sqrt(fan_in)
    without fan_in scaling; a residual block x + f(x) by sqrt(1 + that squared). Batchnorm resets it every layer,
    and a bounded activation (tanh, sigmoid) saturates instead of growing: 1 for both."""
    facts = FACTS[config.activation]
    if config.batchnorm or facts.bounded:
        return 1.0
    factor = config.gain / facts.gain * (1.0 if config.fan_in_scaling else config.n_hidden**0.5)
    if not config.residual:
        return factor**config.depth
    return factor * math.sqrt(1 + factor**2) ** (config.depth - 1)


def init_cause(config):
    """What makes the start grow the signal, as a Cause: residual blocks without batchnorm, fan_in scaling off, or
    a gain above the activation's suited one; None where the start does not grow it past INIT_GROWTH_LIMIT."""
    growth = init_growth(config)
    if not growth > INIT_GROWTH_LIMIT:
        return None
    facts = FACTS[config.activation]
    grows = f"the signal grows {_times(growth)} through the {config.depth} hidden layers at initialization"
    if config.residual:
        return Cause(
            f"residual connections without batchnorm: {grows}",
            "add batchnorm, which resets every block's output to std 1",
            {"batchnorm": True},
        )
    if not config.fan_in_scaling:
        return Cause(
            f"no fan_in scaling: {grows}",
            "turn fan_in scaling back on, which divides each weight by sqrt(fan_in)",
            {"fan_in_scaling": True},
        )
    return Cause(
        f"the initial gain {format_number(config.gain)} is probably too large: {grows}",
        f"lower the initial gain to {facts.gain_label} ({facts.suits})",
        {"gain": facts.gain},
    )


def lr_cause(run):
    """The learning rate, as a Cause: 10x smaller, and for a train run no more than half its optimizer's SAFE_LR."""
    lr = run.lr
    if not lr:
        return Cause("the learning rate is probably too large", "lower the learning rate (try one 10x smaller)", {})
    lower = lr / 10 if run.config is None else min(lr / 10, SAFE_LR[run.config.optimizer] / 2)
    return Cause(
        f"lr {lr:g} is probably too large",
        f"lower the learning rate (try lr {lower:g} or smaller)",
        {"lr": lower} if run.config is not None else {},
    )


def divergence_cause(run):
    """What to blame for a run that diverged or is diverging: the start, where it is broken (broken_start: the
    learning rate played no part yet), or where it grows the signal past INIT_GROWTH_LIMIT (init_cause) and the
    learning rate is no larger than SAFE_LR; both, where the learning rate is larger too; else the learning rate."""
    config = run.config
    if config is not None and broken_start(run):
        return init_cause(config) or _start_cause(config)
    start = None if config is None else init_cause(config)
    if start is None:
        return lr_cause(run)
    if config.lr <= SAFE_LR[config.optimizer]:
        return start
    lr = lr_cause(run)  # both: a smaller learning rate alone would leave the start to blow the run up
    return Cause(f"{lr.blame}, and {start.blame}", f"{lr.advice}, and {start.advice}", {**lr.fix, **start.fix})


def _start_cause(config):
    """A broken start that the gains' arithmetic does not explain (a bounded activation's weights beyond float32's
    range): fan_in scaling off, else the gain."""
    if not config.fan_in_scaling:
        return Cause(
            "no fan_in scaling: the initial weights are far too large",
            "turn fan_in scaling back on, which divides each weight by sqrt(fan_in)",
            {"fan_in_scaling": True},
        )
    facts = FACTS[config.activation]
    return Cause(
        f"the initial gain {format_number(config.gain)} is probably too large",
        f"lower the initial gain (now {format_number(config.gain)}; {facts.suits})",
        {"gain": facts.gain},
    )


def _times(x):
    """'13x', '2e+07x'."""
    return f"{x:.0f}x" if x < 1e4 else f"{x:.0e}x"


_DEEP = "use fewer hidden layers"  # what is left to try for a fading signal with batchnorm on
_PUSHED = "training pushed the outputs there: lower the learning rate"  # batchnorm starts every layer at std 1


class Advice:
    """What to advise for a run, decided once for all its findings, so that they never point two ways.

    A run that overshot (diverged after its first update, or diverging), started broken, or whose start grows the
    signal (init_cause) gets the advice of that cause (divergence_cause) everywhere. Otherwise the gain is advised
    only toward its activation's suited gain (raised only below it, lowered only above it, never at it), else
    batchnorm, then fewer layers or a smaller learning rate; and where the learning rate is too large as well
    (updates far above the 1e-3 rule of thumb, or above SAFE_LR), every advice says so too. A watched model's
    gain is unknown: its findings advise a gain direction only when none of them calls for the other."""

    def __init__(self, run):
        self.run, self.config = run, run.config
        overshot = (run.diverged_at or 0) > 0 or (run.diverged_at is None and run.diverging_from is not None)
        broken = self.broken = broken_start(run)
        if overshot or broken:
            self.cause = divergence_cause(run)
        else:  # a start that grows the signal is to blame before anything else
            self.cause = None if self.config is None else init_cause(self.config)
        self.overshot = self.cause is not None and not broken and self.cause.fix.keys() <= {"lr"}
        recent = list(stats.recent_update_ratios(run).values())
        too_fast = bool(recent) and statistics.median(recent) > UPDATE_RATIO_TARGET + UPDATE_RATIO_TOLERANCE
        beyond_safe = self.config is not None and self.config.lr > SAFE_LR[self.config.optimizer]
        self.too_fast = lr_cause(run) if self.cause is None and (too_fast or beyond_safe) else None
        self.directions = None  # a watched model's: the gain directions its findings call for, once gathered

    def gain_below(self):
        """Whether a train run's gain is below its activation's suited gain."""
        return self.config is not None and self._gain_direction() < 0

    def _gain_direction(self):
        """+1 where the gain is above its activation's suited gain, -1 below, 0 at it (within 2%) or with residual
        connections (the suited gains keep a plain stack's signal; a residual block adds its input on top)."""
        suited = FACTS[self.config.activation].gain
        if self.config.residual or abs(self.config.gain / suited - 1) < 0.02:
            return 0
        return 1 if self.config.gain > suited else -1

    def _of_cause(self):
        if self.overshot:
            return "the updates are too large: lower the learning rate", self.cause.fix
        return f"the start is at fault: {self.cause.advice}", self.cause.fix

    def _and_lr(self, words, fix):
        """The advice, and a smaller learning rate where it is too large as well."""
        if self.too_fast is None:
            return words, fix
        if "lr" in fix:
            return self.too_fast.advice, self.too_fast.fix
        return f"{words}, and {self.too_fast.advice}", {**fix, **self.too_fast.fix}

    def smaller(self, where=""):
        """(advice, fix) for a signal too large or too flat: lower the gain, or batchnorm (`where`), or beyond."""
        if self.cause is not None:
            return self._of_cause()
        if self.config is None:
            if self.directions is not None and -1 in self.directions:
                return "look at how the layers' weights are initialized, or add normalization layers", {}
            return f"lower the initial gain or add batchnorm{where}", {}
        if self._gain_direction() > 0:
            facts = FACTS[self.config.activation]
            words = f"lower the initial gain (now {format_number(self.config.gain)}; {facts.suits})"
            return self._and_lr(words, {"gain": facts.gain})
        if not self.config.batchnorm:
            return self._and_lr(f"add batchnorm{where}", {"batchnorm": True})
        return self._and_lr(f"batchnorm is already on, so {_PUSHED}", {"lr": self.config.lr / 10})

    def larger(self):
        """(advice, fix) for a signal or gradient that fades: raise the gain, or batchnorm, or fewer layers. A start
        that grows the signal is not why one fades: that cause is told only for a run that overshot or broke."""
        if self.cause is not None and (self.overshot or self.broken):
            return self._of_cause()
        if self.config is None:
            if self.directions is not None and 1 in self.directions:
                return "look at how the layers' weights are initialized, or add normalization layers", {}
            suited = _watched_suits(self.run)
            return f"raise the initial gain{f' ({suited})' if suited else ''} or add batchnorm", {}
        if self._gain_direction() < 0:
            facts = FACTS[self.config.activation]
            words = f"raise the initial gain (now {format_number(self.config.gain)}; {facts.suits})"
            return self._and_lr(words, {"gain": facts.gain})
        if not self.config.batchnorm:
            return self._and_lr("add batchnorm", {"batchnorm": True})
        fix = {"depth": max(1, self.config.depth // 2)} if self.config.depth > 1 else {}
        return self._and_lr(f"batchnorm is already on, so {_DEEP}", fix)

    def dead_units(self):
        """(advice, fix) for units stuck on the flat part for every example: batchnorm before the activation (which
        centres every unit on its batch, so none can stay off for all of it), whatever the start; with batchnorm
        on, or updates that overshot, the cause or a smaller learning rate."""
        if self.cause is not None and (self.config is None or self.config.batchnorm or self.overshot):
            return self._of_cause()
        if self.config is None:
            return "lower the learning rate, or add batchnorm before the activation", {}
        if not self.config.batchnorm:
            words = "add batchnorm before the activation, which centres every unit on its batch"
            return self._and_lr(words, {"batchnorm": True})
        return self.learning_rate()

    def learning_rate(self):
        """(advice, fix) for units that training pushed onto the flat part: the cause, or a smaller learning rate."""
        if self.cause is not None:
            return self._of_cause()
        lr = self.too_fast or lr_cause(self.run)
        return lr.advice, lr.fix


def _watched_suits(run):
    """'√2 suits relu' for a watched model whose watched layers are all one activation nbdiag knows, else ''."""
    facts = {of_kind(layer.kind) for layer in stats.watched_layers(run)}
    (one,) = facts if len(facts) == 1 else (None,)
    return one.suits if one is not None else ""
