"""What a run leaves for the diagnostics. nbdiag.train and nbdiag.watch both produce a RunRecord; stats, plots,
health, status, session and widgets read a run only through its fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import torch

from .config import Config

if TYPE_CHECKING:  # for the type only: records stays a leaf that every reader of runs can import
    from .snapshots import Snapshots


@dataclass
class LayerRecord:
    """One layer's output, and the gradient of the loss with respect to it, at one step."""

    index: int  # position in the model's layer list (a train run) or in model.named_modules() (a watched model)
    kind: str  # the layer's class name: 'Linear', 'BatchNorm1d', 'Tanh', 'ReLU', ...
    out: torch.Tensor  # (batch, width) the layer's output
    grad: torch.Tensor | None  # (batch, width) d loss / d out; None where no gradient reached the layer
    name: str = ""  # a watched layer's name in model.named_modules(), e.g. 'blocks.0.act'; '' in a train run
    input: torch.Tensor | None = None  # the layer's input, kept only where its saturation rule reads it (GELU's)


@dataclass
class ParamRecord:
    """One parameter after a step's update, with that step's gradient."""

    index: int  # position in the model's parameter list (in a train run 0 is the embedding C)
    shape: tuple[int, ...]
    data: torch.Tensor
    grad: torch.Tensor | None  # None where no gradient reached the parameter
    name: str = ""  # a watched parameter's name in model.named_parameters(), e.g. '2.weight'; '' in a train run


@runtime_checkable
class RunRecord(Protocol):
    """Every field the diagnostics read of a run: a train.Run or a watch.Recording."""

    config: Config | None  # the Config of a train run; None for a watched torch.nn model
    lr: float | None  # the learning rate, for advice; None where a watch was not told it
    # count |output| > this as saturated in every layer; None: the per-kind rules of nbdiag.activations
    saturation_threshold: float | None
    losses: torch.Tensor  # (steps_done,) the loss at each step
    update_ratios: torch.Tensor  # (steps updated, n_params) log10 update:data at each step
    # LayerRecord per layer at the last step: every layer of a train run, the watched ones of a watch
    layers: list[LayerRecord]
    watched: tuple[int, ...]  # indices of the layers the diagnostics inspect
    params: list[ParamRecord]  # ParamRecord per parameter at the last step
    snapshots: Snapshots | None  # the watched layers' and weights' histograms at a schedule of steps, if kept
    diverged_at: int | None  # the step whose loss, or whose update of the weights, was not finite, if any
    diverging_from: int | None  # the step from which the finite loss stayed far above its start, if any
    steps_done: int
    status: str  # one line saying how the run ended (nbdiag.status)


def nbytes(run):
    """The memory a run's tensors and snapshots take, in bytes: what keeping it costs."""
    tensors = [run.losses, run.update_ratios]
    tensors += [t for layer in run.layers for t in (layer.out, layer.grad, layer.input) if t is not None]
    tensors += [t for param in run.params for t in (param.data, param.grad) if t is not None]
    snapshots = run.snapshots.numbers() * 8 if run.snapshots is not None else 0  # (counts are float64 at most)
    return sum(t.numel() * t.element_size() for t in tensors) + snapshots
