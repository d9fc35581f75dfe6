"""Over training time: snapshots of the watched layers and weights at a schedule of steps, in bounded memory.

A recorder: train and watch add to it while they run; nbdiag.stats reads what it kept."""

import math
from dataclasses import dataclass

import numpy as np
import torch

from .activations import of_kind, saturated_percent
from .stats import histogram, layer_label, shown, weight_label

OVER_TIME_BINS = 60  # value bins of each snapshot's histogram
MAX_SNAPSHOTS = 64  # snapshots kept at most; when full, every other one is dropped and the schedule coarsened


@dataclass
class LayerOverTime:
    """One watched layer's output at each snapshot step: a histogram over fixed bins, and its mean/std/saturation."""

    label: str
    index: int  # position in the model's layer list
    kind: str
    steps: np.ndarray  # (snapshots,) the step of each snapshot (the forward pass of that step, before its update)
    edges: np.ndarray  # (bins + 1,) value bin edges, the same at every snapshot
    density: np.ndarray  # (snapshots, bins) density per bin; values beyond the edges are counted in the end bins
    mean: np.ndarray  # (snapshots,)
    std: np.ndarray  # (snapshots,)
    saturated: np.ndarray  # (snapshots,) percent, as in ActivationStats; nan where the layer has no flat part
    outside: np.ndarray  # (snapshots,) percent of the values beyond the edges (0 for tanh)


@dataclass
class StepPictures:
    """The records of the three distribution pictures at one snapshot step, as the last step's are drawn."""

    step: int
    activations: list  # a Histogram per watched layer (activation_histograms at this step)
    gradients: list  # a Histogram per watched layer that received a gradient
    weight_gradients: list  # a Histogram per weight (a parameter of 2 or more dimensions)


@dataclass
class Snapshot:
    """What Snapshots keeps of one step."""

    step: int
    layers: dict  # layer index -> (counts (bins,), mean, std, saturated, outside) over the layer's fixed bins
    pictures: StepPictures


class Snapshots:
    """Records watched layers and weights at a schedule of steps; never keeps more than `max_snapshots` of them.

    schedule: an int N (steps 0, N, 2N, ...) or "log" (steps 0, 1, 2, 4, 8, ...); the last step is always
    taken. When a snapshot would exceed `max_snapshots`, every other one is dropped first and the schedule
    coarsened to match (N -> 2N; powers of 2 -> powers of 4), so the kept steps stay evenly (or log-) spaced.
    Each snapshot holds, per watched layer, its outputs over fixed bins with mean/std/saturation (bins + 4
    numbers) and the histograms of its outputs and of their gradients (2 x 2 x HISTOGRAM_BINS), and per
    weight the histogram of its gradient (2 x HISTOGRAM_BINS): see numbers(). So memory is at most
    max_snapshots * (layers * (bins + 4 + 4 * HISTOGRAM_BINS) + weights * 2 * HISTOGRAM_BINS) numbers, however
    long the run (64 snapshots of the lesson's MLP: 238,080 numbers, under 1 MB in float32).
    """

    def __init__(self, schedule, max_snapshots=MAX_SNAPSHOTS, last_step=None, bins=OVER_TIME_BINS, threshold=None):
        log = schedule == "log"
        if not log and (not isinstance(schedule, int) or isinstance(schedule, bool) or schedule < 1):
            raise ValueError(f"snapshots must be a whole number of steps >= 1 or 'log', got {schedule!r}")
        if not isinstance(max_snapshots, int) or isinstance(max_snapshots, bool) or max_snapshots < 4:
            raise ValueError(f"max_snapshots must be a whole number >= 4, got {max_snapshots!r}")
        self.every, self.base = (None, 2) if log else (schedule, None)
        self.max_snapshots, self.last_step, self.bins, self.threshold = max_snapshots, last_step, bins, threshold
        self.layers = {}  # index -> (label, kind, edges) fixed at the first snapshot
        self.kept = []  # a Snapshot per kept step, in step order

    def due(self, step):
        """Whether the schedule takes a snapshot at `step`."""
        if step == self.last_step:
            return True
        if self.every is not None:
            return step % self.every == 0
        while step > 1 and step % self.base == 0:  # a power of base leaves 1
            step //= self.base
        return step <= 1

    def _thin(self):
        """Halve the schedule's density and drop the kept snapshots it no longer takes."""
        if self.every is not None:
            self.every *= 2
        else:
            self.base **= 2
        self.kept = [s for s in self.kept if self.due(s.step)]

    def add(self, step, layers, params=()):
        """Snapshot `layers` (records with index, kind, out, grad, and optionally name) and the weights among `params`
        (records with index, shape, grad, and optionally name) at `step`, if the schedule says so."""
        if not self.due(step):
            return
        while len(self.kept) >= self.max_snapshots:
            self._thin()
            if not self.due(step):
                return
        weights = [p for p in params if len(p.shape) >= 2 and p.grad is not None]  # as stats.weights
        pictures = StepPictures(
            step,
            [histogram(l.out, layer_label(l)) for l in shown(layers)],  # the curves the last step's picture draws
            [histogram(l.grad, layer_label(l)) for l in shown(l for l in layers if l.grad is not None)],
            [histogram(p.grad, weight_label(p)) for p in shown(weights)],
        )
        self.kept.append(Snapshot(step, {l.index: self._summary(l) for l in layers}, pictures))

    def _summary(self, layer):
        t = layer.out.detach().flatten().float()
        t = t[torch.isfinite(t)]
        if layer.index not in self.layers:
            self.layers[layer.index] = (layer_label(layer), layer.kind, self._edges(layer.kind, t))
        edges = self.layers[layer.index][2]
        lo, hi = edges[0].item(), edges[-1].item()
        outside = (((t < lo) | (t > hi)).float().mean() * 100).item() if t.numel() else 0.0
        counts = torch.histc(t.clamp(lo, hi), bins=self.bins, min=lo, max=hi)  # (bins,)
        sat = saturated_percent(layer.out.detach(), layer.kind, self.threshold, inputs=layer.input)
        sat = math.nan if sat is None else sat.item()  # nan: no flat part, or no finite value
        mean, std = (t.mean().item(), t.std().item()) if t.numel() > 1 else (math.nan, math.nan)
        return counts.numpy(), mean, std, sat, outside

    def _edges(self, kind, t):
        """Value bins: the kind's own range if it has one, else the first snapshot's range widened by half."""
        facts = of_kind(kind)
        if facts is not None and facts.output_range is not None and self.threshold is None:
            lo, hi = facts.output_range
        elif t.numel():
            lo, hi = t.min().item(), t.max().item()
            pad = max(hi - lo, 1e-6) / 2
            lo, hi = lo - pad, hi + pad
        else:
            lo, hi = -1.0, 1.0
        return torch.linspace(lo, hi, self.bins + 1, dtype=torch.float64)

    def records(self):
        """A LayerOverTime per snapshotted layer."""
        steps = np.array([s.step for s in self.kept])
        out = []
        for index, (label, kind, edges) in self.layers.items():
            rows = [s.layers[index] for s in self.kept]
            counts = np.stack([r[0] for r in rows]).astype(float)  # (snapshots, bins)
            widths = np.diff(edges.numpy())
            totals = np.maximum(counts.sum(1, keepdims=True), 1)
            out.append(
                LayerOverTime(
                    label,
                    index,
                    kind,
                    steps,
                    edges.numpy(),
                    counts / totals / widths,
                    *(np.array([r[k] for r in rows]) for k in range(1, 5)),
                )
            )
        return out

    def numbers(self):
        """How many numbers the kept snapshots hold (the memory bound in the class docstring counts these)."""
        total = 0
        for s in self.kept:
            histograms = s.pictures.activations + s.pictures.gradients + s.pictures.weight_gradients
            total += sum(r[0].size + 4 for r in s.layers.values()) + sum(h.x.size + h.density.size for h in histograms)
        return total
