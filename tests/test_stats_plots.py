"""Diagnostics records and the plots drawn from them, including on a diverged run."""
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from nbdiag import Config, plots, stats, train


@pytest.fixture(scope="module")
def run(dataset):
    return train(Config(steps=50), dataset)


@pytest.fixture(scope="module")
def diverged(dataset):
    return train(Config(lr=1000, tanh=False, steps=30), dataset)


def test_records_match_the_lecture_definitions(run):
    tanh = [l for l in run.layers[:-1] if l.kind == "Tanh"]
    acts = stats.activation_stats(run)
    assert [a.index for a in acts] == [l.index for l in tanh]
    t = tanh[0].out
    assert acts[0].saturated == pytest.approx(((t.abs() > 0.97).float().mean() * 100).item())
    assert acts[0].std == pytest.approx(t.std().item())
    w = stats.weight_grad_stats(run)
    assert [s.shape for s in w] == [(27, 10), (30, 100)] + [(100, 100)] * 4 + [(100, 27)]
    p = run.params[w[1].index]
    assert w[1].grad_data_ratio == pytest.approx((p.grad.std() / p.data.std()).item())


def test_histograms_are_torch_density_histograms(run):
    h = stats.activation_histograms(run)[0]
    hy, hx = torch.histogram(run.layers[1].out, density=True)
    np.testing.assert_array_equal(h.x, hx[:-1].numpy())
    np.testing.assert_array_equal(h.density, hy.numpy())
    assert h.nonfinite == 0 and h.label == "layer 1 (Tanh)"


def test_update_history_covers_every_step_of_every_weight(run):
    history = stats.update_ratio_history(run)
    assert len(history) == 7 and all(len(h.log10_ratio) == 50 for h in history)


@pytest.mark.parametrize("plot, records", [
    (plots.plot_activations, stats.activation_histograms),
    (plots.plot_gradients, stats.gradient_histograms),
    (plots.plot_weight_gradients, stats.weight_grad_histograms),
    (plots.plot_update_ratios, stats.update_ratio_history),
])
def test_each_plot_returns_its_axes_and_updates_in_place(plot, records, run, dataset):
    fig, ax = plt.subplots()
    assert plot(records(run), ax=ax) is ax
    lines = ax.get_lines()
    assert len(lines) >= len(records(run))
    other = train(Config(steps=50, gain=3), dataset)
    plot(records(other), ax=ax)
    assert ax.get_lines() == lines  # the same artists, new data
    plt.close(fig)


def test_plots_survive_a_diverged_run_and_say_what_was_left_out(diverged):
    fig, axes = plt.subplots(4)
    plots.plot_activations(stats.activation_histograms(diverged), axes[0])
    plots.plot_gradients(stats.gradient_histograms(diverged), axes[1])
    plots.plot_weight_gradients(stats.weight_grad_histograms(diverged), axes[2])
    plots.plot_update_ratios(stats.update_ratio_history(diverged), axes[3])
    fig.canvas.draw()
    assert any("non-finite" in ax.get_title() for ax in axes)
    plt.close(fig)


def test_tables_of_a_diverged_run_print(diverged):
    text = stats.tables(diverged)
    assert "diverged at step" in text and text.count("grad:data ratio") == 7
