"""The from-scratch layers against torch.nn."""

import pytest
import torch
import torch.nn.functional as F

from nbdiag.activations import FACTS
from nbdiag.layers import ACTIVATIONS, GELU, Add, BatchNorm1d, Linear, ReLU, Sigmoid, Tanh


def test_linear_matches_functional_linear():
    g = torch.Generator().manual_seed(0)
    layer = Linear(30, 100, generator=g)
    with torch.no_grad():
        layer.bias += torch.randn(100, generator=g)
    x = torch.randn(32, 30, generator=g)
    torch.testing.assert_close(layer(x), F.linear(x, layer.weight.T, layer.bias))
    assert layer.out is not None and layer.out.shape == (32, 100)
    assert [p.shape for p in layer.parameters()] == [(30, 100), (100,)]


def test_linear_draws_from_the_generator_and_scales_by_fan_in():
    w = Linear(30, 100, generator=torch.Generator().manual_seed(7)).weight
    expected = torch.randn((30, 100), generator=torch.Generator().manual_seed(7)) / 30**0.5
    assert torch.equal(w, expected)
    unscaled = Linear(30, 100, generator=torch.Generator().manual_seed(7), fan_in_scaling=False).weight
    assert torch.equal(unscaled, expected * 30**0.5) or torch.allclose(unscaled, expected * 30**0.5)
    assert Linear(30, 100, bias=False).parameters()[0].shape == (30, 100)
    assert len(Linear(30, 100, bias=False).parameters()) == 1


def test_tanh_matches_torch():
    x = torch.randn(32, 100)
    assert torch.equal(Tanh()(x), torch.tanh(x))
    assert Tanh().parameters() == []


@pytest.mark.parametrize(
    "ours, theirs", [(ReLU, torch.nn.ReLU), (GELU, torch.nn.GELU), (Sigmoid, torch.nn.Sigmoid), (Tanh, torch.nn.Tanh)]
)
def test_each_activation_matches_torch_nn_forward_and_backward(ours, theirs):
    x = (torch.randn(64, 100, generator=torch.Generator().manual_seed(1)) * 4).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    layer = ours()
    out, ref = layer(x), theirs()(x_ref)
    torch.testing.assert_close(out, ref)
    assert layer.out is out and layer.parameters() == []
    weights = torch.randn(64, 100)  # any upstream gradient
    (out * weights).sum().backward()
    (ref * weights).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "linear"])
def test_the_suited_gains_are_torch_calculate_gain(activation):
    assert FACTS[activation].gain == pytest.approx(torch.nn.init.calculate_gain(activation), rel=1e-12)
    assert set(FACTS) == set(ACTIVATIONS) | {"linear"}


def test_add_is_a_skip_from_an_earlier_layer():
    g = torch.Generator().manual_seed(0)
    first, second = Linear(10, 10, generator=g), Linear(10, 10, generator=g)
    skip = Add(first)
    x = torch.randn(4, 10, generator=g)
    out = skip(second(first(x)))
    torch.testing.assert_close(out, first.out + second.out)
    assert skip.parameters() == []


def _pair(dim=20):
    ours = BatchNorm1d(dim, unbiased=False)
    ref = torch.nn.BatchNorm1d(dim, eps=1e-5, momentum=0.1)
    with torch.no_grad():
        ours.gamma = torch.rand(dim) + 0.5
        ours.beta = torch.randn(dim)
        ref.weight.copy_(ours.gamma)
        ref.bias.copy_(ours.beta)
    return ours, ref


def test_batchnorm_biased_option_matches_torch_nn_in_training_and_eval():
    ours, ref = _pair()
    for _ in range(5):  # several steps, so the running statistics accumulate
        x = torch.randn(32, 20) * 3 + 1
        torch.testing.assert_close(ours(x), ref(x))
        torch.testing.assert_close(ours.running_mean, ref.running_mean)
        torch.testing.assert_close(ours.running_var, ref.running_var)
    ours.training = False
    ref.eval()
    x = torch.randn(8, 20)
    torch.testing.assert_close(ours(x), ref(x))


def test_batchnorm_defaults_to_the_unbiased_batch_variance():
    x = torch.randn(32, 20) * 2
    out = BatchNorm1d(20)(x)
    expected = (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=True) + 1e-5)
    torch.testing.assert_close(out, expected)
    biased = BatchNorm1d(20, unbiased=False)(x)
    assert not torch.allclose(out, biased)


def test_batchnorm_gradients_match_torch_nn():
    ours, ref = _pair(10)
    x = torch.randn(16, 10, requires_grad=True)
    x2 = x.detach().clone().requires_grad_(True)
    ours.gamma.requires_grad_(True)
    (ours(x) ** 2).sum().backward()
    (ref(x2) ** 2).sum().backward()
    torch.testing.assert_close(x.grad, x2.grad)
    torch.testing.assert_close(ours.gamma.grad, ref.weight.grad)
