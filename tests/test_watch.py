"""nbdiag.watch on torch.nn models: the same records as the from-scratch run, hooks that always go away."""

import functools
import importlib
import math
import types
import warnings

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch_models import batches, small_mlp, train_watched

from nbdiag import activations, stats
from nbdiag.health import diagnose
from nbdiag.layers import BatchNorm1d
from nbdiag.train import Config, build_model, train
from nbdiag.watch import watch


def torch_copy(config, dataset):
    """The lesson's network from torch.nn modules, with build_model's initial weights; and the generator after it."""
    g = torch.Generator().manual_seed(config.seed)
    ours = build_model(config, dataset.vocab_size, g)  # consumes the generator first, as train() does
    modules = [nn.Embedding(dataset.vocab_size, config.n_embd), nn.Flatten()]
    with torch.no_grad():
        modules[0].weight.copy_(ours.C)
        for layer in ours.layers:
            kind = type(layer).__name__
            if kind == "Linear":
                fan_in, fan_out = layer.weight.shape
                m = nn.Linear(fan_in, fan_out, bias=layer.bias is not None)
                m.weight.copy_(layer.weight.T)  # nbdiag's Linear keeps W as (fan_in, fan_out), nn.Linear as (out, in)
                if layer.bias is not None:
                    m.bias.copy_(layer.bias)
            elif kind == "BatchNorm1d":
                m = nn.BatchNorm1d(layer.gamma.shape[0], eps=layer.eps, momentum=layer.momentum)
                m.weight.copy_(layer.gamma)
                m.bias.copy_(layer.beta)
            else:
                m = nn.Tanh()
            modules.append(m)
    return nn.Sequential(*modules), g


def watched_lesson_copy(config, dataset, **watch_options):
    """train()'s loop, written as a student would with torch.nn and torch.optim.SGD, inside watch."""
    model, g = torch_copy(config, dataset)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr)
    with watch(model, lr=config.lr, **watch_options) as rec:
        for _ in range(config.steps):
            ix = torch.randint(0, dataset.Xtr.shape[0], (config.batch_size,), generator=g)
            loss = F.cross_entropy(model(dataset.Xtr[ix]), dataset.Ytr[ix])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            rec.step(loss)
    return rec


def assert_same_records(rec, run):
    """Every number the lesson's tables and plots use, recorded through hooks vs. computed from scratch."""
    close = functools.partial(torch.testing.assert_close, rtol=1e-4, atol=1e-6)
    assert rec.steps_done == run.steps_done
    close(rec.losses, run.losses)
    close(rec.update_ratios, run.update_ratios, rtol=0, atol=1e-4)  # log10: 1e-4 is a 0.02% difference
    ours, theirs = stats.watched_layers(rec), stats.watched_layers(run)
    assert [l.kind for l in ours] == [l.kind for l in theirs] and len(ours) == 5
    for a, b in zip(ours, theirs):
        close(a.out, b.out, atol=1e-5, rtol=1e-4)
        close(a.grad, b.grad, atol=1e-8, rtol=1e-3)
    for a, b in zip(stats.activation_stats(rec), stats.activation_stats(run)):
        assert (a.mean, a.std) == pytest.approx((b.mean, b.std), rel=1e-4, abs=1e-6)
        assert a.saturated == pytest.approx(b.saturated, abs=0.04)  # at most one of 3200 outputs on the 0.97 edge
    for a, b in zip(stats.gradient_stats(rec), stats.gradient_stats(run)):
        assert (a.mean, a.std) == pytest.approx((b.mean, b.std), rel=1e-3, abs=1e-9)
    ws, wt = stats.weight_grad_stats(rec), stats.weight_grad_stats(run)
    assert [w.shape for w in ws] == [w.shape if w.index == 0 else w.shape[::-1] for w in wt]  # nn.Linear is (out, in)
    for a, b in zip(ws, wt):
        assert (a.std, a.grad_data_ratio) == pytest.approx((b.std, b.grad_data_ratio), rel=1e-4)


@pytest.mark.parametrize("config", [Config(gain=3), Config(steps=60)], ids=["gain3-1step", "60steps"])
def test_watched_torch_nn_network_records_the_from_scratch_numbers(config, dataset):
    rec = watched_lesson_copy(config, dataset)
    run = train(config, dataset)
    assert_same_records(rec, run)
    if config.gain == 3:  # the lesson's table, from hooks on torch.nn modules
        assert stats.activation_stats(rec)[0].saturated == pytest.approx(47.66, abs=0.005)


def test_watched_batchnorm_network_matches_with_biased_variance(dataset, monkeypatch):
    """torch.nn.BatchNorm1d normalizes with the biased batch variance, the lecture's layer with the unbiased
    one; with nbdiag's BatchNorm1d switched to the biased variance the two runs agree."""
    config = Config(batchnorm=True, steps=30)
    rec = watched_lesson_copy(config, dataset)
    unbiased = train(config, dataset)
    train_module = importlib.import_module("nbdiag.train")  # the module: nbdiag.train is also the function's name
    monkeypatch.setattr(train_module, "BatchNorm1d", functools.partial(BatchNorm1d, unbiased=False))
    biased = train(config, dataset)
    assert_same_records(rec, biased)
    # the unbiased variance differs by a factor 32/31: close, but measurably not the same
    a, b = stats.activation_stats(rec)[0].std, stats.activation_stats(unbiased)[0].std
    assert a != pytest.approx(b, rel=1e-4) and a == pytest.approx(b, rel=0.05)


def all_hooks(model):
    return [
        h
        for m in model.modules()
        for h in (*m._forward_hooks.values(), *m._forward_pre_hooks.values(), *m._backward_hooks.values())
    ]


def test_hooks_are_removed_after_an_exception():
    model = small_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ZeroDivisionError):
        with watch(model) as rec:
            assert len(all_hooks(model)) == 3  # one per Tanh while watching
            for x, y in batches(2):
                loss = F.cross_entropy(model(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                rec.step(loss)
            1 / 0
    assert all_hooks(model) == []
    out = rec.layers[0].out
    F.cross_entropy(model(torch.randn(8, 20)), torch.zeros(8, dtype=torch.long)).backward()
    assert rec.layers[0].out.shape == out.shape == (64, 64)  # the forward after the block was not recorded
    with pytest.raises(RuntimeError, match="inside the `with"):
        rec.step(1.0)


def test_hooks_are_removed_on_a_normal_exit_and_records_stay():
    model = small_mlp()
    rec = train_watched(model, 3)
    assert all_hooks(model) == []
    assert rec.steps_done == 3 and rec.update_ratios.shape == (3, len(list(model.parameters())))
    assert rec.status.startswith("recorded 3 steps")


def test_records_hold_only_the_last_step_and_skip_evaluation():
    model = small_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with watch(model) as rec:
        for i, (x, y) in enumerate(batches(30)):
            x, y = (x[:7], y[:7]) if i == 29 else (x, y)  # the last step has 7 examples
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            rec.step(loss)
        with torch.no_grad():
            model(torch.randn(100, 20))  # evaluation: not a training step
    assert [l.out.shape for l in rec.layers] == [(7, 64)] * 3
    assert [l.grad.shape for l in rec.layers] == [(7, 64)] * 3
    assert rec.losses.shape == (30,) and rec.update_ratios.shape == (30, 8)
    # the parameters as the last step left them, and that step's gradient
    for record, p in zip(rec.params, model.parameters()):
        assert torch.equal(record.data, p.detach()) and torch.equal(record.grad, p.grad)
        assert record.name and record.shape == tuple(p.shape)


def test_watched_run_feeds_stats_tables_and_labels_with_names():
    model = small_mlp(nn.GELU)
    rec = train_watched(model, 3, optimizer_lr=0.1, lr=0.1)
    text = stats.tables(rec)
    assert "layer 1 (      GELU)" in text and "recorded 3 steps" in text
    assert [h.label for h in stats.activation_histograms(rec)] == ["layer 1 (GELU)", "layer 3 (GELU)", "layer 5 (GELU)"]
    assert [h.label for h in stats.update_ratio_history(rec)] == [
        "param 0.weight",
        "param 2.weight",
        "param 4.weight",
        "param 6.weight",
    ]


def test_watched_run_draws_with_the_lessons_plots():
    from nbdiag import plots

    model = small_mlp()
    rec = train_watched(model, 4)
    ax = plots.plot_activations(stats.activation_histograms(rec))
    assert [line.get_label() for line in ax.get_lines()] == ["layer 1 (Tanh)", "layer 3 (Tanh)", "layer 5 (Tanh)"]
    ax = plots.plot_update_ratios(stats.update_ratio_history(rec))
    series = [line for line in ax.get_lines() if line.get_gid() == "series"]
    assert len(series) == 4 and all(len(line.get_xdata()) == 4 for line in series)
    for plot, hists in [
        (plots.plot_gradients, stats.gradient_histograms(rec)),
        (plots.plot_weight_gradients, stats.weight_grad_histograms(rec)),
    ]:
        assert len(plot(hists).get_lines()) == len(hists) > 0


def test_user_threshold_and_per_kind_saturation_rules():
    t = torch.tensor([-0.99, -0.5, 0.0, 0.02, 0.5, 0.98, -0.003, -0.2])
    assert activations.saturated(t, "Tanh").tolist() == [True, False, False, False, False, True, False, False]
    assert activations.saturated(t, "Sigmoid").tolist() == [True, True, True, True, False, True, True, True]
    assert activations.saturated(t, "ReLU").tolist() == [False, False, True, False, False, False, False, False]
    assert activations.saturated(t, "GELU") is None  # GELU's rule reads its input (test_activations.py)
    assert activations.saturated(t, "ReLU", threshold=0.4).tolist() == [
        True,
        True,
        False,
        False,
        True,
        True,
        False,
        False,
    ]
    model = small_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with watch(model, saturation_threshold=0.5) as rec:
        for x, y in batches(1):
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            rec.step(loss)
    out = rec.layers[0].out
    assert stats.activation_stats(rec)[0].saturated == pytest.approx((out.abs() > 0.5).float().mean().item() * 100)


def test_divergence_is_recorded_and_recording_stops_there():
    model = small_mlp(nn.Identity)  # a linear sandwich, as the lesson's lr=1000 run without tanh
    rec = train_watched(model, 20, optimizer_lr=1e6, lr=1e6)
    assert rec.diverged_at is not None and rec.steps_done == rec.diverged_at + 1
    assert not math.isfinite(rec.losses[-1].item()) and len(rec.update_ratios) == rec.diverged_at
    assert rec.status.startswith(f"diverged at step {rec.diverged_at}") and "lr 1e+06" in rec.status
    assert diagnose(rec)[0].code == "diverged"


def test_misuse_gets_clear_messages():
    model = small_mlp()
    with pytest.warns(UserWarning, match="recorded no step"):
        with watch(model):
            model(torch.randn(4, 20))
    with pytest.raises(RuntimeError, match="found no gradients"):
        with watch(model) as rec:
            rec.step(F.cross_entropy(model(torch.randn(4, 20)), torch.zeros(4, dtype=torch.long)))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.warns(UserWarning, match="after optimizer.step"):
        with watch(model) as rec:
            x, y = next(batches(1))
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            rec.step(loss)  # too early: the update comes after
            opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        watch(model).__enter__().__exit__(ValueError, ValueError(), None)  # an error in the block: no extra warning
    rec = watch(model)
    with pytest.warns(UserWarning, match="recorded no step"), rec:
        pass
    with pytest.raises(RuntimeError, match="one stretch"):
        rec.__enter__()


def test_a_float64_model_is_recorded():
    """Lesson 10 trains in float64, whose long runs print the same figures on every CPU."""
    model = small_mlp().double()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with watch(model) as rec:
        for x, y in batches(70):  # past the first 64-step buffer of update:data
            loss = F.cross_entropy(model(x.double()), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            rec.step(loss)
    assert rec.update_ratios.shape == (70, 8)
    assert torch.isfinite(rec.update_ratios).all()
    assert "update:data log10" in stats.tables(rec)


def test_a_recording_of_zero_steps_prints_what_there_is():
    from nbdiag.widgets import Dashboard

    model = small_mlp()
    with pytest.warns(UserWarning, match="recorded no step"), watch(model) as rec:
        pass
    text = stats.tables(rec)
    assert "no step recorded" in text and "(no update was applied)" in text
    assert diagnose(rec) == []
    dashboard = Dashboard(run=rec)
    try:
        assert not dashboard.panel.errors.outputs and "no step recorded" in dashboard.panel.status.value
    finally:
        dashboard.close()


def conv_net():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Unflatten(1, (1, 4, 5)), nn.Conv2d(1, 3, 3, padding=1), nn.Tanh(), nn.Flatten(), nn.Linear(60, 5)
    )


def test_conv_weights_are_weights_labelled_by_name_and_shape():
    model = conv_net()
    rec = train_watched(model, 4, lr=0.1, snapshots=2)
    assert [(p.name, p.shape) for p in stats.weights(rec)] == [("1.weight", (3, 1, 3, 3)), ("4.weight", (5, 60))]
    assert [s.shape for s in stats.weight_grad_stats(rec)] == [(3, 1, 3, 3), (5, 60)]
    assert "(3, 1, 3, 3) | update:data log10" in stats.format_update_ratios(rec)
    labels = ["1.weight (3, 1, 3, 3)", "4.weight (5, 60)"]
    assert [h.label for h in stats.weight_grad_histograms(rec)] == labels
    assert [h.label for h in stats.pictures_at(rec, 2).weight_gradients] == labels  # the snapshots' too
    assert [h.label for h in stats.update_ratio_history(rec)] == ["param 1.weight", "param 4.weight"]
    # health compares the last weight's update:data with the conv weight's
    fields = ("config", "lr", "saturation_threshold", "losses", "layers", "watched", "params", "diverged_at", "status")
    fields += ("diverging_from", "steps_done")
    run = types.SimpleNamespace(**{f: getattr(rec, f) for f in fields})
    run.update_ratios = rec.update_ratios + torch.tensor([0, 0, 3, 0])  # the head's weight moves 1000x faster
    fast = [f for f in diagnose(run) if f.code == "last_layer_fast"]
    assert [f.where for f in fast] == ["weight 4.weight (5, 60)"]


def test_a_loss_not_finite_at_step_0_is_not_blamed_on_the_updates():
    model = small_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with watch(model, lr=0.1) as rec:
        x, y = next(batches(1))
        x[0, 0] = math.nan  # a NaN in the input
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        rec.step(loss)
    assert rec.diverged_at == 0
    assert "before any update" in rec.status and "too large" not in rec.status
    (finding,) = [f for f in diagnose(rec) if f.code == "diverged"]
    assert "before any update" in finding.message and "overshoot" not in finding.message
    assert "input" in finding.message


def test_a_vector_loss_gets_a_one_line_error():
    model = small_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with watch(model) as rec:
        x, y = next(batches(1))
        loss = F.cross_entropy(model(x), y, reduction="none")
        loss.mean().backward()
        opt.step()
        with pytest.raises(ValueError, match=r"rec.step needs the scalar loss \(e.g. loss.mean\(\)\).*\(64,\)"):
            rec.step(loss)
        rec.step(loss.mean())
    assert rec.steps_done == 1


def test_a_loss_that_is_no_number_gets_a_type_error():
    model = small_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with watch(model) as rec:
        x, y = next(batches(1))
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        with pytest.raises(TypeError, match="rec.step needs the loss, a scalar tensor or a number, got dict"):
            rec.step({"loss": loss})
        rec.step(loss)
    assert rec.steps_done == 1


def test_a_watched_run_whose_loss_explodes_but_stays_finite_is_called_diverging():
    rec = train_watched(small_mlp(), 40, torch.optim.Adam, 1.0, lr=1.0)
    assert rec.diverged_at is None and rec.diverging_from == 1
    assert rec.status.startswith("diverging from step 1") and "lr 1 is probably too large" in rec.status
    assert any(f.code == "diverging" and f.severity == "error" for f in diagnose(rec))
    calm = train_watched(small_mlp(), 40, torch.optim.Adam, 0.01, lr=0.01)
    assert calm.diverging_from is None and calm.status.startswith("recorded 40 steps")
