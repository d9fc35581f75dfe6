"""nbdiag.sweep and its pictures: why 5/3, measured at initialization.

The facts the lesson (tools/lessons/11_why_5_3.py) tells, as ranges: a tanh stack settles on a plateau above
gain 1.3 and fades at gain 1; ReLU's √2 is a knife edge; and the sweep is the from-scratch network it claims.
"""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

import nbdiag.config
import nbdiag.sweep
from nbdiag import layers, plots
from nbdiag.sweep import DEPTHS, GAINS_SWEPT, SWEPT, Sweep, describe, format_std, format_table, gain_label, sweep_gains

ROOT2 = 2**0.5


@pytest.fixture(scope="module")
def sweeps():
    """The sweep of every activation, over the default gains and depths."""
    return {activation: sweep_gains(activation) for activation in SWEPT}


def at(s, depth, gain):
    """(std, saturated percent) of the last hidden layer of the `depth`-layer network at a swept gain."""
    std, share = s.at_depth(depth)
    i = s.gains.index(gain)
    return std[i].item(), share[i].item()


def test_the_sweep_covers_every_gain_and_every_hidden_layer(sweeps):
    s = sweeps["tanh"]
    assert s.std.shape == s.saturated.shape == (max(DEPTHS), len(GAINS_SWEPT)) and s.depths == DEPTHS
    assert GAINS_SWEPT[0] == 0.1 and GAINS_SWEPT[-1] == 4.0 and {5 / 3, ROOT2} <= set(GAINS_SWEPT)
    assert all(b > a for a, b in zip(GAINS_SWEPT, GAINS_SWEPT[1:]))  # sorted, no gain twice
    assert torch.equal(s.at_depth(20)[0], s.std[19])


def test_tanh_fades_at_gain_1_and_settles_on_a_plateau_above(sweeps):
    s = sweeps["tanh"]
    assert at(s, 50, 1.0)[0] < 0.2
    assert at(s, 5, 1.0)[0] > at(s, 20, 1.0)[0] > at(s, 50, 1.0)[0]  # fading layer after layer
    plateau = [g for g in GAINS_SWEPT if 1.4 <= g <= 4]
    assert all(0.45 < at(s, 50, g)[0] < 0.9 for g in plateau)
    for g in plateau:  # the same std at depth 5, 20 and 50: a fixed point, reached whatever the depth
        stds = [at(s, d, g)[0] for d in DEPTHS]
        assert max(stds) < 1.1 * min(stds), (g, stds)


def test_tanh_at_5_3_is_a_compromise_between_a_live_signal_and_saturation(sweeps):
    s = sweeps["tanh"]
    std, share = at(s, 50, 5 / 3)
    assert 0.55 < std < 0.75 and 2 < share < 10
    std, share = at(s, 50, 3.0)
    assert 0.78 < std < 0.9 and 30 < share < 50
    assert at(s, 50, 1.0)[1] == 0  # gain 1: nothing saturated, but hardly any signal left


def test_relus_root_2_is_a_knife_edge(sweeps):
    s = sweeps["relu"]
    assert at(s, 50, 1.2)[0] < 0.01 and at(s, 50, 1.6)[0] > 50 and 0.05 < at(s, 50, ROOT2)[0] < 5
    # at depth 5 the three are close; at 50 the gains 1.2 and 1.6 are a million times apart
    close = [at(s, 5, g)[0] for g in (1.2, ROOT2, 1.6)]
    assert max(close) / min(close) < 5 and at(s, 50, 1.6)[0] / at(s, 50, 1.2)[0] > 1e6


@pytest.mark.parametrize("depth", DEPTHS)
def test_relus_std_is_the_root_2_networks_times_gain_over_root_2_to_the_depth(sweeps, depth):
    """ReLU(g x) = g ReLU(x): each gain's network is the √2 network scaled by (g/√2) per layer, exactly."""
    s = sweeps["relu"]
    std, share = s.at_depth(depth)
    gains = torch.tensor(s.gains, dtype=std.dtype)
    predicted = std[s.gains.index(ROOT2)] * (gains / ROOT2) ** depth
    assert torch.allclose(std, predicted, rtol=1e-9)
    assert torch.all(share == share[0])  # the gain scales a ReLU's outputs: which ones are 0 never changes


def test_gelu_needs_more_than_root_2_and_sigmoid_and_linear_keep_no_flat_part(sweeps):
    gelu, sigmoid, linear = sweeps["gelu"], sweeps["sigmoid"], sweeps["linear"]
    assert at(gelu, 50, ROOT2)[0] < 1e-3 and 0.3 < at(gelu, 50, 1.5)[0] < 30  # fades at √2, lives at 1.5
    assert at(gelu, 50, 1.6)[0] > 50
    assert 0.05 < at(sigmoid, 50, 1.0)[0] < 0.2 and at(sigmoid, 50, 1.0)[1] == 0
    assert (
        torch.all(linear.saturated.isnan()) and 0.3 < at(linear, 50, 1.0)[0] < 3 and at(linear, 50, 1.2)[0] > 100
    )  # n/a


@pytest.mark.parametrize("activation", SWEPT)
def test_layer_d_of_the_sweep_is_a_from_scratch_network_of_depth_d(activation, sweeps):
    """Each depth's network, built alone from the same seed with the from-scratch layers and with torch.nn."""
    s = sweeps[activation]
    nn_activation = {
        "tanh": torch.nn.Tanh,
        "relu": torch.nn.ReLU,
        "gelu": torch.nn.GELU,
        "sigmoid": torch.nn.Sigmoid,
        "linear": torch.nn.Identity,
    }[activation]()
    for depth in (5, 50):
        for gain in (1.0, 5 / 3, 3.0):
            g = torch.Generator().manual_seed(nbdiag.sweep.SEED)
            x = torch.randn(nbdiag.sweep.BATCH, 100, generator=g, dtype=torch.float64)
            y = x
            for _ in range(depth):
                linear = layers.Linear(100, 100, bias=False, generator=torch.Generator())  # its own draw, replaced:
                linear.weight = torch.randn(100, 100, generator=g, dtype=torch.float64) / 10 * gain  # the sweep's
                x = linear(x)
                x = layers.ACTIVATIONS[activation]()(x) if activation in layers.ACTIVATIONS else x
                torch_linear = torch.nn.Linear(100, 100, bias=False, dtype=torch.float64)
                with torch.no_grad():
                    torch_linear.weight.copy_(linear.weight.T)  # torch.nn keeps (fan_out, fan_in)
                    y = nn_activation(torch_linear(y))
            std, share = at(s, depth, gain)
            last = nbdiag.sweep.hidden_layers(activation, gain, depth)[-1]
            measured = nbdiag.sweep.measure(x, activation, last.input)[1].item()
            assert x.std().item() == pytest.approx(std, rel=1e-6) and measured == pytest.approx(share, nan_ok=True)
            assert torch.allclose(y, x, rtol=1e-6, atol=1e-6 * x.abs().max().item())  # chaos: 3e-8 at gain 3
            assert torch.allclose(last.out, x, rtol=1e-9, atol=0)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "linear"])
def test_the_suited_gain_is_calculate_gains(activation, sweeps):
    label, value = sweeps[activation].facts.gain_label, sweeps[activation].facts.gain
    assert value == pytest.approx(torch.nn.init.calculate_gain(activation), rel=1e-12)
    assert sweeps[activation].facts.gain_source == f"calculate_gain('{activation}') = {label}"


def test_gelu_has_no_calculate_gain_and_the_label_says_so(sweeps):
    with pytest.raises(ValueError):
        torch.nn.init.calculate_gain("gelu")
    facts = sweeps["gelu"].facts
    assert (facts.gain_label, facts.gain) == ("√2", ROOT2) and "no GELU" in facts.gain_source


def test_an_unknown_activation_is_refused_naming_the_choices():
    with pytest.raises(ValueError, match="tanh, relu, gelu, sigmoid, linear"):
        sweep_gains("elu")


def test_numbers_print_in_two_significant_digits():
    stds = {
        0.0743: "0.074",
        0.5026: "0.50",
        1.0266: "1.0",
        31.24: "31",
        153.38: "153",
        8.686e-5: "8.7e-05",
        1181.0: "1.2e+03",
    }
    assert {x: format_std(x) for x in stds} == stds and format_std(0.0) == "0"
    gains = {5 / 3: "5/3", 1.67: "5/3", ROOT2: "√2", 1.41: "√2", 1.0: "1", 1.2: "1.2", 0.35: "0.35"}
    assert {g: gain_label(g) for g in gains} == gains
    line = describe("tanh", 5 / 3, 50, 0.6342, 3.63)
    assert line == "tanh, gain 5/3, depth 50: last layer's std 0.63, 3.6% saturated"
    assert describe("linear", 1.0, 5, 0.98, 0.0).endswith("std 0.98, no flat part")


def test_the_table_has_a_row_per_gain_and_a_column_per_depth(sweeps):
    lines = format_table(sweeps["tanh"], (1.0, 5 / 3, 3.0)).splitlines()
    assert len(lines) == 5 and lines[1].split() == ["gain", "depth", "5", "depth", "20", "depth", "50"]
    assert lines[3].split() == ["5/3", "0.64", "5.0%", "0.65", "5.7%", "0.63", "3.6%"]


# -- the pictures


def test_the_sweep_picture_draws_a_line_per_depth_on_a_log_axis_and_updates_in_place(sweeps):
    ax = plots.plot_gain_sweep(sweeps["tanh"], highlight=50)
    assert len(ax) == 2 and ax[0].get_yscale() == "log" and ax[0].get_ylim() == plots.STD_WINDOW
    lines = [[line for line in a.get_lines() if line.get_gid() == "series"] for a in ax]
    assert [line.get_label() for line in lines[0]] == ["depth 5", "depth 20", "depth 50"]
    assert np.allclose(lines[0][2].get_ydata(), sweeps["tanh"].at_depth(50)[0].numpy())
    assert lines[0][2].get_linewidth() > lines[0][0].get_linewidth()  # the highlighted depth
    (suited,) = [line for line in ax[0].get_lines() if line.get_gid() == "suited"]
    assert list(suited.get_xdata()) == [5 / 3, 5 / 3] and "calculate_gain('tanh') = 5/3" in ax[0].get_xlabel()
    plots.plot_gain_sweep(sweeps["relu"], ax, highlight=5)
    assert [[line for line in a.get_lines() if line.get_gid() == "series"] for a in ax] == lines  # same artists
    assert list(suited.get_xdata()) == [ROOT2, ROOT2] and lines[0][0].get_linewidth() > lines[0][2].get_linewidth()
    assert ax[0].get_yscale() == "log" and "relu" in ax[0].get_title()
    plt.close(ax[0].figure)


def test_zero_and_infinite_stds_are_left_out_of_the_log_axis_and_the_title_says_so(sweeps):
    s = sweeps["tanh"]
    std = s.std.clone()
    std[49, :3] = 0.0  # an underflow
    std[49, -1] = float("inf")  # an overflow
    broken = Sweep("tanh", s.gains, s.depths, std, s.saturated)
    ax = plots.plot_gain_sweep(broken)
    ax[0].figure.canvas.draw()
    assert "4 zero or non-finite values not drawn" in ax[0].get_title()
    (depth_50,) = [line for line in ax[0].get_lines() if line.get_label() == "depth 50"]
    assert len(depth_50.get_xdata()) == len(s.gains) - 4
    plt.close(ax[0].figure)


def test_the_gain_marker_moves_in_place():
    fig, ax = plt.subplots(1, 2)
    plots.mark_gain(ax, 1.0)
    markers = [line for a in ax for line in a.get_lines() if line.get_gid() == "gain"]
    plots.mark_gain(ax, 3.0)
    assert [line for a in ax for line in a.get_lines() if line.get_gid() == "gain"] == markers
    assert all(list(m.get_xdata()) == [3.0, 3.0] for m in markers) and len(markers) == 2
    plots.mark_gain(ax, None)
    assert not [line for a in ax for line in a.get_lines() if line.get_gid() == "gain"]
    plt.close(fig)


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: sweep_gains("tanh", gains=()), "gains must hold 1 to"),
        (lambda: sweep_gains("tanh", gains=1.5), "gains must be a sequence"),
        (lambda: sweep_gains("tanh", gains=(1.0, float("nan"))), "gains must be a positive number"),
        (lambda: sweep_gains("tanh", gains=("1e400",)), "gains must be a number float can hold"),
        (lambda: sweep_gains("tanh", depths=(0,)), "depths must be a whole number from 1 to"),
        (lambda: sweep_gains("tanh", depths=(-3,)), "depths must be a whole number from 1 to"),
        (
            lambda: sweep_gains("tanh", depths=(1000,)),
            f"depths must be a whole number from 1 to {nbdiag.sweep.MAX_DEPTH}",
        ),
        (lambda: sweep_gains("tanh", gains=[1.0] * 1000), f"gains must hold 1 to {nbdiag.sweep.MAX_GAINS} values"),
        (lambda: sweep_gains("tanh", seed=1.5), "seed must be a whole number"),
        (lambda: sweep_gains("tanh", seed="7"), "seed must be a whole number"),
        (lambda: sweep_gains("elu"), "activation must be one of"),
        (lambda: nbdiag.sweep.hidden_layers("tanh", 1.0, 0), "depth must be a whole number from 1 to"),
    ],
)
def test_every_argument_is_checked_in_one_line_naming_it(call, argument):
    with pytest.raises(nbdiag.config.ConfigError, match=argument) as err:
        call()
    assert "\n" not in str(err.value)


def test_a_gain_as_config_takes_it_is_accepted():
    s = sweep_gains("tanh", gains=("5/3", "√2", 3), depths=(5,))
    assert s.gains == (5 / 3, ROOT2, 3.0)


def test_no_silent_wrong_row(sweeps):
    s = sweeps["tanh"]
    with pytest.raises(nbdiag.config.ConfigError, match="depth must be a whole number from 1 to 50"):
        s.at_depth(0)  # was depth 50's row
    with pytest.raises(nbdiag.config.ConfigError, match="depth must be"):
        s.at_depth(51)
    with pytest.raises(nbdiag.config.ConfigError, match="gain 100 was not swept"):
        format_table(s, gains=[100])  # was gain 4's row, labelled 4
    with pytest.raises(nbdiag.config.ConfigError, match="layers must be a whole number from 1 to 5"):
        nbdiag.sweep.format_layers("tanh", 1.0, depth=5, layers=[0])  # was the last layer, printed as layer 0
    assert format_table(s, gains=[5 / 3]).splitlines()[-1].startswith("   5/3")


def test_a_share_that_is_not_a_number_reads_n_a():
    assert nbdiag.sweep.format_share(float("nan")) == "n/a"
