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


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda ps: torch.optim.Adam(ps, lr=1e-3),
        lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9),
    ],
    ids=["adam", "sgd-momentum"],
)
def test_update_ratio_is_the_actual_change(make_optimizer):
    model = small_mlp()
    opt = make_optimizer(model.parameters())
    params = list(model.parameters())
    lr = opt.param_groups[0]["lr"]
    expected, lr_times_grad = [], []
    with watch(model) as rec:
        for x, y in batches(70):  # past two batches of update:data computed together, and the first 64-step buffer
            before = [p.detach().clone() for p in params]
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            rec.step(loss)
            expected.append(
                [((p.detach() - b).std() / p.detach().std()).log10().item() for p, b in zip(params, before)]
            )
            lr_times_grad.append([((lr * p.grad).std() / p.detach().std()).log10().item() for p in params])
    torch.testing.assert_close(rec.update_ratios, torch.tensor(expected), rtol=0, atol=1e-5)
    # later steps of Adam and momentum are not lr * grad: the records must not be either
    assert not torch.allclose(rec.update_ratios[1:], torch.tensor(lr_times_grad)[1:], atol=0.1)


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


def test_layer_choice_default_names_classes_and_errors():
    model = small_mlp(nn.ReLU)
    assert watch(model).watched == (1, 3, 5)  # the activations
    linear_only = nn.Sequential(nn.Linear(20, 30), nn.Linear(30, 30), nn.Linear(30, 5))
    assert watch(linear_only).watched == (0, 1)  # no activations: the Linear layers but the output one
    assert watch(model, layers=nn.Linear).watched == (0, 2, 4, 6)
    assert watch(model, layers=["2", model[0]]).watched == (0, 2)
    with pytest.raises(ValueError, match="no module named 'nope'"):
        watch(model, layers=["nope"])
    with pytest.raises(ValueError, match="not part of the watched model"):
        watch(model, layers=[nn.Tanh()])
    with pytest.raises(ValueError, match="saturation"):
        watch(model, saturation=-1)
    with pytest.raises(ValueError, match="lr"):
        watch(model, lr="fast")
    with pytest.raises(TypeError, match="torch.nn.Module"):
        watch(lambda x: x)


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
    assert activations.saturated(t, "GELU").tolist() == [False, False, False, False, False, False, True, False]
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
    with watch(model, saturation=0.5) as rec:
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
        assert not dashboard.errors.outputs and "no step recorded" in dashboard.status.value
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
    run = types.SimpleNamespace(**{f: getattr(rec, f) for f in fields})
    run.update_ratios = rec.update_ratios + torch.tensor([0, 0, 3, 0])  # the head's weight moves 1000x faster
    fast = [f for f in diagnose(run) if f.code == "last_layer_fast"]
    assert [f.layer for f in fast] == ["weight 4.weight (5, 60)"]


class Recurrent(nn.Module):
    """An LSTM over a (batch, 4, 5) sequence and a Linear head on its last output: no activation module."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.lstm = nn.LSTM(5, 6, batch_first=True)
        self.head = nn.Linear(6, 5)

    def forward(self, x):
        out, _ = self.lstm(x.view(-1, 4, 5))
        return self.head(out[:, -1])


def test_layers_that_return_a_tuple_record_its_first_tensor():
    model = Recurrent()
    assert watch(model).watched == (0,)  # the LSTM, not "no activation or Linear layer"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rec = train_watched(model, 2)
    (layer,) = stats.watched_layers(rec)
    assert layer.kind == "LSTM" and layer.out.shape == layer.grad.shape == (64, 4, 6)  # the output sequence
    assert [s.kind for s in stats.gradient_stats(rec)] == ["LSTM"]
    model = SelfAttention()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with watch(model) as rec:  # attention, not its out_proj: a Linear whose forward never runs
            x = torch.randn(8, 3, 4)
            loss = model(x).pow(2).mean()
            loss.backward()
            opt.step()
            rec.step(loss)
    assert [(l.kind, l.out.shape) for l in rec.layers] == [("MultiheadAttention", (8, 3, 4))]
    assert rec.layers[0].grad.shape == (8, 3, 4)


class SelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.attn = nn.MultiheadAttention(4, 2, batch_first=True)

    def forward(self, x):
        return self.attn(x, x, x)[0]


class Returns(nn.Module):
    def __init__(self, what):
        super().__init__()
        self.linear, self.what = nn.Linear(20, 20), what

    def forward(self, x):
        h = torch.tanh(self.linear(x))
        return {"index": h.argmax(1), "h": h} if self.what == "dict" else None


class Head(nn.Module):
    def __init__(self, what):
        super().__init__()
        self.block, self.head = Returns(what), nn.Linear(20, 5)

    def forward(self, x):
        out = self.block(x)
        return self.head(out["h"] if self.what == "dict" else x)

    @property
    def what(self):
        return self.block.what


def test_a_dict_output_names_its_key_and_an_unreadable_output_is_reported():
    model = Head("dict")
    with pytest.warns(UserWarning, match="layer 'block' \\(Returns\\) returns a dict; its records are of entry 'h'"):
        rec = train_watched(model, 3, layers=["block"])
    assert rec.layers[0].out.shape == rec.layers[0].grad.shape == (64, 20)
    model = Head("none")
    with pytest.warns(UserWarning, match="left 1 watched layer.*'block' \\(Returns\\): its output \\(NoneType\\)"):
        train_watched(model, 3, layers=["block"])
    # attention's out_proj is a Linear whose forward never runs: said once, not silently empty
    model = nn.Sequential(nn.Linear(20, 4), nn.Unflatten(1, (1, 4)))
    attention = nn.MultiheadAttention(4, 1, batch_first=True)
    with pytest.warns(UserWarning, match="attn.out_proj.*ran no forward pass with gradients enabled") as caught:
        opt = torch.optim.SGD([*model.parameters(), *attention.parameters()], lr=0.1)
        both = nn.ModuleDict({"embed": model, "attn": attention})
        with watch(both, layers=nn.Linear) as rec:
            for x, y in batches(2):
                h = model(x)
                loss = F.cross_entropy(attention(h, h, h)[0][:, 0], y[:, None].squeeze(1) % 4)
                opt.zero_grad()
                loss.backward()
                opt.step()
                rec.step(loss)
    assert len([w for w in caught if "nbdiag" in str(w.message)]) == 1
    assert [l.name for l in rec.layers] == ["embed.0"]


@pytest.mark.parametrize("when", ["before backward", "after the update"])
def test_a_second_forward_pass_in_a_step_does_not_replace_the_training_pass(when):
    model = small_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with watch(model) as rec:
            for x, y in batches(3):
                loss = F.cross_entropy(model(x), y)
                if when == "before backward":
                    model(torch.randn(10, 20))  # an evaluation batch, gradients on
                opt.zero_grad()
                loss.backward()
                opt.step()
                if when == "after the update":
                    F.cross_entropy(model(torch.randn(10, 20)), y[:10])
                rec.step(loss)
    assert [l.out.shape for l in rec.layers] == [(64, 64)] * 3  # the training batch
    assert all(l.grad is not None and l.grad.shape == (64, 64) for l in rec.layers)
    assert len(stats.gradient_stats(rec)) == 3


def test_gradient_accumulation_records_the_last_pass_with_its_gradient():
    model = small_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with watch(model) as rec:
        for x, y in batches(2):
            opt.zero_grad()
            for part in (slice(0, 40), slice(40, None)):
                (F.cross_entropy(model(x[part]), y[part]) * 0.5).backward()
            opt.step()
            rec.step(F.cross_entropy(model(x), y).detach())
    assert all(l.out.shape == l.grad.shape == (24, 64) for l in rec.layers)


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


def test_a_module_used_twice_in_one_forward_pass_is_said_once():
    torch.manual_seed(0)
    act = nn.ReLU()
    model = nn.Sequential(nn.Linear(20, 16), act, nn.Linear(16, 16), act, nn.Linear(16, 5))
    with pytest.warns(UserWarning, match="layer '1' \\(ReLU\\) runs more than once for one loss") as caught:
        rec = train_watched(model, 3)
    assert len([w for w in caught if "nbdiag" in str(w.message)]) == 1
    assert rec.watched == (1,) and rec.layers[0].grad is not None  # named_modules lists the shared ReLU once


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


@pytest.mark.parametrize("transposed", [False, True])
def test_update_ratios_follow_parameters_whose_data_is_replaced(transposed):
    """update:data reads the parameters through views; a parameter given new data (p.data = ..., as
    torch.nn.utils.vector_to_parameters does) or stored transposed is read afresh."""
    model = small_mlp(width=8, depth=1)
    if transposed:
        model[0].weight = nn.Parameter(torch.randn(20, 8).t())  # not contiguous: no view of it
    params = list(model.parameters())
    expected = []
    with watch(model) as rec:
        for i, (x, y) in enumerate(batches(4)):
            before = [p.detach().clone() for p in params]
            loss = F.cross_entropy(model(x), y)
            model.zero_grad()
            loss.backward()
            with torch.no_grad():
                vector = torch.cat([p.reshape(-1) for p in params])
                grads = torch.cat([p.grad.reshape(-1) for p in params])
                if i % 2:
                    torch.nn.utils.vector_to_parameters(vector - 0.1 * grads, params)  # new data
                else:
                    for p in params:
                        p -= 0.1 * p.grad
            rec.step(loss)
            expected.append(
                [((p.detach() - b).std() / p.detach().std()).log10().item() for p, b in zip(params, before)]
            )
    torch.testing.assert_close(rec.update_ratios, torch.tensor(expected), rtol=0, atol=1e-5)


def test_a_watched_run_whose_loss_explodes_but_stays_finite_is_called_diverging():
    rec = train_watched(small_mlp(), 40, torch.optim.Adam, 1.0, lr=1.0)
    assert rec.diverged_at is None and rec.diverging_from == 1
    assert rec.status.startswith("diverging from step 1") and "lr 1 is probably too large" in rec.status
    assert any(f.code == "diverging" and f.severity == "error" for f in diagnose(rec))
    calm = train_watched(small_mlp(), 40, torch.optim.Adam, 0.01, lr=0.01)
    assert calm.diverging_from is None and calm.status.startswith("recorded 40 steps")
