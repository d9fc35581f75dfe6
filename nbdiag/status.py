"""How a run ended, in one line: trained (or recorded), diverging, or diverged. The same line for a train.Run and
for a watch.Recording: both read it here, through records.RunRecord's fields."""

import math

import torch

from .cause import broken_start, divergence_cause, uniform_loss

# Diverging (see diverging_from): the loss stays above DIVERGING_FACTOR times its value at step 0 for the run's last
# DIVERGING_STEPS steps or more. The lesson's network starts near ln 27 = 3.3 (a uniform guess); lr 1, which lesson 7
# calls overshooting, ends a little above that and stays under 3x but for the odd short spike; lr 2 and more sit at
# 3x to 500x for good. A shorter stretch would call one bad batch at the end a divergence.
DIVERGING_FACTOR = 3.0
DIVERGING_STEPS = 10


def diverging_from(losses):
    """The step from which a run whose losses are all finite is diverging, or None.

    Diverging: the loss stays above DIVERGING_FACTOR times its value at step 0 from that step to the last, a stretch
    of at least the last DIVERGING_STEPS steps (in a shorter run, every step after step 0). A loss that starts at 0
    or below (a watched model's own loss) has no such scale: never diverging. A non-finite loss is a divergence
    already (run.diverged_at), not this.
    """
    if len(losses) < 2 or not torch.isfinite(losses).all() or not losses[0] > 0:
        return None
    above = (losses > DIVERGING_FACTOR * losses[0]).tolist()  # above[0] is False: the loss at step 0 is positive
    start = len(above) - above[::-1].index(False)  # the step after the last one at or below the line
    if start == len(above) or len(above) - start < min(DIVERGING_STEPS, len(above) - 1):
        return None
    return start


def status(run, last_loss=None):
    """One line saying how `run` ended: a train run (run.config set) "trained", a watch recording "recorded".

    `last_loss`: the last loss as the run holds it, where that is finer than run.losses' float32 (a recording keeps
    the Python numbers it was given); by default run.losses[-1].
    """
    if not run.steps_done:  # only a recording can have none
        return "no step recorded yet: call rec.step(loss) after each optimizer.step()"
    trained = run.config is not None
    loss = run.losses[-1].item() if last_loss is None else last_loss
    if run.diverged_at is None:
        start = run.diverging_from
        if start is None:
            steps = f"{run.steps_done} step{'' if run.steps_done == 1 else 's'}"
            if broken_start(run):  # finite, but far above a uniform guess's from the start
                first = run.losses[0].item()
                return (
                    f"trained {steps}, final loss {loss:.4g}; the loss at step 0 was {first:.4g}, "
                    f"{first / uniform_loss(run):.2g}x a uniform guess's: a broken start "
                    f"({divergence_cause(run).blame})"
                )
            return f"{'trained' if trained else 'recorded'} {steps}, final loss {loss:.4f}"
        return (
            f"diverging from step {start}: the loss stayed above {DIVERGING_FACTOR:g}x its value at step 0 "
            f"({run.losses[0].item():.4f}) from there on, final loss {run.losses[-1].item():.4f} "
            f"({divergence_cause(run).blame})"
        )
    blame = divergence_cause(run).blame
    if not trained:
        if run.diverged_at == 0:
            return (
                f"the loss was {loss} at step 0, before any update: look at the input, the initial weights "
                f"or the loss function; recording stopped there"
            )
        return f"diverged at step {run.diverged_at}: the loss became {loss} ({blame}); recording stopped there"
    if math.isfinite(loss):  # the loss was finite; the update after it was not
        what = f"its update made the weights inf or nan ({blame})"
    elif run.diverged_at == 0:  # before any update: the learning rate played no part
        what = f"the loss was {loss} before any update ({blame})"
    else:
        what = f"the loss became {loss} ({blame})"
    return f"diverged at step {run.diverged_at}: {what}; stopped there"
