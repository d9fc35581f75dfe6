"""Which layers a watch records, and what a LayerTap keeps of each (nbdiag.taps): tuple and dict outputs, several
passes in a step, a module used twice."""

import warnings

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch_models import batches, small_mlp, train_watched

from nbdiag import stats
from nbdiag.watch import watch


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
    with pytest.raises(ValueError, match="saturation_threshold"):
        watch(model, saturation_threshold=-1)
    with pytest.raises(ValueError, match="lr"):
        watch(model, lr="fast")
    with pytest.raises(TypeError, match="torch.nn.Module"):
        watch(lambda x: x)


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


def test_a_module_used_twice_in_one_forward_pass_is_said_once():
    torch.manual_seed(0)
    act = nn.ReLU()
    model = nn.Sequential(nn.Linear(20, 16), act, nn.Linear(16, 16), act, nn.Linear(16, 5))
    with pytest.warns(UserWarning, match="layer '1' \\(ReLU\\) runs more than once for one loss") as caught:
        rec = train_watched(model, 3)
    assert len([w for w in caught if "nbdiag" in str(w.message)]) == 1
    assert rec.watched == (1,) and rec.layers[0].grad is not None  # named_modules lists the shared ReLU once
