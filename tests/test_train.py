"""The configuration, the model it builds and the instrumented run."""

import importlib
import math

import pytest
import torch

from nbdiag import Config, ConfigError, train
from nbdiag.layers import Add, BatchNorm1d, Linear, Tanh
from nbdiag.train import Adam, build_model


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
    assert [type(l) for l in build_model(Config(activation="linear", depth=2), 27, g).layers] == [Linear] * 3


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
    run = train(Config(lr=1000, activation="linear", steps=30), dataset)
    assert run.diverged_at is not None and run.diverged_at < 29
    assert run.steps_done == run.diverged_at + 1
    assert not math.isfinite(run.losses[-1].item()) and torch.isfinite(run.losses[:-1]).all()
    assert run.update_ratios.shape[0] == run.diverged_at  # no update was applied at the diverging step
    assert f"diverged at step {run.diverged_at}" in run.status and "lr" in run.status
    assert len(run.layers) == 6 and all(l.grad is not None for l in run.layers)


def test_residual_blocks_add_their_input_after_the_first_block():
    g = torch.Generator().manual_seed(0)
    model = build_model(Config(residual=True, depth=3), 27, g)
    kinds = [type(layer) for layer in model.layers]
    assert kinds == [Linear, Tanh, Linear, Tanh, Add, Linear, Tanh, Add, Linear]
    assert model.layers[4].source is model.layers[1] and model.layers[7].source is model.layers[4]
    # the same weights as without residual connections: Add draws nothing
    plain = build_model(Config(depth=3), 27, torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), plain.parameters()))


def test_a_residual_block_outputs_its_input_plus_its_branch():
    model = build_model(Config(residual=True, depth=4, activation="relu", batchnorm=True), 27, torch.Generator())
    model(torch.randint(0, 27, (32, 3)))
    adds = [i for i, layer in enumerate(model.layers) if isinstance(layer, Add)]
    assert len(adds) == 3
    for i in adds:
        torch.testing.assert_close(model.layers[i].out, model.layers[i - 1].out + model.layers[i].source.out)


def test_residual_connections_carry_the_gradient_to_the_first_layers(dataset):
    """20 tanh layers at gain 1: without skips the gradient fades on its way back; with them it arrives whole."""
    from nbdiag import stats

    fade = {}
    for residual in (False, True):
        grads = stats.gradient_stats(train(Config(depth=20, gain=1.0, residual=residual), dataset))
        fade[residual] = grads[0].std / grads[-1].std  # the first hidden layer's gradient over the last's
    assert fade[False] < 0.5 and fade[True] > 1, fade


def test_adam_steps_as_torch_optim_adam():
    g = torch.Generator().manual_seed(0)
    params = [torch.randn(30, 100, generator=g), torch.randn(100, generator=g)]
    theirs = [p.clone().requires_grad_() for p in params]
    optimizer = torch.optim.Adam(theirs, lr=0.01)
    adam = Adam(params, lr=0.01)
    for _ in range(5):
        grads = [torch.randn(p.shape, generator=g) * 10 for p in params]
        for p, grad in zip(theirs, grads):
            p.grad = grad.clone()
        optimizer.step()
        for p, update in zip(params, adam.step(grads)):
            p += update
    for ours, ref in zip(params, theirs):
        torch.testing.assert_close(ours, ref.detach(), rtol=1e-5, atol=1e-6)


def _first_ratios(dataset, **config):
    """log10 update:data of each weight (2-D parameter) at step 0, and the weights' std."""
    run = train(Config(steps=1, **config), dataset)
    weights = [p for p in run.params if len(p.shape) == 2]
    return run.update_ratios[0][[p.index for p in weights]], torch.stack([p.data.std() for p in weights])


def test_adam_steps_every_weight_by_about_lr_whatever_its_gradient(dataset):
    """Adam's first step moves every weight by lr (its update is lr x sign(gradient)): update:data is lr / std(W),
    whatever the gradient's size. SGD's is lr x gradient: the last layer's large gradient moves it 500x faster."""
    sgd, _ = _first_ratios(dataset, lr=0.1)
    adam, weight_std = _first_ratios(dataset, optimizer="adam", lr=1e-3)
    step = (adam + weight_std.log10())[1:]  # log10 std(update) of the Linear weights (C's rows unseen do not move)
    torch.testing.assert_close(step, torch.full_like(step, -3.0), atol=0.02, rtol=0)
    hidden = slice(2, -1)  # the 100 x 100 weights, all drawn alike
    assert (adam[hidden].max() - adam[hidden].min()) < 0.03 < (sgd[hidden].max() - sgd[hidden].min())
    # the last layer's lead over the hidden ones: SGD's gradient imbalance (2.7 in log10) is gone; what is left
    # is its 10x smaller weights (last_layer_scale 0.1)
    lead = {name: (r[-1] - r[hidden].median()).item() for name, r in (("sgd", sgd), ("adam", adam))}
    assert lead["sgd"] > 2.4 and 1.0 < lead["adam"] < 1.4, lead
    faster, _ = _first_ratios(dataset, optimizer="adam", lr=1e-2)
    # lr x10: every ratio x10 (but the last layer's, whose weights, as small as lr 1e-2's step, grow with it)
    torch.testing.assert_close((faster - adam)[:-1], torch.ones(len(adam) - 1), atol=0.02, rtol=0)


def test_activation_residual_and_optimizer_leave_the_lesson_run_as_it_was(dataset):
    """The defaults are the lecture's: tanh, no residual, SGD give the lesson's numbers exactly."""
    explicit = train(Config(activation="tanh", residual=False, optimizer="sgd"), dataset)
    default = train(Config(), dataset)
    assert torch.equal(explicit.losses, default.losses)
    assert all(torch.equal(a.out, b.out) for a, b in zip(explicit.layers, default.layers))


def test_relu_runs_count_exact_zeros_as_saturated(dataset):
    from nbdiag import stats

    run = train(Config(activation="relu", gain=2**0.5), dataset)
    assert [layer.kind for layer in stats.watched_layers(run)] == ["ReLU"] * 5
    for s, layer in zip(stats.activation_stats(run), stats.watched_layers(run)):
        assert s.saturated == pytest.approx((layer.out == 0).float().mean().item() * 100)
        assert 30 < s.saturated < 70


def same(a, b):
    """Equal tensors, nan where nan."""
    return a.shape == b.shape and torch.equal(a.isnan(), b.isnan()) and torch.equal(a.nan_to_num(0), b.nan_to_num(0))


@pytest.mark.parametrize(
    "config",
    [
        Config(lr=1e308, steps=50),  # the update is inf: the parameters are left finite until it is applied
        Config(lr=1e38, activation="linear", steps=5),  # updates whose sum with some weights overflows
        Config(lr=1e308, batchnorm=True, steps=50),
    ],
    ids=["inf update", "overflowing sum", "batchnorm"],
)
def test_an_update_that_blows_up_the_weights_is_trained_once_and_its_step_replayed(config, dataset, monkeypatch):
    """The step that kept no layer-output gradients is replayed alone, from the parameters before its update; its
    records are those of a run that ends at that step (which keeps them), as before the replay: never a second run."""
    module = importlib.import_module("nbdiag.train")  # nbdiag.train is also the function

    calls = []
    for name in ("build_model", "_train"):
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, real=real, name=name, **k: calls.append(name) or real(*a, **k))
    run = train(config, dataset)
    assert calls == ["_train", "build_model"] and run.diverged_at == 0 and math.isfinite(run.losses[-1])
    monkeypatch.undo()
    ends_there = train(Config(**{**vars(config), "steps": run.diverged_at + 1}), dataset)
    assert ends_there.status == run.status and same(ends_there.update_ratios, run.update_ratios)
    assert [(l.index, l.kind) for l in run.layers] == [(l.index, l.kind) for l in ends_there.layers]
    for mine, theirs in zip(run.layers, ends_there.layers):
        assert mine.grad is not None and same(mine.out, theirs.out) and same(mine.grad, theirs.grad)
        assert not mine.out.requires_grad
    for mine, theirs in zip(run.params, ends_there.params):
        assert same(mine.data, theirs.data) and same(mine.grad, theirs.grad)
    assert not all(torch.isfinite(p.data).all() for p in run.params)  # the parameters as the update left them


def test_a_run_diverging_at_a_snapshot_or_its_last_step_needs_no_replay(dataset, monkeypatch):
    module = importlib.import_module("nbdiag.train")  # nbdiag.train is also the function

    monkeypatch.setattr(module, "_replay", lambda *a: pytest.fail("replayed a step that kept its gradients"))
    assert train(Config(lr=1e308, steps=50), dataset, snapshots=5).diverged_at == 0  # step 0 is a snapshot
    assert train(Config(lr=1e308, steps=1), dataset).diverged_at == 0
    assert train(Config(lr=1000, activation="linear", steps=30), dataset).diverged_at == 2  # a loss not finite
