"""nbdiag.snapshots: the diagnostics over training time, kept on a schedule in bounded memory."""

import numpy as np
import pytest
import torch
from torch_models import train_watched

from nbdiag import stats, watch
from nbdiag.records import LayerRecord
from nbdiag.snapshots import OVER_TIME_BINS, Snapshots
from nbdiag.train import Config, train


def test_every_n_schedule_is_honoured_and_ends_at_the_last_step(snapshot_run):
    records = stats.activations_over_time(snapshot_run)
    assert [r.index for r in records] == [1, 3, 5, 7, 9]  # the lesson's tanh layers
    for r in records:
        assert list(r.steps) == [0, 25, 50, 75, 100, 125, 150, 175, 199]
        assert r.density.shape == (9, OVER_TIME_BINS) and list(r.edges[[0, -1]]) == [-1.0, 1.0]
        widths = np.diff(r.edges)
        assert np.allclose((r.density * widths).sum(1), 1.0)  # each snapshot is a density


def test_log_schedule_takes_powers_of_two(dataset):
    run = train(Config(steps=100), dataset, progress=False, snapshots="log")
    assert list(stats.activations_over_time(run)[0].steps) == [0, 1, 2, 4, 8, 16, 32, 64, 99]


def test_the_last_snapshot_is_the_last_steps_table(snapshot_run):
    """The snapshot at the last step reads the same outputs as the lesson's tables."""
    for r, s in zip(stats.activations_over_time(snapshot_run), stats.activation_stats(snapshot_run)):
        assert (r.index, r.mean[-1], r.std[-1], r.saturated[-1]) == (s.index, s.mean, s.std, s.saturated)


def test_snapshots_leave_the_run_bitwise_unchanged(dataset):
    plain, watched = train(Config(steps=60), dataset), train(Config(steps=60), dataset, snapshots=7)
    assert plain.snapshots is None
    assert torch.equal(plain.losses, watched.losses) and torch.equal(plain.update_ratios, watched.update_ratios)
    for x, y in zip(plain.layers, watched.layers):
        assert torch.equal(x.out, y.out) and torch.equal(x.grad, y.grad)
    for x, y in zip(plain.params, watched.params):
        assert torch.equal(x.data, y.data) and torch.equal(x.grad, y.grad)


def test_gain_3_still_saturates_47_66_percent_with_snapshots(dataset):
    run = train(Config(gain=3), dataset, snapshots=1)
    assert "saturated: 47.66%" in stats.format_activation_table(stats.activation_stats(run))
    assert stats.activations_over_time(run)[0].saturated[0] == pytest.approx(47.66, abs=0.005)


def test_memory_stays_bounded_on_a_long_run(dataset):
    """3000 steps snapshotted every step into at most 8 snapshots: halving keeps them evenly spaced."""
    run = train(Config(steps=3000), dataset, progress=False, snapshots=1, max_snapshots=8)
    steps = stats.activations_over_time(run)[0].steps
    assert len(steps) <= 8 and steps[0] == 0 and steps[-1] == 2999
    gaps = np.diff(steps[:-1])
    assert len(set(gaps)) == 1 and gaps[0] >= 3000 // 8  # one interval, a power-of-two multiple of 1
    assert gaps[0] & (gaps[0] - 1) == 0
    layers, weights, bins, hist = 5, 7, OVER_TIME_BINS, stats.HISTOGRAM_BINS
    per_snapshot = layers * (bins + 4 + 4 * hist) + weights * 2 * hist  # the bound in Snapshots' docstring
    assert run.snapshots.numbers() == len(steps) * per_snapshot <= 8 * per_snapshot


def test_thinning_keeps_the_log_schedule_log_spaced():
    snaps = Snapshots("log", max_snapshots=5)
    rec = LayerRecord(0, "Tanh", torch.linspace(-1, 1, 64), None)
    for step in range(5000):
        snaps.add(step, [rec])
        assert len(snaps.kept) <= 5
    assert [s.step for s in snaps.kept] == [0, 1, 16, 256, 4096]


@pytest.mark.parametrize(
    "schedule, max_snapshots, option",
    [(0, 64, "snapshots"), (2.5, 64, "snapshots"), ("lin", 64, "snapshots"), (10, 3, "max_snapshots")],
)
def test_bad_schedules_are_rejected_naming_the_option(dataset, schedule, max_snapshots, option):
    with pytest.raises(ValueError, match=option):
        train(Config(steps=3), dataset, snapshots=schedule, max_snapshots=max_snapshots)


def test_linear_layers_get_bins_from_the_first_snapshot(dataset):
    run = train(Config(steps=50, activation="linear"), dataset, progress=False, snapshots=10)
    r = stats.activations_over_time(run)[0]
    assert r.kind == "Linear" and r.edges[0] < -1 and r.edges[-1] > 1
    assert (r.outside >= 0).all() and r.outside[0] == 0  # the first snapshot fits its own (widened) range


def test_watch_keeps_snapshots_of_a_torch_nn_model_on_its_schedule():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3)
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    X, Y = torch.randn(64, 8), torch.randint(0, 3, (64,))
    with torch.no_grad():
        first_tanh, first_relu = model[:2](X), model[:4](X)  # what step 0's forward pass will see
    with watch(model, snapshots=5, max_snapshots=4) as rec, watch(model) as plain:
        for _ in range(40):
            loss = torch.nn.functional.cross_entropy(model(X), Y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            rec.step(loss)
            plain.step(loss)
    assert plain.snapshots is None
    tanh, relu = stats.activations_over_time(rec)
    assert (tanh.label, relu.label) == ("layer 1 (Tanh)", "layer 3 (ReLU)")
    assert list(tanh.steps) == [0, 10, 20, 30] and len(rec.snapshots.kept) == 4  # at 20: 0, 5, 10, 15 -> 0, 10
    assert list(tanh.edges[[0, -1]]) == [-1.0, 1.0] and relu.edges[0] < 0 < relu.edges[-1]
    assert tanh.mean[0] == pytest.approx(first_tanh.mean().item())
    assert tanh.std[0] == pytest.approx(first_tanh.std().item())
    assert tanh.saturated[0] == pytest.approx((first_tanh.abs() > 0.97).float().mean().item() * 100)
    assert relu.saturated[0] == pytest.approx((first_relu == 0).float().mean().item() * 100)


def test_snapshots_hold_the_pictures_of_their_step(dataset):
    """A snapshot's histograms are those the last-step pictures would draw at that step: equal at the last step,
    and at step 0 equal to a 1-step run's (the same first forward and backward pass)."""
    run = train(Config(steps=30), dataset, progress=False, snapshots=10)
    assert stats.snapshot_steps(run) == [0, 10, 20, 29]
    first = train(Config(steps=1), dataset)
    for at, whole in ((stats.pictures_at(run, 29), run), (stats.pictures_at(run, 0), first)):
        for got, want in (
            (at.activations, stats.activation_histograms(whole)),
            (at.gradients, stats.gradient_histograms(whole)),
            (at.weight_gradients, stats.weight_grad_histograms(whole)),
        ):
            assert [h.label for h in got] == [h.label for h in want] and len(got) > 0
            for g, w in zip(got, want):
                assert np.array_equal(g.x, w.x) and np.array_equal(g.density, w.density)
    assert stats.pictures_at(run, 14).step == 10 and stats.pictures_at(run, 16).step == 20  # the nearest one
    middle = stats.pictures_at(run, 10)
    assert not np.array_equal(middle.gradients[0].density, stats.pictures_at(run, 0).gradients[0].density)
    with pytest.raises(ValueError, match="snapshots="):
        stats.pictures_at(first, 0)


def test_watch_snapshots_hold_gradient_pictures_too():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    rec = train_watched(model, 7, torch.optim.Adam, 0.01, inputs=8, classes=3, snapshots=3)
    assert stats.snapshot_steps(rec) == [0, 3, 6]
    at = stats.pictures_at(rec, 6)  # the last step: the same records as the run's own
    assert [h.label for h in at.gradients] == ["layer 1 (Tanh)"]
    assert [h.label for h in at.weight_gradients] == ["0.weight (16, 8)", "2.weight (3, 16)"]
    assert np.array_equal(at.gradients[0].density, stats.gradient_histograms(rec)[0].density)
    assert np.array_equal(at.weight_gradients[1].density, stats.weight_grad_histograms(rec)[1].density)
