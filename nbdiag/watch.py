"""Watch any torch.nn model train: the lesson's records (activations, gradients, grad:data, update:data) from hooks.

    with nbdiag.watch(model, lr=0.1) as rec:
        for step in range(1000):
            loss = F.cross_entropy(model(X[ix]), Y[ix])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            rec.step(loss)          # after the update: the step is done

    print(nbdiag.stats.tables(rec))  # rec is a records.RunRecord, as a train.Run is: stats, plots and health take it

Forward hooks keep each watched layer's output and ask autograd to retain its gradient (d loss / d output);
`rec.step(loss)` compares the parameters with their copy from the previous step, so update:data is the
change the optimizer really made (right for Adam and momentum too, not only lr * grad), and it reads each
parameter's gradient then. Memory is bounded: per step only 1 + n_params numbers are kept (the loss and one
update:data per parameter), besides copies of the parameters from up to update_ratios.BATCH_STEPS recent steps (at
most update_ratios.COPY_NUMBERS numbers, or two copies of a bigger model) and the last step's layer outputs and gradients; with
snapshots=N, also at most max_snapshots histograms of each watched layer and weight (see nbdiag.snapshots).
Forward passes run with gradients off (evaluation under torch.no_grad()) are not recorded. A layer that returns a
tuple (nn.LSTM, nn.MultiheadAttention) is recorded by the first tensor in it (the output sequence, the attention
output); one that returns a dict by its first tensor entry, with a warning naming the key. When a layer runs more
than once in a step (an evaluation batch with gradients on, gradient accumulation), the step records the last pass
whose output received a gradient, i.e. the one the loss came from (keeping at most taps.MAX_PASSES passes meanwhile); a
module used twice for one loss is recorded at its last call, with a warning.
"""

import math
import numbers
import warnings

import torch
from torch import nn

from . import status
from .activations import reads_input
from .records import LayerRecord, ParamRecord
from .snapshots import MAX_SNAPSHOTS, Snapshots
from .taps import LayerTap, choose_layers
from .update_ratios import UpdateRatios


class Recording:
    """What `watch` records: a records.RunRecord, as a train.Run is, built by hooks and `step()`."""

    config = None  # no nbdiag Config trained this model

    def __init__(
        self, model, lr=None, layers=None, saturation_threshold=None, snapshots=None, max_snapshots=MAX_SNAPSHOTS
    ):
        if not isinstance(model, nn.Module):
            raise TypeError(f"watch needs a torch.nn.Module, got {type(model).__name__}")
        if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < math.inf):
            raise ValueError(f"lr must be a positive number (the learning rate, used in advice) or None, got {lr!r}")
        threshold = saturation_threshold
        if threshold is not None and (
            isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold < math.inf
        ):
            raise ValueError(
                f"saturation_threshold must be a positive threshold on |output| or None, got {threshold!r}"
            )
        self.lr, self.saturation_threshold = lr, threshold
        # the watched layers' histograms at a schedule of steps, as train(..., snapshots=N) keeps them
        self.snapshots = None if snapshots is None else Snapshots(snapshots, max_snapshots, threshold=threshold)
        named = list(model.named_modules())
        named = named[1:] if len(named) > 1 else named  # the layers are the submodules; a bare layer is its own
        self._taps = [
            LayerTap(index, name, module, keep_input=reads_input(type(module).__name__, saturation_threshold))
            for index, name, module in choose_layers(model, named, layers)
        ]
        self.watched = tuple(tap.index for tap in self._taps)
        self._named_params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self._params = [p for _, p in self._named_params]
        if not self._params:
            raise ValueError("watch found no trainable parameter in the model (none has requires_grad=True)")
        self._handles = []
        self._warned_missing = False  # said once which watched layers a step left out
        self._last = [(None, None)] * len(self._taps)  # each layer's (out, grad) as the last step left them
        self._grads = [None] * len(self._params)  # each parameter's gradient at the last step
        self._losses = []
        self._update_ratios = UpdateRatios(self._params)
        self._state = "new"
        self.diverged_at = None

    # -- recording

    def __enter__(self):
        if self._state != "new":
            raise RuntimeError("a watch records one stretch of training; start a new nbdiag.watch(model) for another")
        self._update_ratios.start()
        try:
            for tap in self._taps:
                self._handles.append(tap.module.register_forward_hook(tap.hook))
        except BaseException:
            self._remove_hooks()
            raise
        self._state = "watching"
        return self

    def __exit__(self, *exc):
        self._remove_hooks()
        self._state = "done"
        if exc[0] is None and not self._losses:
            warnings.warn(
                "nbdiag.watch recorded no step: call rec.step(loss) after each optimizer.step()", stacklevel=2
            )
        return False  # an exception inside the block goes on up

    def _remove_hooks(self):
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def step(self, loss):
        """Close one training step: call after optimizer.step() (or your own update), with that step's loss."""
        if self._state != "watching":
            raise RuntimeError("rec.step(loss) belongs inside the `with nbdiag.watch(model) as rec:` block")
        if isinstance(loss, torch.Tensor):
            if loss.numel() != 1:
                raise ValueError(
                    f"rec.step needs the scalar loss (e.g. loss.mean()), got a tensor of shape {tuple(loss.shape)}"
                )
        elif isinstance(loss, bool) or not isinstance(loss, numbers.Real):
            raise TypeError(f"rec.step needs the loss, a scalar tensor or a number, got {type(loss).__name__}")
        if self.diverged_at is not None:
            return  # records stop at the first non-finite loss, as nbdiag.train's do
        grads = [p.grad for p in self._params]
        if all(g is None for g in grads):
            raise RuntimeError(
                "rec.step(loss) found no gradients: call it after loss.backward() and optimizer.step(), "
                "before the next optimizer.zero_grad()"
            )
        value = loss.item() if isinstance(loss, torch.Tensor) else float(loss)
        i = len(self._losses)
        self._losses.append(value)
        self._last = [tap.close_step() for tap in self._taps]
        self._grads = grads
        if not self._warned_missing and any(out is None for out, _ in self._last):
            self._warn_missing()
        if self.snapshots is not None and self.snapshots.due(i):
            self.snapshots.add(
                i,
                [
                    LayerRecord(tap.index, type(tap.module).__name__, out, grad, tap.name, tap.last_input)
                    for tap, (out, grad) in zip(self._taps, self._last)
                    if out is not None
                ],
                [
                    ParamRecord(k, tuple(p.shape), p, g, name)
                    for k, ((name, p), g) in enumerate(zip(self._named_params, grads))
                ],
            )
        if not math.isfinite(value):
            self.diverged_at = i
            return
        if not self._update_ratios.step() and i == 0:
            warnings.warn(
                "rec.step(loss) saw no parameter change since the watch began: "
                "call it after optimizer.step(), not before",
                stacklevel=2,
            )

    def _warn_missing(self):
        """Say once which watched layers a step left without records, and why."""
        self._warned_missing = True
        why = {}  # reason -> the layers it keeps out
        for tap, (out, _) in zip(self._taps, self._last):
            if out is None:
                reason = tap.unread or "it ran no forward pass with gradients enabled in this step"
                why.setdefault(reason, []).append(str(tap))
        warnings.warn(
            f"nbdiag.watch left {sum(map(len, why.values()))} watched layer(s) out of the records at step "
            f"{len(self._losses) - 1}: "
            + "; ".join(f"{', '.join(layers)}: {reason}" for reason, layers in why.items()),
            stacklevel=3,
        )

    # -- the records (records.RunRecord)

    @property
    def losses(self):
        """(steps_done,) the loss at each step."""
        return torch.tensor(self._losses, dtype=torch.float32)

    @property
    def update_ratios(self):
        """(steps updated, n_params) log10 update:data per step: std(actual change) / std(param after it)."""
        return self._update_ratios.ratios()

    @property
    def layers(self):
        """A LayerRecord per watched layer, with output and output gradient at the last step."""
        return [
            LayerRecord(
                tap.index, type(tap.module).__name__, out.detach().cpu(), _cpu(grad), tap.name, _cpu(tap.last_input)
            )
            for tap, (out, grad) in zip(self._taps, self._last)
            if out is not None
        ]

    @property
    def params(self):
        """A ParamRecord per trainable parameter: its value after the last step, that step's gradient."""
        if self._state == "new":
            return []
        return [
            ParamRecord(i, tuple(p.shape), data.cpu().clone(), _cpu(grad), name)
            for i, ((name, p), data, grad) in enumerate(
                zip(self._named_params, self._update_ratios.latest(), self._grads)
            )
        ]

    @property
    def steps_done(self):
        return len(self._losses)

    @property
    def diverging_from(self):
        """The step from which the loss, finite, has stayed far above its start (status.diverging_from), or None."""
        return status.diverging_from(self.losses)

    @property
    def status(self):
        """One line saying how the recording ended (nbdiag.status), from the losses exactly as rec.step got them."""
        return status.status(self, last_loss=self._losses[-1] if self._losses else None)


def _cpu(t):
    """Records live on the CPU, where nbdiag.stats (torch.histogram) can read them."""
    return None if t is None else t.cpu()


def watch(model, lr=None, layers=None, saturation_threshold=None, snapshots=None, max_snapshots=MAX_SNAPSHOTS):
    """Record the lesson's diagnostics of `model` while you train it: `with watch(model) as rec:`, `rec.step(loss)`.

    lr: your learning rate, only so the advice can name a better one. layers: which layers' outputs to
    watch — a list of submodules or their names (as in model.named_modules()), or a module class such as
    nn.Linear; by default every activation (Tanh, ReLU, ...), or every Linear but the last if there are
    none, or else every layer with a weight of its own (LSTM, Conv2d, ...) but the last. A layer's output
    is a tensor, or the first tensor of a tuple (an LSTM's output sequence) or of a dict (see Recording).
    saturation_threshold: count |output| > this as saturated in every watched layer, instead of the per-kind
    rules of nbdiag.stats.saturated (|t| > 0.97 for Tanh, t == 0 for ReLU, ...). snapshots: also keep the
    watched layers' and weights' histograms every N steps (or "log"), at most max_snapshots of them, for
    stats.activations_over_time(rec), stats.pictures_at(rec, step) and the dashboard's step slider; as the
    number of steps is not known ahead, the last step is kept only if the schedule takes it.
    """
    return Recording(
        model,
        lr=lr,
        layers=layers,
        saturation_threshold=saturation_threshold,
        snapshots=snapshots,
        max_snapshots=max_snapshots,
    )
