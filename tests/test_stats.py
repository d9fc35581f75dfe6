"""nbdiag.stats: the records, histograms, tables and predictions drawn from a run, against their definitions."""

import numpy as np
import pytest
import torch

from nbdiag import Config, stats, train


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


def test_tables_of_a_diverged_run_print(diverged):
    text = stats.tables(diverged)
    assert "diverged at step" in text and text.count("grad:data ratio") == 7


def test_a_run_without_snapshots_says_how_to_get_them(dataset):
    with pytest.raises(ValueError, match="snapshots="):
        stats.activations_over_time(train(Config(), dataset))


def test_linear_prediction_matches_the_linear_sandwich(dataset):
    config = Config(activation="linear")
    predicted = stats.predicted_std(config, dataset.vocab_size)
    run = train(config, dataset)
    measured_acts, measured_grads = stats.activation_stats(run), stats.gradient_stats(run)
    assert [p.index for p in predicted] == [a.index for a in measured_acts] == [0, 1, 2, 3, 4]
    assert [p.activation_std for p in predicted] == pytest.approx([(5 / 3) ** k for k in range(1, 6)])
    for p, a, g in zip(predicted, measured_acts, measured_grads):
        assert p.activation_std == pytest.approx(a.std, rel=0.05)  # a batch of 32 measures it to a few percent
        assert p.gradient_std == pytest.approx(g.std, rel=0.15)
    # the gradient nearest the loss: sqrt(V - 1) / (V * B) through the shrunk last layer
    assert predicted[-1].gradient_std == pytest.approx(26**0.5 / (27 * 32) * 27**0.5 * 0.1 / 10)


def test_tanh_departs_from_the_linear_prediction(dataset):
    config = Config()
    predicted = stats.predicted_std(config, dataset.vocab_size)
    measured = stats.activation_stats(train(config, dataset))
    assert [p.index for p in predicted] == [m.index for m in measured] == [1, 3, 5, 7, 9]
    # the linear stack grows by the gain each layer; tanh squashes it back below 1
    assert all(m.std < 1 < p.activation_std for p, m in zip(predicted, measured))
    assert predicted[-1].activation_std / measured[-1].std > 15
    gain_half = stats.predicted_std(Config(gain=0.5), dataset.vocab_size)  # small values: tanh is nearly linear
    measured = stats.gradient_stats(train(Config(gain=0.5), dataset))
    for p, m in zip(gain_half, measured):
        assert p.gradient_std == pytest.approx(m.std, rel=0.1)


def test_prediction_follows_fan_in_scaling_and_batchnorm(dataset):
    unscaled = stats.predicted_std(Config(fan_in_scaling=False, activation="linear"), dataset.vocab_size)
    assert unscaled[0].activation_std == pytest.approx(5 / 3 * 30**0.5)
    bn = stats.predicted_std(Config(batchnorm=True), dataset.vocab_size)
    assert [p.index for p in bn] == [2, 5, 8, 11, 14]
    assert [p.activation_std for p in bn] == pytest.approx([1.0] * 5)  # batchnorm resets the std to gamma = 1


def test_a_deep_network_pictures_at_most_max_curves_layers_spread_from_first_to_last(dataset):
    run = train(Config(depth=30), dataset)
    layers = stats.watched_layers(run)
    pictured = [h.label for h in stats.activation_histograms(run)]
    assert len(layers) == 30 and len(pictured) == stats.MAX_CURVES
    assert pictured[0] == stats.layer_label(layers[0]) and pictured[-1] == stats.layer_label(layers[-1])
    assert len(stats.gradient_histograms(run)) == len(stats.update_ratio_history(run)) == stats.MAX_CURVES
    assert len(stats.activation_stats(run)) == 30  # the tables keep every layer
    assert stats.shown(range(5)) == [0, 1, 2, 3, 4] and stats.shown(range(15), 3) == [0, 7, 14]


def _columns(table):
    """Where each row's 'mean' and 'std' begin: the same in every row of an aligned table."""
    return {(line.index("mean"), line.index("std")) for line in table.splitlines()}


def test_a_deep_table_lines_up_and_a_five_layer_one_keeps_the_lessons_format(run):
    acts = stats.activation_stats(run)
    assert stats.format_activation_table(acts).splitlines()[0].startswith("layer 1 (      Tanh): mean")
    deep = [stats.ActivationStats(i, "Tanh", 0.0, 0.5, 1.0) for i in (1, 3, 9, 11, 149)]
    text = stats.format_activation_table(deep)
    assert len(_columns(text)) == 1 and text.splitlines()[0].startswith("layer   1 (      Tanh)")
    grads = [stats.GradientStats(i, "Tanh", 0.0, 1e-4) for i in (2, 14)]
    assert len(_columns(stats.format_gradient_table(grads))) == 1


def test_a_long_class_name_widens_its_column_instead_of_shifting_the_rows():
    rows = [
        stats.ActivationStats(1, "Tanh", 0.0, 0.5, 1.0),
        stats.ActivationStats(2, "MultiheadAttention", 0.0, 0.5, 1),
    ]
    table = stats.format_activation_table(rows)
    assert len(_columns(table)) == 1 and "(MultiheadAttention)" in table and "(              Tanh)" in table


def test_a_watched_layers_table_rows_name_it_as_its_pictures_do():
    rows = [stats.ActivationStats(4, "ReLU", 0.1, 0.5, 50.0, name="blocks.0.act")]
    assert stats.format_activation_table(rows).startswith("layer blocks.0.act (      ReLU):")
    assert stats.layer_label(rows[0]) == "layer blocks.0.act (ReLU)"
