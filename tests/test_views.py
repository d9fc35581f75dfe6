"""nbdiag.views: the table of the pictures a dashboard can show, and the band each shades; below the widgets."""

import subprocess
import sys

import pytest
from matplotlib.figure import Figure

from nbdiag import Config, stats, train
from nbdiag.views import ALL_VIEWS, VIEWS, View, tanh_band


def test_the_default_views_are_the_lessons_four_and_snapshot_views_are_extra():
    assert VIEWS == ("activations", "gradients", "weight_gradients", "update_ratios")
    assert all(isinstance(view, View) and view.name == name for name, view in ALL_VIEWS.items())
    assert [name for name, view in ALL_VIEWS.items() if view.needs_snapshots] == ["saturation_over_time"]
    assert [name for name, view in ALL_VIEWS.items() if view.step_on_x] == ["update_ratios", "saturation_over_time"]


def test_the_tanh_band_is_shaded_only_for_an_all_tanh_run(run, dataset):
    assert tanh_band(run) == "tanh_output" == ALL_VIEWS["activations"].band(run)
    relu = train(Config(activation="relu", steps=1), dataset)
    assert tanh_band(relu) is None
    assert ALL_VIEWS["update_ratios"].band(relu) == "update_ratio" and ALL_VIEWS["gradients"].band(relu) is None


@pytest.mark.parametrize("name", list(ALL_VIEWS))
def test_every_view_draws_a_run_at_its_last_step_and_at_a_snapshot(snapshot_run, name):
    view = ALL_VIEWS[name]
    for at in (None, stats.pictures_at(snapshot_run, 50)):
        ax = Figure().subplots()
        view.draw(snapshot_run, ax, at)
        series = [line for line in ax.get_lines() if line.get_gid() == "series"]
        assert series and ax.get_title()
        steps = [line for line in ax.get_lines() if line.get_gid() == "step"]
        assert len(steps) == (1 if view.step_on_x and at is not None else 0)
    for gid, label in view.legend:  # every line the legend names is drawn
        assert label and any(line.get_gid() == gid for line in ax.get_lines())


def test_the_lower_layers_import_no_widget():
    code = "import sys, nbdiag.views, nbdiag.picture, nbdiag.still; print('nbdiag.widgets' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
