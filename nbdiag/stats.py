"""Diagnostics of a finished run as named records, and the lesson's text tables. No plotting here."""
from dataclasses import dataclass

import numpy as np
import torch

SATURATION_THRESHOLD = 0.97  # |tanh output| above this counts as saturated: its local gradient is < 6% of the maximum


@dataclass
class ActivationStats:
    """A watched layer's output at the last step."""

    index: int  # position in the model's layer list
    kind: str
    mean: float
    std: float
    saturated: float  # percent of outputs with |t| > SATURATION_THRESHOLD


@dataclass
class GradientStats:
    """The gradient of the loss with respect to a watched layer's output at the last step."""

    index: int
    kind: str
    mean: float
    std: float


@dataclass
class WeightGradStats:
    """A 2-D weight's last gradient against the weight itself after the last update."""

    index: int  # position in the model's parameter list
    shape: tuple
    mean: float
    std: float
    grad_data_ratio: float  # std(grad) / std(weight)


@dataclass
class Histogram:
    """A density histogram of one tensor, as the lesson plots it (left bin edges against density)."""

    label: str
    x: np.ndarray  # (bins,) left edge of each bin
    density: np.ndarray  # (bins,)
    nonfinite: int  # NaN/inf values left out of the histogram


@dataclass
class RatioHistory:
    """One 2-D parameter's log10 update:data ratio at every step."""

    label: str
    index: int
    log10_ratio: np.ndarray  # (steps,)


def watched_layers(run):
    """The layers the lesson inspects: every Tanh before the output, or every Linear when tanh is off."""
    kind = "Tanh" if run.config.tanh else "Linear"
    return [layer for layer in run.layers[:-1] if layer.kind == kind]


def weights(run):
    """The 2-D parameters (embedding and Linear weights), which the lesson's weight tables show."""
    return [p for p in run.params if len(p.shape) == 2]


def activation_stats(run):
    return [ActivationStats(l.index, l.kind, l.out.mean().item(), l.out.std().item(),
                            ((l.out.abs() > SATURATION_THRESHOLD).float().mean() * 100).item())
            for l in watched_layers(run)]


def gradient_stats(run):
    return [GradientStats(l.index, l.kind, l.grad.mean().item(), l.grad.std().item()) for l in watched_layers(run)]


def weight_grad_stats(run):
    return [WeightGradStats(p.index, p.shape, p.grad.mean().item(), p.grad.std().item(),
                            (p.grad.std() / p.data.std()).item()) for p in weights(run)]


def histogram(t, label):
    """torch.histogram(t, density=True) of the finite values of t (100 bins, as torch's default)."""
    t = t.detach().flatten().float()
    finite = t[torch.isfinite(t)]
    nonfinite = t.numel() - finite.numel()
    if finite.numel() == 0:
        return Histogram(label, np.empty(0), np.empty(0), nonfinite)
    density, edges = torch.histogram(finite, density=True)
    return Histogram(label, edges[:-1].numpy(), density.numpy(), nonfinite)


def _layer_label(layer):
    return f"layer {layer.index} ({layer.kind})"


def _weight_label(p):
    return f"{p.index} {p.shape}"


def activation_histograms(run):
    return [histogram(l.out, _layer_label(l)) for l in watched_layers(run)]


def gradient_histograms(run):
    return [histogram(l.grad, _layer_label(l)) for l in watched_layers(run)]


def weight_grad_histograms(run):
    return [histogram(p.grad, _weight_label(p)) for p in weights(run)]


def update_ratio_history(run):
    """log10 update:data of each 2-D parameter at each step, as the lesson's last picture plots it."""
    return [RatioHistory(f"param {p.index}", p.index, run.update_ratios[:, p.index].numpy()) for p in weights(run)]


def format_activation_table(stats):
    return "\n".join("layer %d (%10s): mean %+.2f, std %.2f, saturated: %.2f%%"
                     % (s.index, s.kind, s.mean, s.std, s.saturated) for s in stats)


def format_gradient_table(stats):
    return "\n".join("layer %d (%10s): mean %+f, std %e" % (s.index, s.kind, s.mean, s.std) for s in stats)


def format_weight_table(stats):
    return "\n".join("weight %10s | mean %+f | std %e | grad:data ratio %e"
                     % (s.shape, s.mean, s.std, s.grad_data_ratio) for s in stats)


def format_update_ratios(run):
    """The last step's log10 update:data of each 2-D weight."""
    if not len(run.update_ratios):
        return "(no update was applied)"
    return "\n".join("weight %10s | update:data log10 %+.3f" % (p.shape, run.update_ratios[-1, p.index].item())
                     for p in weights(run))


def tables(run):
    """All of the lesson's tables for a run, with headings, as the command line prints them."""
    sections = [
        ("activations", format_activation_table(activation_stats(run))),
        ("gradients", format_gradient_table(gradient_stats(run))),
        ("weight gradients", format_weight_table(weight_grad_stats(run))),
        ("update:data at the last step", format_update_ratios(run)),
    ]
    text = "\n\n".join(f"# {title}\n{body}" for title, body in sections)
    return f"{text}\n\n{run.status}\nloss {run.losses[-1].item():.4f}"
