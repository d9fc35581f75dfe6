"""Health verdicts on the lesson's runs and on watched torch.nn models, and the linear theory of the std per layer."""

import math

import pytest
import torch
import torch.nn as nn
from torch_models import train_watched

from nbdiag import health, stats
from nbdiag.health import Finding, diagnose, format_findings, healthy_bands
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
        assert f.message and "\n" not in f.message and f.layer


def test_saturated_tanh_layers_at_gain_3_are_flagged(dataset):
    run = train(Config(gain=3), dataset)
    saturated = codes(diagnose(run), "saturated")
    assert [f.layer for f in saturated] == [f"layer {i} (Tanh)" for i in (1, 3, 5, 7, 9)]
    assert saturated[0].value == pytest.approx(47.66, abs=0.005)  # the lesson's number is the one behind it
    assert "47.7%" in saturated[0].message


def test_collapsing_activations_and_vanishing_gradients_at_gain_half_are_flagged(dataset):
    findings = diagnose(train(Config(gain=0.5), dataset))
    collapsing = codes(findings, "collapsing")
    assert [f.layer for f in collapsing] == [f"layer {i} (Tanh)" for i in (3, 5, 7, 9)]
    assert collapsing[-1].value == pytest.approx(0.024 / 0.41, rel=0.05)  # std 0.02 against 0.41 in the lesson
    vanishing = codes(findings, "vanishing_gradients")
    assert [f.layer for f in vanishing][0] == "layer 1 (Tanh)"
    assert vanishing[0].value == pytest.approx(1.892402e-05 / 3.053498e-04, rel=1e-3)
    assert not codes(findings, "saturated")


def test_the_linear_sandwich_grows_forward_and_its_gradients_grow_backward(dataset):
    findings = diagnose(train(Config(tanh=False), dataset))
    assert codes(findings, "exploding_activations")[-1].value == pytest.approx(12.78 / 1.65, rel=0.01)
    assert codes(findings, "exploding_gradients")[0].layer == "layer 0 (Linear)"
    assert not codes(findings, "saturated")  # a Linear layer has no flat tail to saturate on


def test_healthy_batchnorm_run_is_not_flagged_for_saturation(batchnorm_run):
    acts = stats.activation_stats(batchnorm_run)  # the lesson's numbers still hold
    assert [a.index for a in acts] == [2, 5, 8, 11, 14]
    assert acts[0].saturated == pytest.approx(2.62, abs=0.005) and acts[-1].saturated == pytest.approx(1.78, abs=0.005)
    findings = diagnose(batchnorm_run)
    for code in ("saturated", "dead_units", "collapsing", "vanishing_gradients", "exploding_gradients", "diverged"):
        assert not codes(findings, code), format_findings(findings)


def test_a_diverged_run_is_flagged_first(dataset):
    run = train(Config(lr=1000, tanh=False, steps=30), dataset)
    findings = diagnose(run)
    assert findings[0].code == "diverged" and findings[0].severity == "error"
    assert findings[0].value == 2 and "step 2" in findings[0].message and "lr 100" in findings[0].message
    assert all(f.severity == "warning" for f in findings[1:])


def test_update_ratio_far_below_1e_3_says_how_much_to_raise_the_learning_rate(dataset):
    run = train(Config(lr=0.001, steps=50), dataset)
    [finding] = codes(diagnose(run), "update_ratio")
    assert finding.layer == "run" and finding.value < -4
    factor = float(finding.message.split("multiply the learning rate by ~")[1].split()[0])
    assert 10 ** (finding.value) * factor == pytest.approx(1e-3, rel=0.5)  # the suggested lr brings it to ~1e-3
    assert f"lr 0.001 -> {health._one_digit(0.001 * factor):g}" in finding.message
    assert not codes(diagnose(train(Config(steps=50), dataset)), "update_ratio")  # lr 0.1 is within the band


def test_the_last_layer_learning_far_faster_is_flagged_at_the_start(dataset):
    [finding] = codes(diagnose(train(Config(), dataset)), "last_layer_fast")
    assert finding.layer == "weight 11 (100, 27)" and finding.value > 100


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
    assert finding.layer == "layer 3 (ReLU)" and finding.value == pytest.approx(0.6, abs=0.01)
    assert "60 of 100 units" in finding.message
    healthy = train_watched(relu_net(), 20, torch.optim.Adam, 1e-3, lr=1e-3)
    assert not codes(diagnose(healthy), "dead_units")
    assert not codes(diagnose(healthy), "saturated")  # half of a ReLU's outputs are 0: normal, not saturation
    assert 30 < stats.activation_stats(healthy)[0].saturated < 70  # ReLU's rule: the percent exactly 0


def test_format_findings_and_a_clean_bill_of_health(batchnorm_run):
    assert format_findings([]).startswith("no problems found")
    text = format_findings([Finding("run", "diverged", "error", 2.0, "the loss became nan at step 2")])
    assert text == "error   run: the loss became nan at step 2"


def test_healthy_bands_cover_the_lessons_good_runs(batchnorm_run):
    bands = healthy_bands()
    ratio, saturation = bands["update_ratio"], bands["saturation"]
    assert ratio.low < -3 < ratio.high and saturation.low == 0 and saturation.high == health.SATURATION_LIMIT
    assert bands["tanh_output"].high == stats.SATURATION_THRESHOLD
    last = batchnorm_run.update_ratios[-100:].mean(0)  # the lesson's well-tuned run sits inside the band
    assert all(ratio.low < last[p.index] < ratio.high for p in stats.weights(batchnorm_run))
    assert all(saturation.low <= a.saturated <= saturation.high for a in stats.activation_stats(batchnorm_run))


# -- theory next to measurement: the linear prediction of the std per layer at initialization
