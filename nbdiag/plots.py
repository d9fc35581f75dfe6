"""The lesson's pictures: each takes records from nbdiag.stats and an optional axes, and returns the axes.

Called again on the same axes with records of the same layout, a plotter updates its lines in place
(set_data), which is what the widgets rely on to redraw without flicker.
"""

import matplotlib.pyplot as plt
import numpy as np

from .bands import healthy_bands

GUIDE_LOG10_RATIO = -3  # update:data of about 1e-3 is the lecture's rule of thumb
WIDTH = 9  # inches of a new figure: a notebook column at 100 dpi (the lecture's 20 is wider than any page)


def _axes(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(WIDTH, 4), layout="constrained")
    return ax


def _draw(ax, series, title, guide=None):
    """Draw (label, x, y, nonfinite) series as lines, reusing ax's lines when the layout matches."""
    labels = [s[0] + (f" ({s[3]} non-finite left out)" if s[3] else "") for s in series]
    lines = [line for line in ax.get_lines() if line.get_gid() == "series"]
    if [line.get_label() for line in lines] != labels:  # another layout: start afresh
        ax.clear()
        lines = [ax.plot([], [], label=label, gid="series")[0] for label in labels]
        if guide is not None:
            ax.axhline(guide, color="k", gid="guide", zorder=1.5)  # under the data lines, which cross it
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


def plot_update_ratios(histories, ax=None, step=None):
    """Needs stats.update_ratio_history(run); the black line marks update:data = 1e-3, a dotted one `step`."""
    series = []
    for h in histories:
        y = np.asarray(h.log10_ratio, dtype=float)
        series.append((h.label, np.arange(len(y), dtype=float), y, int((~np.isfinite(y)).sum())))
    ax = _draw(_axes(ax), series, "update:data ratio (log10)", guide=GUIDE_LOG10_RATIO)
    for line in ax.get_lines():
        if line.get_gid() == "series":  # after one step each line is a single point: mark it, or nothing shows
            line.set_marker("o" if len(line.get_xdata()) == 1 else "None")
    ax.xaxis.get_major_locator().set_params(integer=True, min_n_ticks=1)  # whole steps, even after one step
    ax.set_xlabel("step")
    mark_step(ax, step)
    return ax


def mark_step(ax, step):
    """A dotted vertical line at `step` on ax (None: none), moved in place when there is one already."""
    marker = next((line for line in ax.get_lines() if line.get_gid() == "step"), None)
    if step is None:
        if marker is not None:
            marker.remove()
    elif marker is None:
        # under the data lines, and short of the axes' edges, where a full render draws the frame over it
        ax.axvline(step, ymin=0.02, ymax=0.98, color="0.35", ls=":", lw=1.5, gid="step", zorder=1.6)
    else:
        marker.set_xdata([step, step])
    return ax


# -- over training time, theory next to measurement, healthy bands


def shade_healthy_bands(ax, band):
    """Shade bands.healthy_bands()[band] on ax and keep it in view: 'update_ratio' or 'saturation' (y ranges),
    'tanh_output' (x range); band None removes the shading. Called again with the same band it leaves the shading
    as it is: one band (two would darken it), the same artist (a redraw in place repaints nothing new).

    The shading's gid is 'healthy_band:<band>', which is how a later call finds it."""
    bands = healthy_bands()
    if band is not None and band not in bands:
        raise ValueError(f"band must be one of {', '.join(bands)}, got {band!r}")
    shaded = [p for p in ax.patches if (p.get_gid() or "").startswith("healthy_band:")]
    if band is not None and [p.get_gid() for p in shaded] == [f"healthy_band:{band}"]:
        return ax
    for patch in shaded:
        patch.remove()
    if band is not None:
        low, high = bands[band].low, bands[band].high
        span = ax.axvspan if band == "tanh_output" else ax.axhspan
        span(low, high, color="tab:green", alpha=0.12, zorder=0, gid=f"healthy_band:{band}", lw=0)
        ax.autoscale_view()  # the whole band in view now (the span added its range to the data limits)
    return ax


def _layer_record(records, layer):
    """The LayerOverTime of `layer`: its index in the model (1, 3, ...) or its label ('layer 1 (Tanh)')."""
    for r in records:
        if layer in (r.index, r.label):
            return r
    raise ValueError(f"layer {layer!r} has no snapshots; choose from {', '.join(str(r.index) for r in records)}")


def _step_edges(steps):
    """Edges between snapshot steps for pcolormesh: halfway between neighbours, half a gap beyond the ends."""
    steps = np.asarray(steps, dtype=float)
    if len(steps) == 1:
        return np.array([steps[0] - 0.5, steps[0] + 0.5])
    mid = (steps[1:] + steps[:-1]) / 2
    return np.concatenate([[steps[0] - (mid[0] - steps[0])], mid, [steps[-1] + (steps[-1] - mid[-1])]])


def plot_activation_over_time(records, layer, ax=None, step=None):
    """Needs stats.activations_over_time(run): one layer's output histograms as an image, step on x, value on y,
    log10 density as colour (white: no value there), `step` marked. Redrawn on the same ax with the same shape,
    it updates in place."""
    r = _layer_record(records, layer)
    ax = _axes(ax)
    with np.errstate(divide="ignore"):
        logd = np.log10(r.density.T)  # (bins, snapshots)
    logd = np.ma.masked_invalid(np.where(np.isfinite(logd), logd, np.nan))
    gid = f"over_time:{r.label}"  # the mesh says which layer it draws
    mesh = next((c for c in ax.collections if (c.get_gid() or "").startswith("over_time:")), None)
    if mesh is not None and mesh.get_array().shape == logd.shape and mesh.get_gid() == gid:
        mesh.set_array(logd)
        mesh.autoscale()
    else:
        if mesh is not None and mesh.colorbar is not None:  # matplotlib's link from a mappable to its colorbar
            mesh.colorbar.remove()
        ax.clear()
        mesh = ax.pcolormesh(_step_edges(r.steps), r.edges, logd, cmap="viridis", gid=gid)
        ax.figure.colorbar(mesh, ax=ax, label="log10 density")
    ax.set_xlabel("step")
    ax.set_ylabel("output value")
    beyond = r.outside.max()
    ax.set_title(
        f"{r.label} over training"
        + (f" — up to {beyond:.1f}% beyond the bins, drawn at the edges" if beyond > 0 else "")
    )
    return mark_step(ax, step)


def plot_stat_over_time(records, what, ax=None, step=None):
    """Needs stats.activations_over_time(run): each layer's output `what` ('mean', 'std' or 'saturated', in %) at
    every snapshot step, `step` marked. Redrawn on the same ax with the same layers, it updates in place."""
    titles = {"mean": "output mean", "std": "output std", "saturated": "output saturated (%)"}
    if what not in titles:
        raise ValueError(f"what must be one of {', '.join(titles)}, got {what!r}")
    series = []
    for r in records:
        y = np.asarray({"mean": r.mean, "std": r.std, "saturated": r.saturated}[what], dtype=float)
        series.append((r.label, np.asarray(r.steps, dtype=float), y, int((~np.isfinite(y)).sum())))
    ax = _draw(_axes(ax), series, f"{titles[what]} over training")
    for line in ax.get_lines():
        if line.get_gid() == "series":
            line.set_marker(".")
    ax.set_xlabel("step")
    return mark_step(ax, step)


def plot_layer_stats_over_time(records, ax=None, step=None):
    """Needs stats.activations_over_time(run): each layer's output mean, std and saturation % over the snapshot
    steps, on three axes (pass a sequence of three as ax, or get a new figure); the saturation's healthy band
    is shaded, `step` marked. Returns the three axes."""
    if ax is None:
        _, ax = plt.subplots(1, 3, figsize=(WIDTH, 3.2), layout="constrained")
    if len(ax) != 3:
        raise ValueError(f"ax must be three axes (mean, std, saturation), got {len(ax)}")
    for a, what in zip(ax, ("mean", "std", "saturated")):
        plot_stat_over_time(records, what, a, step)
    shade_healthy_bands(ax[2], "saturation")
    return ax


def plot_std_by_layer(runs, ax=None):
    """Needs {label: (stats.activation_stats(run), stats.gradient_stats(run))}: each watched layer's output std
    (first axes) and gradient std (second), from the first layer to the last, one line per run, log y. Returns
    the two axes."""
    if ax is None:
        _, ax = plt.subplots(1, 2, figsize=(WIDTH, 3.5), layout="constrained")
    if len(ax) != 2:
        raise ValueError(f"ax must be two axes (activations, gradients), got {len(ax)}")
    for a, which, title in ((ax[0], 0, "output std per layer"), (ax[1], 1, "gradient std per layer")):
        a.clear()
        for label, records in runs.items():
            std = np.array([s.std for s in records[which]])
            a.plot(np.arange(1, len(std) + 1), np.where(std > 0, std, np.nan), "-o", markersize=2.5, label=label)
        a.set_yscale("log")
        a.set_xlabel("hidden layer (1 = first)")
        a.set_title(title)
        a.legend(fontsize="small")
    return ax


def plot_predicted_std(predicted, activation_stats, gradient_stats, ax=None):
    """Needs stats.predicted_std(config, vocab_size) and the run's stats.activation_stats / gradient_stats: per
    watched layer the std the linear fan_in/gain arithmetic predicts (dashed) over the measured one (solid),
    forward on the first axes and backward on the second, log y. Returns the two axes."""
    if ax is None:
        _, ax = plt.subplots(1, 2, figsize=(WIDTH, 3.5), layout="constrained")
    if len(ax) != 2:
        raise ValueError(f"ax must be two axes (activations, gradients), got {len(ax)}")
    for a, measured, expected, title in (
        (ax[0], activation_stats, [p.activation_std for p in predicted], "activation std per layer"),
        (ax[1], gradient_stats, [p.gradient_std for p in predicted], "gradient std per layer"),
    ):
        a.clear()
        x = [p.index for p in predicted]
        a.plot(x, expected, "--o", color="tab:gray", label="predicted (linear layers)")
        got = {m.index: m.std for m in measured}
        a.plot([i for i in x if i in got], [got[i] for i in x if i in got], "-o", color="tab:blue", label="measured")
        a.set_yscale("log")
        a.set_xticks(x, [f"{p.index}\n{p.kind}" for p in predicted])
        a.set_xlabel("layer")
        a.set_title(title)
        a.legend(fontsize="small")
    return ax


# -- the gain sweep at initialization (nbdiag.sweep): why 5/3

STD_WINDOW = (1e-3, 1e3)  # the std axis: a signal 1000 times weaker or stronger than its input is lost either way


def plot_gain_sweep(sweep, ax=None, highlight=None, gain=None):
    """Needs sweep.sweep_gains(activation): the last hidden layer's output std (log y, STD_WINDOW) and saturated % (0 to 100)
    against the gain, one line per depth (depth `highlight` in bold), calculate_gain's value dashed, `gain` marked (see
    mark_gain). Pass two axes as ax, or get a new figure; redrawn on the same axes with the same depths it updates in
    place. Returns the two axes."""
    if ax is None:
        _, ax = plt.subplots(1, 2, figsize=(WIDTH, 3.5), layout="constrained")
    if len(ax) != 2:
        raise ValueError(f"ax must be two axes (std, saturation), got {len(ax)}")
    gains = np.asarray(sweep.gains, dtype=float)
    stds, shares, left_out = [], [], 0
    for depth in sweep.depths:
        std, share = (np.asarray(t, dtype=float) for t in sweep.at_depth(depth))
        drawable = np.isfinite(std) & (std > 0)  # a log axis has no place for 0 (an underflow) or inf (an overflow)
        left_out += int((~drawable).sum())
        stds.append((f"depth {depth}", gains, np.where(drawable, std, np.nan), 0))
        shares.append((f"depth {depth}", gains, share, int((~np.isfinite(share)).sum())))
    _draw(ax[0], stds, f"{sweep.activation}: std of the last hidden layer (log)", guide=1.0)  # 1: the input's std
    ax[0].set_yscale("log")  # (again after _draw cleared the axes for a new layout)
    ax[0].set_ylim(*STD_WINDOW)  # fixed: what matters is in it, and the lines beyond it run off the edge
    if left_out:
        ax[0].set_title(f"{ax[0].get_title()} — {left_out} zero or non-finite values not drawn")
    _draw(ax[1], shares, f"{sweep.activation}: saturated (%)")
    ax[1].set_ylim(0, 100)  # every activation on one scale
    label, value = sweep.facts.gain_source, sweep.facts.gain
    for a in ax:
        for line in a.get_lines():
            if line.get_gid() == "series":
                line.set_linewidth(2.6 if line.get_label() == f"depth {highlight}" else 1.3)
        suited = next((line for line in a.get_lines() if line.get_gid() == "suited"), None)
        if suited is None:
            suited = a.axvline(value, color="0.3", ls="--", lw=1.2, gid="suited", zorder=1.5)
        suited.set_xdata([value, value])
        suited.set_label(label)
        a.set_xlabel(f"gain — dashed: {label}")  # under the axes, where no line can hide it
        if a.get_legend() is not None:
            a.get_legend().remove()
    guide = next(line for line in ax[0].get_lines() if line.get_gid() == "guide")
    guide.set_label("std 1, the input's")
    if gain is not None:
        mark_gain(ax, gain)
    # one legend for both, where no line of any activation runs: the saturation's top left, above 60%
    handles = [line for line in ax[0].get_lines() if line.get_gid() in ("series", "guide", "gain")]
    ax[1].legend(handles=handles, loc="upper left", fontsize="small")
    return ax


def mark_gain(ax, gain):
    """A solid vertical line at `gain` on each of the axes `ax` (one or a sequence), moved in place when there is one
    already; gain None removes it."""
    for a in np.atleast_1d(ax):
        marker = next((line for line in a.get_lines() if line.get_gid() == "gain"), None)
        if gain is None:
            if marker is not None:
                marker.remove()
        elif marker is None:
            a.axvline(gain, color="tab:red", lw=1.5, gid="gain", zorder=1.6, label="the chosen gain")
        else:
            marker.set_xdata([gain, gain])
    return ax
