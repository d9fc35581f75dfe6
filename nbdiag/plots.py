"""The lesson's pictures: each takes records from nbdiag.stats and an optional axes, and returns the axes.

Called again on the same axes with records of the same layout, a plotter updates its lines in place
(set_data), which is what the widgets rely on to redraw without flicker.
"""
import matplotlib.pyplot as plt
import numpy as np

GUIDE_LOG10_RATIO = -3  # update:data of about 1e-3 is the lecture's rule of thumb


def _axes(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(20, 4))
    return ax


def _draw(ax, series, title, guide=None):
    """Draw (label, x, y, nonfinite) series as lines, reusing ax's lines when the layout matches."""
    labels = [s[0] + (f" ({s[3]} non-finite left out)" if s[3] else "") for s in series]
    lines = [line for line in ax.get_lines() if line.get_gid() == "series"]
    if [line.get_label() for line in lines] != labels:  # another layout: start afresh
        ax.clear()
        lines = [ax.plot([], [], label=label, gid="series")[0] for label in labels]
        if guide is not None:
            ax.axhline(guide, color="k", gid="guide")
        if labels:
            ax.legend(loc="upper right", fontsize="small")
    for line, (_, x, y, _) in zip(lines, series):
        ok = np.isfinite(x) & np.isfinite(y)
        line.set_data(x[ok], y[ok])
    dropped = sum(s[3] for s in series)
    ax.set_title(title + (f" — {dropped} non-finite values not drawn" if dropped else ""))
    ax.relim()
    ax.autoscale_view()
    return ax


def plot_distributions(histograms, title, ax=None):
    """One density curve per Histogram record."""
    series = [(h.label, h.x, h.density, h.nonfinite) for h in histograms]
    return _draw(_axes(ax), series, title)


def plot_activations(histograms, ax=None):
    """Needs stats.activation_histograms(run)."""
    return plot_distributions(histograms, "activation distribution", ax)


def plot_gradients(histograms, ax=None):
    """Needs stats.gradient_histograms(run)."""
    return plot_distributions(histograms, "gradient distribution", ax)


def plot_weight_gradients(histograms, ax=None):
    """Needs stats.weight_grad_histograms(run)."""
    return plot_distributions(histograms, "weights gradient distribution", ax)


def plot_update_ratios(histories, ax=None):
    """Needs stats.update_ratio_history(run); the black line marks update:data = 1e-3."""
    series = []
    for h in histories:
        y = np.asarray(h.log10_ratio, dtype=float)
        series.append((h.label, np.arange(len(y), dtype=float), y, int((~np.isfinite(y)).sum())))
    ax = _draw(_axes(ax), series, "update:data ratio (log10)", guide=GUIDE_LOG10_RATIO)
    ax.set_xlabel("step")
    return ax
