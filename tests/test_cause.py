"""nbdiag.cause: which setting a finding blames, checked by re-running with the change it advises.

The property-based test trains small networks over activation x gain x depth x residual x optimizer (and a
learning rate that is usual or too high), then, for every finding that advises a change of the Config, trains
again with that change: the problem the finding names must be no larger (and is most often gone).
"""

import dataclasses
import math
import statistics

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbdiag import Config, health, stats, train
from nbdiag.activations import FACTS, NAMES
from nbdiag.cause import INIT_GROWTH_LIMIT, broken_start, divergence_cause, init_growth
from nbdiag.health import diagnose

EXAMPLES = 40  # each trains a few networks of 40 steps: about a minute in all
LEARNING_RATES = {("sgd", "usual"): 0.1, ("sgd", "high"): 4.0, ("adam", "usual"): 0.003, ("adam", "high"): 0.05}
LOWER_IS_BETTER = {"saturated", "dead_units", "exploding_activations", "exploding_gradients", "broken_start"}


def _config(activation, gain, depth, residual, optimizer, rate):
    gain = FACTS[activation].gain if gain == "suited" else gain
    lr = LEARNING_RATES[optimizer, rate]
    return Config(
        activation=activation, gain=gain, depth=depth, residual=residual, optimizer=optimizer, lr=lr,
        n_hidden=32, steps=40,
    )  # fmt: skip


# what a layer without a finding of that code counts as: the edge of the healthy range
HEALTHY_EDGE = {
    "saturated": health.SATURATION_LIMIT,
    "dead_units": health.DEAD_UNIT_LIMIT,
    "collapsing": health.COLLAPSE_RATIO,
    "exploding_activations": health.GROWTH_RATIO,
    "vanishing_gradients": 1 / health.GRADIENT_RATIO,
    "exploding_gradients": health.GRADIENT_RATIO,
}


def _value(run, finding):
    """How much of `finding`'s problem `run` shows: for a problem of layers, the mean over the finding's layers of
    each one's value (a layer without it: the edge of the healthy range); else the run's finding's value, or None
    where it has none."""
    found = [f for f in diagnose(run, grouped=False) if f.code == finding.code]
    if finding.layers:
        per_layer = {f.where: f.value for f in found}
        return statistics.mean(per_layer.get(layer, HEALTHY_EDGE[finding.code]) for layer in finding.layers)
    return found[0].value if found else None


def _improved(finding, before, after):
    """Whether `after`, trained with `finding`'s fix, shows no more of the problem it names than `before` did."""
    code = finding.code
    if code == "diverged":
        return after.diverged_at is None or after.diverged_at > before.diverged_at
    if after.diverged_at is not None and before.diverged_at is None:
        return False  # the fix made a run that trained blow up
    if code == "diverging":
        return after.diverging_from is None or after.diverging_from > before.diverging_from
    if code == "broken_start":
        return not broken_start(after) or after.losses[0] < before.losses[0]
    then, now = _value(before, finding), _value(after, finding)
    if now is None:
        return True
    if code == "update_ratio":
        return abs(now + 3) <= abs(then + 3)
    return now <= then if code in LOWER_IS_BETTER else now >= then


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    activation=st.sampled_from(NAMES),
    gain=st.sampled_from([0.5, 1.0, "suited", 2.0, 3.0]),
    depth=st.sampled_from([2, 4, 8]),
    residual=st.booleans(),
    optimizer=st.sampled_from(["sgd", "adam"]),
    rate=st.sampled_from(["usual", "high"]),
)
def test_every_fix_a_finding_advises_makes_its_problem_smaller(
    dataset, activation, gain, depth, residual, optimizer, rate
):
    config = _config(activation, gain, depth, residual, optimizer, rate)
    run = train(config, dataset, progress=False)
    findings = diagnose(run)
    assert len(findings) <= 12, [f.where for f in findings]
    if FACTS[activation].flat is None:  # no flat part: no saturation figure anywhere
        assert all(s.saturated is None for s in stats.activation_stats(run))
        assert "saturated: n/a" in stats.tables(run) and "%" not in stats.tables(run).split("# gradients")[0]
        assert not [f for f in findings if f.code in ("saturated", "dead_units")]
    directions = set()
    for finding in findings:
        if "gain" in finding.fix:
            directions.add(math.copysign(1, finding.fix["gain"] - config.gain))
            assert not math.isclose(config.gain, FACTS[activation].gain), finding  # never at the suited gain
        if not finding.fix:
            continue
        rerun = train(dataclasses.replace(config, **finding.fix), dataset, progress=False)
        assert _improved(finding, run, rerun), (finding, finding.fix, rerun.status)
    assert len(directions) <= 1  # the gain is never advised both ways in one run


def test_a_broken_start_is_blamed_on_the_start_never_the_learning_rate(dataset):
    """The tracker's case: 50 residual ReLU blocks at √2, lr 1e-4: the loss is 2.3e10 before any update."""
    config = Config(depth=50, residual=True, activation="relu", gain=2**0.5, lr=1e-4, steps=30)
    run = train(config, dataset, progress=False)
    findings = diagnose(run)
    assert findings[0].code == "broken_start" and "not to blame" in findings[0].message
    assert all("lr 1e-05" not in f.message for f in findings)
    assert findings[0].fix == {"batchnorm": True} and len(findings) <= 12
    fixed = train(dataclasses.replace(config, **findings[0].fix), dataset, progress=False)
    assert fixed.diverged_at is None and not broken_start(fixed)
    one = train(dataclasses.replace(config, steps=1), dataset, progress=False)
    assert "a broken start" in one.status and "residual" in one.status  # not a plain "trained"


def test_a_linear_sandwich_at_gain_5_3_diverges_because_of_the_gain(dataset):
    """lr 0.1 trains a linear sandwich at gain 1; at 5/3 the start grows the signal 13x and it diverges."""
    config = Config(activation="linear", gain=5 / 3, steps=1000)
    assert init_growth(config) > INIT_GROWTH_LIMIT
    run = train(config, dataset, progress=False)
    cause = divergence_cause(run)
    assert cause.fix == {"gain": 1.0} and "gain 5/3" in run.status and "lr" not in run.status
    fixed = train(dataclasses.replace(config, **cause.fix), dataset, progress=False)
    assert fixed.diverged_at is None and fixed.diverging_from is None


@pytest.mark.parametrize("lr", [100.0, 1000.0])
def test_a_huge_learning_rate_is_blamed_whatever_the_start(dataset, lr):
    run = train(Config(activation="linear", gain=5 / 3, lr=lr, steps=30), dataset, progress=False)
    cause = divergence_cause(run)  # the start grows the signal 13x too: both are said, and both fixed
    assert cause.fix == {"lr": 0.25, "gain": 1.0} and f"lr {lr:g} is probably too large" in run.status


def test_the_suited_gain_gets_no_gain_advice(dataset):
    run = train(Config(gain=5 / 3, depth=20, n_hidden=32, steps=20), dataset, progress=False)
    assert not [f for f in diagnose(run) if "gain" in f.fix]
