"""nbdiag.plots: each picture returns its axes, updates in place, and survives a diverged run."""

import matplotlib.pyplot as plt
import pytest

from nbdiag import Config, bands, plots, stats, train
from nbdiag.snapshots import OVER_TIME_BINS


@pytest.mark.parametrize(
    "plot, records",
    [
        (plots.plot_activations, stats.activation_histograms),
        (plots.plot_gradients, stats.gradient_histograms),
        (plots.plot_weight_gradients, stats.weight_grad_histograms),
        (plots.plot_update_ratios, stats.update_ratio_history),
    ],
)
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


def test_over_time_plots_draw_and_update_in_place(snapshot_run):
    records = stats.activations_over_time(snapshot_run)
    ax = plots.plot_activation_over_time(records, 3)
    [mesh] = [c for c in ax.collections if c.get_gid().startswith("over_time:")]
    assert mesh.get_array().shape == (OVER_TIME_BINS, 9) and "layer 3 (Tanh)" in ax.get_title()
    assert plots.plot_activation_over_time(records, "layer 3 (Tanh)", ax=ax) is ax
    assert [c for c in ax.collections if c.get_gid().startswith("over_time:")] == [mesh]  # same image, updated
    assert len(ax.figure.axes) == 2  # the plot and one colour bar
    with pytest.raises(ValueError, match="1, 3, 5, 7, 9"):
        plots.plot_activation_over_time(records, 2)
    axes = plots.plot_layer_stats_over_time(records)
    assert len(axes) == 3 and [len(a.get_lines()) for a in axes] == [5, 5, 5]
    assert list(axes[1].get_lines()[0].get_ydata()) == list(records[0].std)
    assert any(p.get_gid().startswith("healthy_band:") for p in axes[2].patches)
    plt.close("all")


def test_predicted_std_is_drawn_over_the_measured(dataset):
    run = train(Config(), dataset)
    predicted = stats.predicted_std(run.config, dataset.vocab_size)
    acts, grads = stats.activation_stats(run), stats.gradient_stats(run)
    forward, backward = plots.plot_predicted_std(predicted, acts, grads)
    assert forward.get_yscale() == "log" and backward.get_yscale() == "log"
    pred_line, measured_line = forward.get_lines()
    assert list(pred_line.get_ydata()) == [p.activation_std for p in predicted]
    assert list(measured_line.get_ydata()) == [s.std for s in acts]
    assert list(backward.get_lines()[1].get_ydata()) == [s.std for s in grads]
    assert pred_line.get_ydata()[-1] > 10 * measured_line.get_ydata()[-1]  # tanh squashes what gain 5/3 grows
    plt.close("all")


def test_healthy_bands_are_shaded_once(snapshot_run):
    ax = plots.plot_update_ratios(stats.update_ratio_history(snapshot_run))
    plots.shade_healthy_bands(ax, "update_ratio")
    plots.shade_healthy_bands(ax, "update_ratio")
    [band] = [p for p in ax.patches if p.get_gid().startswith("healthy_band:")]
    low, high = bands.healthy_bands()["update_ratio"].low, bands.healthy_bands()["update_ratio"].high
    corners = band.get_transform().transform(band.get_path().vertices)
    data_y = ax.transData.inverted().transform(corners)[:, 1]
    assert min(data_y) == pytest.approx(low) and max(data_y) == pytest.approx(high)
    with pytest.raises(ValueError, match="update_ratio"):
        plots.shade_healthy_bands(ax, "loss")
    plt.close("all")


def test_the_step_marker_moves_in_place(snapshot_run):
    ax = plots.plot_update_ratios(stats.update_ratio_history(snapshot_run), step=50)
    [marker] = [line for line in ax.get_lines() if line.get_gid() == "step"]
    plots.plot_update_ratios(stats.update_ratio_history(snapshot_run), ax=ax, step=75)
    assert [line for line in ax.get_lines() if line.get_gid() == "step"] == [marker]
    assert list(marker.get_xdata()) == [75, 75]
    plots.plot_update_ratios(stats.update_ratio_history(snapshot_run), ax=ax)
    assert not [line for line in ax.get_lines() if line.get_gid() == "step"]
    axes = plots.plot_layer_stats_over_time(stats.activations_over_time(snapshot_run), step=100)
    assert all(list(line.get_xdata()) == [100, 100] for a in axes for line in a.get_lines() if line.get_gid() == "step")
    plt.close("all")


def test_plots_shading_is_what_the_pictures_redraw_in_place():
    """Shaded again with the same band, an axes keeps its one patch (a redraw repaints nothing new); None removes it."""
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    ax.plot([0, 1], [60, 70])

    def shaded():
        return [p for p in ax.patches if p.get_gid().startswith("healthy_band:")]

    plots.shade_healthy_bands(ax, "saturation")
    [band] = shaded()
    assert ax.get_ylim()[0] <= 0 and ax.get_ylim()[1] >= 70  # the band's 0 in view, as the data
    plots.shade_healthy_bands(ax, "saturation")
    assert shaded() == [band]  # the same artist
    plots.shade_healthy_bands(ax, "update_ratio")
    [other] = shaded()
    assert other is not band and ax.get_ylim()[0] <= bands.healthy_bands()["update_ratio"].low
    plots.shade_healthy_bands(ax, None)
    assert not shaded()
