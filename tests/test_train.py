"""The configuration, the model it builds and the instrumented run."""

import math

import pytest
import torch

from nbdiag import Config, ConfigError, train
from nbdiag.layers import BatchNorm1d, Linear, Tanh
from nbdiag.train import build_model


@pytest.mark.parametrize(
    "option, value",
    [
        ("gain", 0),
        ("gain", -1.0),
        ("gain", math.nan),
        ("gain", math.inf),
        ("gain", "abc"),
        ("lr", 0),
        ("lr", -0.1),
        ("lr", math.nan),
        ("last_layer_scale", 0),
        ("steps", 0),
        ("steps", 1.5),
        ("depth", 0),
        ("n_hidden", 0),
        ("n_embd", 0),
        ("batch_size", 0),
        ("seed", -1),
        ("seed", 2**64),
    ],
)
def test_invalid_values_are_rejected_naming_the_option(option, value):
    with pytest.raises(ConfigError, match=option):
        Config(**{option: value})


def test_gain_accepts_fractions():
    assert Config(gain="5/3").gain == 5 / 3


def test_layers_as_the_lecture_builds_them():
    g = torch.Generator().manual_seed(1)
    plain = build_model(Config(), 27, g).layers
    assert [type(l) for l in plain] == [Linear, Tanh] * 5 + [Linear]
    norm = build_model(Config(batchnorm=True), 27, g).layers
    assert [type(l) for l in norm] == [Linear, BatchNorm1d, Tanh] * 5 + [Linear, BatchNorm1d]
    assert all(l.bias is None for l in norm if isinstance(l, Linear))
    assert [type(l) for l in build_model(Config(tanh=False, depth=2), 27, g).layers] == [Linear] * 3


def test_gain_and_last_layer_scale_follow_the_lecture():
    def weights(config):
        return build_model(config, 27, torch.Generator().manual_seed(3))

    base, tripled = weights(Config(gain=1)), weights(Config(gain=3))
    for a, b in zip(base.layers[:-1], tripled.layers[:-1]):
        if isinstance(a, Linear):
            torch.testing.assert_close(b.weight, 3 * a.weight)
    torch.testing.assert_close(tripled.layers[-1].weight, base.layers[-1].weight)  # output Linear: 0.1, not the gain
    bn1, bn3 = weights(Config(gain=1, batchnorm=True)), weights(Config(gain=3, batchnorm=True))
    torch.testing.assert_close(bn3.layers[-2].weight, 3 * bn1.layers[-2].weight)  # with batchnorm it takes the gain
    assert torch.allclose(bn1.layers[-1].gamma, torch.full((27,), 0.1))
    unscaled = weights(Config(gain=1, fan_in_scaling=False))
    torch.testing.assert_close(unscaled.layers[0].weight, base.layers[0].weight * 30**0.5)


def test_same_config_same_records(dataset):
    a, b = train(Config(steps=20), dataset), train(Config(steps=20), dataset)
    assert torch.equal(a.losses, b.losses) and torch.equal(a.update_ratios, b.update_ratios)
    for x, y in zip(a.layers, b.layers):
        assert torch.equal(x.out, y.out) and torch.equal(x.grad, y.grad)
    for x, y in zip(a.params, b.params):
        assert torch.equal(x.data, y.data) and torch.equal(x.grad, y.grad)
    c = train(Config(steps=20, seed=1), dataset)
    assert not torch.equal(a.losses, c.losses)


def test_records_are_named_and_sized_per_step(dataset):
    run = train(Config(steps=7), dataset)
    assert run.losses.shape == (7,) and run.update_ratios.shape == (7, len(run.params))
    assert run.steps_done == 7 and run.diverged_at is None and "trained 7 steps" in run.status
    first = run.layers[0]
    assert first.kind == "Linear" and first.out.shape == (32, 100) and first.grad.shape == (32, 100)
    assert [p.shape for p in run.params][:2] == [(27, 10), (30, 100)]
    assert not any(l.out.requires_grad for l in run.layers)


def test_update_ratio_is_lr_grad_over_data_after_the_update(dataset):
    run = train(Config(steps=3, lr=0.05), dataset)
    for p in run.params:
        expected = ((0.05 * p.grad).std() / p.data.std()).log10()
        assert run.update_ratios[-1, p.index] == expected


def test_memory_holds_only_per_step_scalars(dataset):
    short, long = train(Config(steps=10), dataset), train(Config(steps=400), dataset)

    def tensor_bytes(run):
        tensors = [run.losses, run.update_ratios] + [t for l in run.layers for t in (l.out, l.grad)]
        tensors += [t for p in run.params for t in (p.data, p.grad)]
        return sum(t.numel() * t.element_size() for t in tensors)

    per_step = (1 + len(long.params)) * 4
    assert tensor_bytes(long) - tensor_bytes(short) == 390 * per_step


def test_progress_bar_on_long_runs(dataset, capsys):
    train(Config(steps=600), dataset)
    assert "training" in capsys.readouterr().err
    train(Config(steps=5), dataset)
    assert capsys.readouterr().err == ""


def test_divergence_stops_at_the_step_and_says_so(dataset):
    run = train(Config(lr=1000, tanh=False, steps=30), dataset)
    assert run.diverged_at is not None and run.diverged_at < 29
    assert run.steps_done == run.diverged_at + 1
    assert not math.isfinite(run.losses[-1].item()) and torch.isfinite(run.losses[:-1]).all()
    assert run.update_ratios.shape[0] == run.diverged_at  # no update was applied at the diverging step
    assert f"diverged at step {run.diverged_at}" in run.status and "lr" in run.status
    assert len(run.layers) == 6 and all(l.grad is not None for l in run.layers)
