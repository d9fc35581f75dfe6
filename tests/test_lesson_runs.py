"""The lessons' long runs whose figures the notebooks store, and nbval compares exactly, forget a last-bit change.

Each CPU's kernels round differently in the last bit, and a long run either damps such a difference or grows it.
Here every other weight moves by one float32 step before training, standing in for another CPU: the figures a
lesson prints from the run must not change. The unstable runs (lesson 7 without fan_in scaling, lesson 10's ReLU
model under Adam) do change, which is why their notebooks give ranges instead of exact figures.
"""

import importlib

import pytest
import torch

from nbdiag import Config, stats, train

training = importlib.import_module("nbdiag.train")  # the module (nbdiag.train is also the training function)


def nudging(build_model):
    """`build_model`, then every other element of every parameter moved up by one float32 step."""

    def build(*args):
        model = build_model(*args)
        with torch.no_grad():
            for p in model.parameters():
                flat = p.view(-1)
                flat[::2] = torch.nextafter(flat[::2], torch.tensor(float("inf")))
        return model

    return build


def update_ratios(run):
    return f"{stats.format_update_ratios(run)}\n{run.status}"


def saturation_over_time(run):
    return "\n".join(f"{r.saturated[0]:.2f} {r.saturated[-1]:.2f}" for r in stats.activations_over_time(run))


def fifty_layers(run):
    """Lesson 12's table row of a 50-layer network."""
    out, grad = stats.activation_stats(run), stats.gradient_stats(run)
    spread = ", ".join(f"{out[i].std:.2f}" for i in (0, 24, 49))
    return f"{spread} | {out[49].saturated:.0f}% | {grad[0].std / grad[49].std:.3g}x"


# (the run, what its lesson prints from it), as the lesson's cells print it
STORED = {
    "lesson 6, 1001 steps": (
        dict(config=Config(gain=5 / 3, steps=1001)),
        lambda run: f"{stats.format_weight_table(stats.weight_grad_stats(run))}\n{run.status}",
    ),
    "lesson 7, lr 0.1": (dict(config=Config(steps=1000)), update_ratios),
    "lesson 7, lr 0.001": (dict(config=Config(steps=1000, lr=0.001)), update_ratios),
    "lesson 8, batch norm": (dict(config=Config(batchnorm=True, steps=1001)), stats.tables),
    "lesson 8, gain 0.2": (
        dict(config=Config(batchnorm=True, gain=0.2, steps=500)),
        lambda run: f"{stats.format_activation_table(stats.activation_stats(run))}\n{stats.format_update_ratios(run)}",
    ),
    "lesson 8, lr 1.0": (dict(config=Config(batchnorm=True, lr=1.0, steps=500)), update_ratios),
    "lesson 10, tanh over time": (dict(config=Config(steps=500), snapshots=10), saturation_over_time),
    # lesson 12: one step, but through 50 layers, whose gradients may grow a last-bit change on the way back
    **{
        f"lesson 12, 50 layers, {name}": (dict(config=Config(depth=50, gain=1, **setup)), fifty_layers)
        for name, setup in {
            "plain": dict(),
            "residual": dict(residual=True),
            "batchnorm": dict(batchnorm=True),
            "residual + batchnorm": dict(residual=True, batchnorm=True),
        }.items()
    },
    "lesson 12, adam": (dict(config=Config(optimizer="adam", lr=0.001)), update_ratios),
}


def printed_twice(dataset, monkeypatch, run_options, prints):
    """What a lesson prints from the run as it is, and with its weights nudged by one float32 step."""
    as_is = prints(train(dataset=dataset, progress=False, **run_options))
    monkeypatch.setattr(training, "build_model", nudging(training.build_model))
    return as_is, prints(train(dataset=dataset, progress=False, **run_options))


@pytest.mark.parametrize("name", STORED)
def test_a_stored_long_run_prints_the_same_after_a_last_bit_change(name, dataset, monkeypatch):
    as_is, nudged = printed_twice(dataset, monkeypatch, *STORED[name])
    assert nudged == as_is


def test_an_unstable_run_grows_a_last_bit_change_into_its_figures(dataset, monkeypatch):
    """Lesson 7's run without fan_in scaling: the check above would catch a lesson storing its figures."""
    run_options = dict(config=Config(steps=1000, fan_in_scaling=False))
    as_is, nudged = printed_twice(dataset, monkeypatch, run_options, stats.tables)
    assert nudged != as_is
