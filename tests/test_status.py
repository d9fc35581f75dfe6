"""The one-line status of a train run and of a watch recording, and when a finite loss counts as diverging."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch_models import small_mlp, train_watched

from nbdiag import Config, status, train, watch


@pytest.mark.parametrize(
    "losses, start",
    [
        ([3.3, 67.0], 1),  # one update, and the loss 20x its start: diverging at once
        ([3.3] * 100 + [20.0] * 10, 100),  # ten steps above 3x at the end: diverging from the first of them
        ([3.3] * 100 + [20.0] * 9, None),  # nine: a spike, not yet a trend
        ([3.3, 20.0, 3.0] + [20.0] * 20, 3),  # back under once: the stretch starts after that
        ([3.3] + [9.8] * 50, None),  # below 3x its start: overshooting, not diverging
        ([0.0] + [5.0] * 50, None),  # a loss that starts at 0 has no scale to rise above
        ([-1.0] + [5.0] * 50, None),
        ([3.3], None),
        ([3.3] + [20.0] * 20 + [float("nan")], None),  # a non-finite loss is a divergence of its own (diverged_at)
    ],
)
def test_diverging_from_is_the_start_of_a_final_stretch_far_above_the_first_loss(losses, start):
    assert status.diverging_from(torch.tensor(losses)) == start


@pytest.mark.parametrize(
    "config, line",
    [
        (Config(), "trained 1 step, final loss 3.2962"),
        (Config(steps=3), "trained 3 steps, final loss "),
        (Config(lr=10, steps=20), "diverging from step 1: the loss stayed above 3x its value at step 0 (3.2962) "),
        (Config(lr=1e308, steps=5), "diverged at step 0: its update made the weights inf or nan (lr 1e+308 is "),
        (Config(gain=1e200), "diverged at step 0: the loss was nan before any update (the initial gain 1e+200 is "),
        (Config(lr=1000, activation="linear", steps=30), "diverged at step 2: the loss became "),
    ],
)
def test_a_train_runs_status_says_how_it_ended(config, line, dataset):
    run = train(config, dataset)
    assert run.status.startswith(line) and run.status == status.status(run), run.status
    assert run.status.endswith("stopped there") == (run.diverged_at is not None)


def test_a_recordings_status_says_how_it_ended():
    model = small_mlp()
    with watch(model) as rec:
        assert rec.status == "no step recorded yet: call rec.step(loss) after each optimizer.step()"
    rec = train_watched(small_mlp(), 3, lr=0.1)
    assert rec.status.startswith("recorded 3 steps, final loss ") and rec.status == status.status(rec, rec._losses[-1])
    diverged = train_watched(small_mlp(nn.Identity), 20, optimizer_lr=1e6)  # no lr told: "the learning rate"
    assert diverged.status == (
        f"diverged at step {diverged.diverged_at}: the loss became {diverged.losses[-1].item()} (the learning rate is "
        "probably too large); recording stopped there"
    )


def test_a_recordings_status_prints_the_loss_it_was_given():
    """rec.step(3.00015) keeps the Python number (3.0002 to 4 places); the float32 losses would print 3.0001."""
    model = small_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with watch(model) as rec:
        x, y = torch.randn(8, 20), torch.zeros(8, dtype=torch.long)
        F.cross_entropy(model(x), y).backward()
        opt.step()
        rec.step(3.00015)
    assert rec.status == "recorded 1 step, final loss 3.0002" and f"{rec.losses[-1].item():.4f}" == "3.0001"


def test_a_nan_loss_at_step_0_of_a_recording_is_not_blamed_on_the_learning_rate():
    model = small_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with watch(model, lr=0.1) as rec:
        loss = F.cross_entropy(model(torch.randn(8, 20)), torch.zeros(8, dtype=torch.long))
        loss.backward()
        opt.step()
        rec.step(loss * float("nan"))
    assert rec.status == (
        "the loss was nan at step 0, before any update: look at the input, the initial weights or the loss "
        "function; recording stopped there"
    )
