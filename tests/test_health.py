"""Health findings on the lesson's runs and on watched torch.nn models, and the linear theory of the std per layer."""

import math
import os
import re
import subprocess
import sys

import pytest
import torch
import torch.nn as nn
from torch_models import train_watched

from nbdiag import activations, health, kernels, stats
from nbdiag.bands import SATURATION_LIMIT, healthy_bands
from nbdiag.health import Finding, diagnose, format_findings
from nbdiag.train import Config, train


@pytest.fixture(scope="module")
def batchnorm_run(dataset):
    return train(Config(batchnorm=True, steps=1001), dataset, progress=False)


def codes(findings, code):
    return [f for f in findings if f.code == code]


def test_findings_are_named_records_with_a_number_and_a_sentence(dataset):
    findings = diagnose(train(Config(gain=3), dataset))
    assert findings and all(isinstance(f, Finding) for f in findings)
    for f in findings:
        assert f.severity in {"error", "warning"} and math.isfinite(f.value)
        assert f.message and "\n" not in f.message and f.where


def test_saturated_tanh_layers_at_gain_3_are_flagged(dataset):
    run = train(Config(gain=3), dataset)
    saturated = codes(diagnose(run), "saturated")
    assert saturated[0].layers == tuple(f"layer {i} (Tanh)" for i in (1, 3, 5, 7, 9)) and len(saturated) == 1
    assert saturated[0].where == "5 layers from layer 1 (Tanh) to layer 9 (Tanh)"  # one finding for all five
    assert saturated[0].value == pytest.approx(47.66, abs=0.005)  # the lesson's number is the one behind it
    assert "47.7%" in saturated[0].message


def test_collapsing_activations_and_vanishing_gradients_at_gain_half_are_flagged(dataset):
    findings = diagnose(train(Config(gain=0.5), dataset))
    collapsing = codes(findings, "collapsing")
    assert collapsing[0].layers == tuple(f"layer {i} (Tanh)" for i in (3, 5, 7, 9))
    assert collapsing[-1].value == pytest.approx(0.024 / 0.41, rel=0.05)  # std 0.02 against 0.41 in the lesson
    vanishing = codes(findings, "vanishing_gradients")
    assert vanishing[0].layers[0] == "layer 1 (Tanh)" and "worst at layer 1 (Tanh)" in vanishing[0].message
    assert vanishing[0].value == pytest.approx(1.892402e-05 / 3.053498e-04, rel=1e-3)
    assert not codes(findings, "saturated")


def test_the_linear_sandwich_grows_forward_and_its_gradients_grow_backward(dataset):
    findings = diagnose(train(Config(activation="linear"), dataset))
    assert codes(findings, "exploding_activations")[-1].value == pytest.approx(12.78 / 1.65, rel=0.01)
    assert codes(findings, "exploding_gradients")[0].layers[0] == "layer 0 (Linear)"
    assert not codes(findings, "saturated")  # a Linear layer has no flat tail to saturate on


def test_healthy_batchnorm_run_is_not_flagged_for_saturation(batchnorm_run):
    acts = stats.activation_stats(batchnorm_run)  # the lesson's numbers still hold
    assert [a.index for a in acts] == [2, 5, 8, 11, 14]
    assert acts[0].saturated == pytest.approx(2.62, abs=0.005) and acts[-1].saturated == pytest.approx(1.78, abs=0.005)
    findings = diagnose(batchnorm_run)
    for code in ("saturated", "dead_units", "collapsing", "vanishing_gradients", "exploding_gradients", "diverged"):
        assert not codes(findings, code), format_findings(findings)


def test_a_diverged_run_is_flagged_first(dataset):
    run = train(Config(lr=1000, activation="linear", steps=30), dataset)
    findings = diagnose(run)
    assert findings[0].code == "diverged" and findings[0].severity == "error"
    assert findings[0].value == 2 and "step 2" in findings[0].message and "try lr 0.25" in findings[0].message
    assert findings[0].fix == {"lr": 0.25, "gain": 1.0}  # lr 1000, and a linear sandwich at 5/3 grows the signal 13x
    assert all(f.severity == "warning" for f in findings[1:])


def test_update_ratio_far_below_1e_3_says_how_much_to_raise_the_learning_rate(dataset):
    run = train(Config(lr=0.001, steps=50), dataset)
    [finding] = codes(diagnose(run), "update_ratio")
    assert finding.where == "run" and finding.value < -4
    factor = float(finding.message.split("multiply the learning rate by ~")[1].split()[0])
    assert 10 ** (finding.value) * factor == pytest.approx(1e-3, rel=0.5)  # the suggested lr brings it to ~1e-3
    assert f"lr 0.001 -> {health._one_digit(0.001 * factor):g}" in finding.message
    assert not codes(diagnose(train(Config(steps=50), dataset)), "update_ratio")  # lr 0.1 is within the band


def test_the_last_layer_learning_far_faster_is_flagged_at_the_start(dataset):
    [finding] = codes(diagnose(train(Config(), dataset)), "last_layer_fast")
    assert finding.where == "weight 11 (100, 27)" and finding.value > 100


def relu_net(dead_bias=None, seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(20, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(), nn.Linear(100, 5))
    for m in model:
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    if dead_bias is not None:
        with torch.no_grad():
            model[2].bias[:60] = dead_bias  # 60 of the second layer's 100 units never switch on
    return model


def test_a_relu_network_with_many_dead_units_is_flagged():
    rec = train_watched(relu_net(dead_bias=-100.0), 20, torch.optim.Adam, 1e-3, lr=1e-3)
    [finding] = codes(diagnose(rec), "dead_units")
    assert finding.where == "layer 3 (ReLU)" and finding.value == pytest.approx(0.6, abs=0.01)
    assert "60 of 100 units" in finding.message
    healthy = train_watched(relu_net(), 20, torch.optim.Adam, 1e-3, lr=1e-3)
    assert not codes(diagnose(healthy), "dead_units")
    assert not codes(diagnose(healthy), "saturated")  # half of a ReLU's outputs are 0: normal, not saturation
    assert 30 < stats.activation_stats(healthy)[0].saturated < 70  # ReLU's rule: the percent exactly 0


def test_format_findings_and_a_clean_bill_of_health(batchnorm_run):
    assert format_findings([]).startswith("no problems found")
    text = format_findings(
        [Finding(where="run", code="diverged", severity="error", value=2.0, message="the loss became nan at step 2")]
    )
    assert text == "error   run: the loss became nan at step 2"


def test_healthy_bands_cover_the_lessons_good_runs(batchnorm_run):
    healthy = healthy_bands()
    ratio, saturation = healthy["update_ratio"], healthy["saturation"]
    assert ratio.low < -3 < ratio.high and saturation.low == 0 and saturation.high == SATURATION_LIMIT
    assert healthy["tanh_output"].high == activations.SATURATION_THRESHOLD
    last = batchnorm_run.update_ratios[-100:].mean(0)  # the lesson's well-tuned run sits inside the band
    assert all(ratio.low < last[p.index] < ratio.high for p in stats.weights(batchnorm_run))
    assert all(saturation.low <= a.saturated <= saturation.high for a in stats.activation_stats(batchnorm_run))


# -- runs that go wrong: no crash, the right cause named, numbers a student can read


@pytest.fixture(scope="module")
def lr10_run(dataset):
    """The dashboard's slider corner, lr 10 for 3000 steps: the loss is far above its start, the tanh layers are
    saturated and the first ones receive a gradient of exactly 0."""
    return train(Config(lr=10, steps=3000), dataset, progress=False)


def test_a_layer_whose_gradient_is_exactly_zero_is_a_finding_not_a_crash(dataset):
    run = train(Config(gain=1e30), dataset)  # every tanh output exactly +-1: no gradient passes a tanh layer
    assert [g.std == 0 for g in stats.gradient_stats(run)] == [True] * 4 + [False]  # what used to divide by zero
    dead = codes(diagnose(run), "vanishing_gradients")
    assert dead[0].layers == tuple(f"layer {i} (Tanh)" for i in (1, 3, 5, 7)) and dead[0].value == 0
    assert "no gradient at all reaches this layer" in dead[0].message and "layer 9 (Tanh)" in dead[0].message


def test_the_dashboards_corner_under_the_lessons_kernels_is_diagnosed():
    """The tracker's repro, lr 10 for 3000 steps: under the kernels the lesson printed with (kernels.PINS) it
    leaves a layer whose gradient is exactly 0 (other kernels leave 1e-10)."""
    code = (
        "from nbdiag import Config, health, train\n"
        "run = train(Config(lr=10, steps=3000), progress=False)\n"
        "print(health.format_findings(health.diagnose(run)))"
    )
    env = {**os.environ, **kernels.PINS}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("error   run: the loss rose above 3x")


def test_a_watched_relu_model_with_a_dead_layer_is_diagnosed():
    model = relu_net()
    with torch.no_grad():
        model[2].bias[:] = -100.0  # the second ReLU layer never switches on: nothing flows back through it
    findings = diagnose(train_watched(model, 5, torch.optim.SGD, 0.1, lr=0.1))
    [dead] = [f for f in codes(findings, "dead_units") if f.where == "layer 3 (ReLU)"]
    assert dead.value == 1.0
    [none] = codes(findings, "vanishing_gradients")
    assert none.where == "layer 1 (ReLU)" and none.value == 0 and "no gradient at all" in none.message


def test_a_loss_far_above_its_start_is_diverging_from_the_step_it_rose(lr10_run):
    findings = diagnose(lr10_run)
    assert findings[0].code == "diverging" and findings[0].severity == "error" and findings[0].value == 1
    assert "step 1" in findings[0].message and "try lr 0.25 or smaller" in findings[0].message
    assert lr10_run.diverging_from == 1 and lr10_run.status.startswith("diverging from step 1:")
    assert "lr 10 is probably too large" in lr10_run.status


def test_the_advice_for_what_overshooting_did_is_the_learning_rate(lr10_run):
    findings = diagnose(lr10_run)
    for f in codes(findings, "saturated") + codes(findings, "vanishing_gradients"):
        assert "lower the learning rate" in f.message and "gain" not in f.message, f.message
    # its tiny update:data comes from the saturated layers: never advise a larger learning rate here
    assert not any("multiply the learning rate" in f.message for f in findings), format_findings(findings)


@pytest.mark.parametrize(
    "config",
    [
        Config(lr=1.0, steps=500),  # lesson 7: overshooting, its loss ends a little above its start
        Config(lr=1.0, batchnorm=True, steps=500),  # lesson 8: batchnorm takes lr 1 in its stride
        Config(steps=1000),
    ],
    ids=["lr 1", "lr 1 batchnorm", "lr 0.1"],
)
def test_the_lessons_runs_at_large_learning_rates_are_trained_not_diverging(config, dataset):
    run = train(config, dataset, progress=False)
    assert run.diverging_from is None and run.status.startswith("trained"), run.status
    assert not codes(diagnose(run), "diverging") and not codes(diagnose(run), "diverged")


def test_weights_an_update_made_infinite_are_a_divergence_of_the_learning_rate(dataset):
    run = train(Config(lr=1e308, steps=50), dataset)
    assert run.diverged_at == 0 and run.steps_done == 1 and math.isfinite(run.losses[-1])
    [finding] = codes(diagnose(run), "diverged")
    assert finding.severity == "error" and finding.value == 0
    assert (
        "update at step 0 made the weights inf or nan" in finding.message
        and "try lr 0.25 or smaller" in finding.message
    )  # at most half of SGD's SAFE_LR


def test_a_non_finite_loss_before_any_update_is_blamed_on_the_gain(dataset):
    run = train(Config(gain=1e200), dataset)
    [finding] = codes(diagnose(run), "diverged")
    assert "before any update" in finding.message and "gain (now 1e+200" in finding.message
    assert "lower the learning rate" not in finding.message
    assert "initial gain 1e+200 is probably too large" in run.status and "lr" not in run.status
    off = train(Config(gain=1e200, fan_in_scaling=False), dataset)
    assert "turn fan_in scaling back on" in codes(diagnose(off), "diverged")[0].message


def test_a_non_finite_loss_after_updates_is_still_blamed_on_the_learning_rate(diverged):
    [finding] = codes(diagnose(diverged), "diverged")
    assert "lower the learning rate" in finding.message and finding.fix["lr"] == 0.25  # and the 13x start too


@pytest.mark.parametrize(
    "config",
    [
        Config(gain=0.01, activation="linear", depth=10),  # gradients 1e18x smaller at the first layer
        Config(gain=1e5, activation="linear", depth=10),  # outputs 1e30x larger
        Config(gain=3, depth=50),  # gradients 3e6x larger
        Config(depth=50, batchnorm=True),
    ],
    ids=["gain 0.01 linear", "gain 1e5 linear", "gain 3 depth 50", "depth 50 batchnorm"],
)
def test_factors_at_extreme_depth_and_gain_read_as_numbers(config, dataset):
    text = format_findings(diagnose(train(config, dataset)))
    assert "inf" not in text and "nan" not in text.replace("nan at step", "")
    assert not re.search(r"\d{5,}x", text), text  # no 20-digit factors: from 1e4 on, 1e+18x
    assert not re.search(r"(?<![\d.])0% of", text), text  # a tiny fraction reads as how many times smaller, not 0%


def test_with_batchnorm_on_the_advice_is_not_to_add_it(dataset):
    findings = diagnose(train(Config(depth=50, batchnorm=True), dataset))
    assert codes(findings, "exploding_gradients")
    for f in findings:
        assert "add batchnorm" not in f.message and "batchnorm is already on" in f.message, f.message
    without = diagnose(train(Config(depth=50), dataset))
    assert any("add batchnorm" in f.message for f in without)


def test_factors_are_short():
    assert [health._times(x) for x in (3.33, 16.2, 2400.0, 3.2e7, 1e300)] == [
        "3.3x",
        "16x",
        "2400x",
        "3e+07x",
        "1e+300x",
    ]
    assert health._times(math.inf) == "immeasurably many times"
    assert [health._fraction(x) for x in (0.24, 0.001, 0.0)] == ["24% of", "1000x smaller than", "exactly 0 times"]


# -- theory next to measurement: the linear prediction of the std per layer at initialization
