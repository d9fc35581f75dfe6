"""nbdiag.watch conformance: on a zoo of small torch.nn models every diagnostic works, and no hook stays behind.

Each model trains a few steps under watch; then stats' tables, the four pictures, health.diagnose and
Dashboard(run=rec) must all work on the recording, its records must describe the training batch, and every
weight (trainable parameter of 2 or more dimensions) must be in the weight records."""

import re
import warnings
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from test_watch import all_hooks
from torch_models import batches, small_mlp, train_watched

from nbdiag import health, plots, stats
from nbdiag.watch import watch

STEPS = 3
INPUTS, CLASSES, BATCH = 16, 5, 64  # torch_models.batches: (BATCH, INPUTS) inputs, CLASSES classes


class LastOutput(nn.Module):
    """An LSTM over a (batch, 4, 4) sequence, and a Linear head on its last output."""

    def __init__(self):
        super().__init__()
        self.unflatten = nn.Unflatten(1, (4, 4))
        self.lstm = nn.LSTM(4, 8, batch_first=True)
        self.head = nn.Linear(8, CLASSES)

    def forward(self, x):
        out, _ = self.lstm(self.unflatten(x))
        return self.head(out[:, -1])


class AttentionBlock(nn.Module):
    """Self-attention and a GELU feed-forward, each with a residual connection, on a (batch, 4, 4) sequence."""

    def __init__(self):
        super().__init__()
        self.unflatten = nn.Unflatten(1, (4, 4))
        self.attn = nn.MultiheadAttention(4, 2, batch_first=True)
        self.norm = nn.LayerNorm(4)
        self.ff = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 4))
        self.head = nn.Linear(4, CLASSES)

    def forward(self, x):
        x = self.unflatten(x)
        x = self.norm(x + self.attn(x, x, x)[0])
        return self.head((x + self.ff(x)).mean(1))


class Residual(nn.Module):
    def __init__(self, width=16):
        super().__init__()
        self.f = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width))
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(x + self.f(x))


class DictBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear, self.act = nn.Linear(INPUTS, 16), nn.Tanh()

    def forward(self, x):
        pre = self.linear(x)
        return {"hidden": self.act(pre), "pre": pre}


class DictModel(nn.Module):
    """A block returning a dict, and a model returning a dict."""

    def __init__(self):
        super().__init__()
        self.block, self.head = DictBlock(), nn.Linear(16, CLASSES)

    def forward(self, x):
        hidden = self.block(x)["hidden"]
        return {"logits": self.head(hidden), "hidden": hidden}


def mlp():
    return small_mlp(width=16, depth=2, inputs=INPUTS, classes=CLASSES)


def cnn():
    return nn.Sequential(
        nn.Unflatten(1, (1, 4, 4)),
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(4, 4, 3),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(16, CLASSES),
    )


def tied():
    model = nn.Sequential(nn.Linear(INPUTS, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh())
    model[4].weight = model[2].weight  # the same Parameter used twice
    return nn.Sequential(*model, nn.Linear(8, CLASSES))


def frozen():
    model = mlp()
    model[0].requires_grad_(False)
    return model


def norm_dropout():
    return nn.Sequential(
        nn.Linear(INPUTS, 16, bias=False), nn.BatchNorm1d(16), nn.Tanh(), nn.Dropout(0.2), nn.Linear(16, CLASSES)
    )


@dataclass
class Case:
    build: object  # () -> the model, built after torch.manual_seed(0)
    kinds: list  # the kinds of the watched layers that the records hold
    loop: str = "plain"  # plain, dict (the model returns a dict), eval, accumulate
    dtype: torch.dtype = torch.float32
    without_grad: int = 0  # watched layers no gradient reaches (a frozen part)
    warns: list = field(default_factory=list)  # patterns of the nbdiag warnings expected
    options: dict = field(default_factory=dict)  # watch options
    batch: int = BATCH  # the batch the records must describe


ZOO = {
    "mlp": Case(mlp, ["Tanh", "Tanh"]),
    "cnn": Case(cnn, ["ReLU", "ReLU"]),
    "lstm": Case(LastOutput, ["LSTM"]),  # no activation module: the weight layers but the head
    "attention": Case(
        AttentionBlock, ["MultiheadAttention", "GELU"], options={"layers": (nn.MultiheadAttention, nn.GELU)}
    ),
    "residual": Case(
        lambda: nn.Sequential(nn.Linear(INPUTS, 16), Residual(), Residual(), nn.Linear(16, CLASSES)), ["ReLU"] * 4
    ),
    "dict": Case(
        DictModel,
        ["DictBlock", "Tanh"],
        loop="dict",
        warns=["returns a dict.*'hidden'"],
        options={"layers": ["block", "block.act"]},
    ),
    "tied": Case(tied, ["Tanh"] * 3),
    "frozen": Case(frozen, ["Tanh", "Tanh"], without_grad=1),
    "float64": Case(mlp, ["Tanh"] * 2, dtype=torch.float64),
    "bfloat16": Case(mlp, ["Tanh"] * 2, dtype=torch.bfloat16),
    "eval": Case(norm_dropout, ["Tanh"], loop="eval"),
    "accumulate": Case(
        mlp,
        ["Tanh"] * 2,
        loop="accumulate",
        batch=BATCH // 2,
    ),
}


def train(case, model):
    """STEPS steps of training of `model` inside nbdiag.watch, as the case's loop says; the recording."""
    if case.loop == "plain" and case.dtype == torch.float32:
        return train_watched(model, STEPS, inputs=INPUTS, classes=CLASSES, **case.options)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with watch(model, **case.options) as rec:
        for x, y in batches(STEPS, inputs=INPUTS, classes=CLASSES):
            x = x.to(case.dtype)
            if case.loop == "plain":
                loss = F.cross_entropy(model(x), y)
                opt.zero_grad()
                loss.backward()
            elif case.loop == "dict":
                loss = F.cross_entropy(model(x)["logits"], y)
                opt.zero_grad()
                loss.backward()
            elif case.loop == "eval":
                loss = F.cross_entropy(model(x), y)
                model.eval()
                F.cross_entropy(model(x[:10]), y[:10])  # an evaluation batch with gradients on, before backward
                model.train()
                opt.zero_grad()
                loss.backward()
                model.eval()
                with torch.no_grad():
                    model(x[:20])
                model.train()
            else:  # accumulate: two half batches, two backward passes, one update
                opt.zero_grad()
                losses = []
                for half in (slice(0, BATCH // 2), slice(BATCH // 2, None)):
                    losses.append(F.cross_entropy(model(x[half]), y[half]) / 2)
                    losses[-1].backward()
                loss = sum(l.detach() for l in losses)
            opt.step()
            rec.step(loss)
    return rec


@pytest.mark.parametrize("name", list(ZOO))
def test_every_diagnostic_works_on_a_zoo_of_watched_models(name):
    from nbdiag.widgets import Dashboard

    case = ZOO[name]
    torch.manual_seed(0)
    model = case.build().to(case.dtype)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rec = train(case, model)
    ours = [str(w.message) for w in caught if "nbdiag" in str(w.message) or "rec.step" in str(w.message)]
    assert len(ours) == len(case.warns) and all(map(re.search, case.warns, ours)), ours
    assert all_hooks(model) == []

    # the records: the training batch at the last step, every weight
    assert rec.steps_done == STEPS and rec.diverged_at is None
    layers = stats.watched_layers(rec)
    assert [l.kind for l in layers] == case.kinds
    assert all(l.out.shape[0] == case.batch for l in layers)
    assert sum(l.grad is None for l in layers) == case.without_grad
    assert all(l.grad.shape == l.out.shape for l in layers if l.grad is not None)
    trainable = [(n, tuple(p.shape)) for n, p in model.named_parameters() if p.requires_grad]
    assert rec.update_ratios.shape == (STEPS, len(trainable))
    assert [(p.name, p.shape) for p in stats.weights(rec)] == [(n, s) for n, s in trainable if len(s) >= 2]
    if case.dtype != torch.bfloat16:  # a bfloat16 step can leave a weight unchanged: log10(0)
        assert torch.isfinite(rec.update_ratios).all()

    # the tables, the pictures, the health findings, the dashboard
    text = stats.tables(rec)
    assert f"recorded {STEPS} steps" in text
    assert len(stats.weight_grad_stats(rec)) == len(stats.weights(rec))
    for plot, records in [
        (plots.plot_activations, stats.activation_histograms(rec)),
        (plots.plot_gradients, stats.gradient_histograms(rec)),
        (plots.plot_weight_gradients, stats.weight_grad_histograms(rec)),
        (plots.plot_update_ratios, stats.update_ratio_history(rec)),
    ]:
        assert records
        plot(records)
    plt.close("all")
    assert all(f.severity == "warning" for f in health.diagnose(rec))
    health.format_findings(health.diagnose(rec))
    dashboard = Dashboard(run=rec)
    try:
        assert not dashboard.panel.errors.outputs
    finally:
        dashboard.close()


@pytest.mark.parametrize("activation", [nn.SiLU, nn.Softplus, nn.LeakyReLU, nn.Mish])
def test_an_activation_nbdiag_does_not_know_gets_no_saturation_figure_and_no_tanh_advice(activation):
    """They reported 22-38% 'saturated' by tanh's |t| > 0.97, and SiLU's advice ended '(5/3 suits tanh)'."""
    rec = train_watched(small_mlp(activation, width=32, depth=6), 5, lr=0.1)
    assert all(s.saturated is None for s in stats.activation_stats(rec))
    assert "saturated: n/a" in stats.tables(rec)
    findings = health.format_findings(health.diagnose(rec))
    assert "suits tanh" not in findings and "saturated" not in findings and "flat" not in findings
    over_time = stats.activations_over_time(
        train_watched(small_mlp(activation, width=32, depth=2), 3, lr=0.1, snapshots=1)
    )
    assert all(np.isnan(r.saturated).all() for r in over_time)  # n/a over time too


def test_a_watched_gelu_is_measured_by_its_input_and_a_watched_relu_gets_relus_gain():
    gelu = train_watched(small_mlp(nn.GELU, width=32, depth=3), 3, lr=0.1)
    assert all(layer.input is not None for layer in stats.watched_layers(gelu))  # its rule reads the input
    assert all(s.saturated is not None and s.saturated < 5 for s in stats.activation_stats(gelu))
    tiny = small_mlp(nn.ReLU, width=32, depth=8)
    with torch.no_grad():
        for p in tiny.parameters():
            p.mul_(0.3)  # the signal fades layer after layer
    relu = train_watched(tiny, 2, lr=0.01)
    text = health.format_findings(health.diagnose(relu))
    assert "collapsing" in {f.code for f in health.diagnose(relu)} and "√2 suits relu" in text
    assert "zero: " in stats.tables(relu)  # ReLU's share on its flat part is called what it is
