"""The table of views: each picture a dashboard can show, described once; no widgets here.

A View says how a picture draws a run, which healthy band it shades and what it needs. nbdiag.picture draws a
view live, nbdiag.still into a still PNG, and the dashboards (nbdiag.widgets) choose views by name.
"""

from collections.abc import Callable
from dataclasses import dataclass

from . import plots, stats


def _no_band(run):
    return None


@dataclass(frozen=True)
class View:
    """One picture a dashboard can show: how it draws a run, the healthy band it shades, what it needs.

    nbdiag.picture.Picture draws it; Dashboard(views=[...]) and Comparison(views=[...]) choose views by name.
    """

    name: str
    draw: Callable  # draw(run, ax, at): `at` is the stats.StepPictures of a snapshot step, or None for the last step
    band: Callable = _no_band  # band(run): the healthy band to shade (a key of bands.healthy_bands), or None
    step_on_x: bool = False  # the step slider marks its step on x, rather than titling the picture "at step N"
    needs_snapshots: bool = False  # drawn from the run's snapshots: a dashboard with snapshots=N can add it
    legend: tuple = ()  # (gid, label) of each line the legend names besides the data lines


def tanh_band(run):
    """tanh's own saturation band, for a run whose watched layers are all tanh and that uses tanh's own rule."""
    tanh_only = {layer.kind for layer in stats.watched_layers(run)} == {"Tanh"}
    # tanh's own saturation rule: a run with a user-given threshold would need another band
    return "tanh_output" if tanh_only and run.saturation_threshold is None else None


ALL_VIEWS = {
    view.name: view
    for view in (
        View(
            "activations",
            lambda run, ax, at: plots.plot_activations(at.activations if at else stats.activation_histograms(run), ax),
            band=tanh_band,
        ),
        View(
            "gradients",
            lambda run, ax, at: plots.plot_gradients(at.gradients if at else stats.gradient_histograms(run), ax),
        ),
        View(
            "weight_gradients",
            lambda run, ax, at: plots.plot_weight_gradients(
                at.weight_gradients if at else stats.weight_grad_histograms(run), ax
            ),
        ),
        View(
            "update_ratios",
            lambda run, ax, at: plots.plot_update_ratios(
                stats.update_ratio_history(run), ax, step=at.step if at else None
            ),
            band=lambda run: "update_ratio",
            step_on_x=True,
            legend=(("guide", f"update:data = 1e{plots.GUIDE_LOG10_RATIO}"),),
        ),
        View(
            "saturation_over_time",
            lambda run, ax, at: plots.plot_stat_over_time(
                stats.activations_over_time(run), "saturated", ax, step=at.step if at else None
            ),
            band=lambda run: "saturation",
            step_on_x=True,
            needs_snapshots=True,
        ),
    )
}
VIEWS = tuple(name for name, view in ALL_VIEWS.items() if not view.needs_snapshots)  # the lesson's four, the default
