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
update:data per parameter), besides copies of the parameters from up to BATCH_STEPS recent steps (at most
SNAPSHOT_NUMBERS numbers, or two copies of a bigger model) and the last step's layer outputs and gradients; with
snapshots=N, also at most max_snapshots histograms of each watched layer and weight (see nbdiag.snapshots).
Forward passes run with gradients off (evaluation under torch.no_grad()) are not recorded. A layer that returns a
tuple (nn.LSTM, nn.MultiheadAttention) is recorded by the first tensor in it (the output sequence, the attention
output); one that returns a dict by its first tensor entry, with a warning naming the key. When a layer runs more
than once in a step (an evaluation batch with gradients on, gradient accumulation), the step records the last pass
whose output received a gradient, i.e. the one the loss came from (keeping at most MAX_PASSES passes meanwhile); a
module used twice for one loss is recorded at its last call, with a warning.
"""

import functools
import math
import numbers
import warnings
from collections.abc import Mapping

import torch
from torch import nn

from .health import diverging_from, diverging_status, finished_status
from .records import LayerRecord, ParamRecord
from .snapshots import MAX_SNAPSHOTS, Snapshots

BATCH_STEPS = 32  # update:data of up to this many steps are computed together (a few big operations, not many small)
SNAPSHOT_NUMBERS = 2**22  # ... as long as their parameter copies hold at most this many numbers (16 MB in float32)
MAX_PASSES = 8  # forward passes of one layer kept within a step, to find the one whose output received a gradient
ACTIVATIONS = (
    nn.Tanh,
    nn.Sigmoid,
    nn.ReLU,
    nn.GELU,
    nn.SiLU,
    nn.LeakyReLU,
    nn.ELU,
    nn.ReLU6,
    nn.Hardtanh,
    nn.Softplus,
    nn.Mish,
    nn.SELU,
    nn.CELU,
    nn.PReLU,
    nn.Softsign,
    nn.Hardswish,
    nn.Hardsigmoid,
)


class LayerTap:
    """One watched layer: its forward hook keeps the output of each pass in a step, and `close_step` picks the one
    the step records (the pass whose output received a gradient) with that gradient."""

    def __init__(self, index, name, module):
        self.index, self.name, self.module = index, name, module  # as in model.named_modules()
        self.pending = None  # the output of the step's latest forward pass with gradients on
        # (out, no gradient yet when the next pass began) of the step's earlier passes: an evaluation batch,
        # gradient accumulation, a module used twice (all rare)
        self.earlier = []
        self.unread = None  # why its output could not be read (no tensor in it)
        self.warned = set()  # warned about once: 'dict', 'no grad', 'reused'

    def __str__(self):
        return f"layer {self.name or self.index!r} ({type(self.module).__name__})"

    def hook(self, module, inputs, out):
        if not torch.is_grad_enabled():
            return  # evaluation: not a training step
        if not (isinstance(out, torch.Tensor) and out.is_floating_point()):
            out = self._signal(out)  # a tuple, a dict, ...: the tensor that carries the signal, or None
            if out is None:
                return
        if self.pending is not None:  # the layer ran before in this step
            self.earlier.append((self.pending, self.pending.grad is None))
            del self.earlier[:-MAX_PASSES]
        self.pending = out
        if out.requires_grad:
            out.retain_grad()  # backward leaves d loss / d out in out.grad

    def _signal(self, out):
        """The tensor to record of an output that is not one float tensor: the first in a tuple (an LSTM's output
        sequence, attention's output), the first entry of a dict (with a warning naming its key); else None."""
        if isinstance(out, Mapping):
            for key, value in out.items():
                tensor = _first_tensor(value)
                if tensor is not None:
                    if "dict" not in self.warned:
                        self.warned.add("dict")
                        warnings.warn(
                            f"nbdiag.watch: {self} returns a dict; its records are of entry "
                            f"{key!r} (the first tensor in it); watch another layer with layers=[...] if that "
                            "is not the one you want",
                            stacklevel=3,
                        )
                    return tensor
        else:
            tensor = _first_tensor(out)
            if tensor is not None:
                return tensor
        kind = "no float tensor" if isinstance(out, (Mapping, tuple, list, torch.Tensor)) else "no tensor"
        self.unread = f"its output ({type(out).__name__}) holds {kind} to record"
        return None

    def close_step(self):
        """(out, grad) of the pass the step records, or (None, None); the next step starts afresh."""
        out, earlier = self.pending, self.earlier
        self.pending, self.earlier = None, []
        if not earlier or out is None:
            return out, (None if out is None else out.grad)
        passes = [*earlier, (out, False)]
        # a pass with no gradient yet when the next began, both with one now: one backward reached both, so the
        # module runs more than once for one loss (a module used twice), and only its last call is recorded
        if "reused" not in self.warned and any(
            fresh and a.grad is not None and b.grad is not None for (a, fresh), (b, _) in zip(passes, passes[1:])
        ):
            self.warned.add("reused")
            warnings.warn(
                f"nbdiag.watch: {self} runs more than once for one loss (a module used twice, or two "
                "batches in one loss); its records are of its last call. Give each use its own module (e.g. a new "
                "nn.ReLU() each time) to watch each",
                stacklevel=4,
            )
        for candidate, _ in reversed(passes):
            if candidate.grad is not None:
                return candidate, candidate.grad
        if out.requires_grad and "no grad" not in self.warned:
            self.warned.add("no grad")
            warnings.warn(
                f"nbdiag.watch: {self} ran {len(earlier) + 1} forward passes in one step and none "
                "received a gradient; its records are of the last pass, without gradient. Call rec.step(loss) "
                "after loss.backward()",
                stacklevel=4,
            )
        return out, None


class Recording:
    """What `watch` records: a records.RunRecord, as a train.Run is, built by hooks and `step()`."""

    config = None  # no nbdiag Config trained this model

    def __init__(self, model, lr=None, layers=None, saturation=None, snapshots=None, max_snapshots=MAX_SNAPSHOTS):
        if not isinstance(model, nn.Module):
            raise TypeError(f"watch needs a torch.nn.Module, got {type(model).__name__}")
        if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < math.inf):
            raise ValueError(f"lr must be a positive number (the learning rate, used in advice) or None, got {lr!r}")
        if saturation is not None and (
            isinstance(saturation, bool) or not isinstance(saturation, (int, float)) or not 0 < saturation < math.inf
        ):
            raise ValueError(f"saturation must be a positive threshold on |output| or None, got {saturation!r}")
        self.lr, self.saturation_threshold = lr, saturation
        # the watched layers' histograms at a schedule of steps, as train(..., snapshots=N) keeps them
        self.snapshots = None if snapshots is None else Snapshots(snapshots, max_snapshots, threshold=saturation)
        named = list(model.named_modules())
        named = named[1:] if len(named) > 1 else named  # the layers are the submodules; a bare layer is its own
        self._taps = [LayerTap(*chosen) for chosen in _choose_layers(model, named, layers)]
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
                    LayerRecord(tap.index, type(tap.module).__name__, out, grad, tap.name)
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
            LayerRecord(tap.index, type(tap.module).__name__, out.detach().cpu(), _cpu(grad), tap.name)
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
        """The step from which the loss, finite, has stayed far above its start (health.diverging_from), or None."""
        return diverging_from(self.losses)

    @property
    def status(self):
        """One line saying how the recording ended."""
        if not self._losses:
            return "no step recorded yet: call rec.step(loss) after each optimizer.step()"
        loss = self._losses[-1]
        if self.diverged_at is None:
            start = self.diverging_from
            if start is None:
                return finished_status("recorded", self.steps_done, loss)
            return diverging_status(
                self.losses, start, f"lr {self.lr:g}" if self.lr is not None else "the learning rate"
            )
        if self.diverged_at == 0:
            return (
                f"the loss was {loss} at step 0, before any update: look at the input, the initial weights "
                f"or the loss function; recording stopped there"
            )
        lr = f"lr {self.lr:g}" if self.lr is not None else "the learning rate"
        return (
            f"diverged at step {self.diverged_at}: the loss became {loss} ({lr} is probably too large); "
            f"recording stopped there"
        )


class UpdateRatios:
    """log10 update:data of every parameter at every step: std(the change the optimizer really made) / std(param).

    Each step copies the parameters, flattened and grouped by size, into a row of a buffer; the ratios of a batch
    of up to BATCH_STEPS steps are then computed at once, so a step costs one copy, not dozens of small reductions.
    """

    def __init__(self, params):
        self.params = params
        device = params[0].device
        dtype = functools.reduce(torch.promote_types, [p.dtype for p in params], torch.float32)
        self._ratios = torch.empty(64, len(params), dtype=dtype, device=device)  # grows by doubling
        self._done = 0  # steps whose ratios are in self._ratios[:_done]
        order = sorted(range(len(params)), key=lambda i: params[i].numel())  # stable
        self._order = torch.tensor(order, dtype=torch.long, device=device)
        self._ordered = [params[i] for i in order]
        self._views, self._addresses = None, None  # flat views of self._ordered, and where their data was
        sizes = [params[i].numel() for i in order]
        self._groups, start = [], 0  # (start, count, numel) of each run of equal sizes in a row
        for n in sorted(set(sizes)):
            k = sizes.count(n)
            self._groups.append((start, k, n))
            start += k * n
        self._batch = max(1, min(BATCH_STEPS, SNAPSHOT_NUMBERS // start - 1))
        # row 0: the parameters before the first step not yet computed; row j: after the j-th such step
        self._copies = torch.empty(self._batch + 1, start, dtype=dtype, device=device)
        self._pending = 0  # steps copied but not computed

    def start(self):
        """Copy the parameters as they are before the first step."""
        self._flatten(self._copies[0])

    def step(self):
        """Copy the parameters after a step's update; False if that was the first step and it changed nothing."""
        self._pending += 1
        self._flatten(self._copies[self._pending])
        unchanged = self._done == 0 and self._pending == 1 and torch.equal(self._copies[0], self._copies[1])
        if self._pending == self._batch:
            self._compute()
        return not unchanged

    def ratios(self):
        """(steps, n_params) on the CPU, in float32."""
        self._compute()
        return self._ratios[: self._done].float().cpu().clone()

    def latest(self):
        """Each parameter's value as the last step left it, in the model's order (views into the buffer)."""
        data, start, latest = [None] * len(self.params), 0, self._copies[self._pending]
        for i in self._order.tolist():
            p = self.params[i]
            data[i] = latest[start : start + p.numel()].view(p.shape)
            start += p.numel()
        return data

    def _flatten(self, out):
        """Write the parameters' values into `out` (total numel,), one after another in self._order."""
        # flat views made once (making a dozen views costs more than copying the lesson's MLP), made again
        # if a parameter's data moved (p.data = ..., as torch.nn.utils.vector_to_parameters does)
        addresses = [p.data_ptr() for p in self._ordered]
        if addresses != self._addresses:
            self._addresses = addresses
            contiguous = all(p.is_contiguous() for p in self._ordered)  # else reshape copies: no view to keep
            self._views = [p.detach().view(-1) for p in self._ordered] if contiguous else None
        if self._views is None:
            with torch.no_grad():
                return torch.cat([p.reshape(-1) for p in self._ordered], out=out)
        return torch.cat(self._views, out=out)

    def _compute(self):
        """The ratios of the steps whose copies wait in the buffer."""
        m = self._pending
        if m == 0:
            return
        with torch.no_grad():
            after = self._copies[1 : m + 1]  # (m, numel) the parameters after each step
            change = after - self._copies[:m]  # what the optimizer really did
            # log10(std(change) / std(param after the update)), as the lesson defines update:data; both stds
            # divide by the same sqrt(numel - 1), so the norms of the deviations from the mean give the ratio
            dev = [
                torch.cat([_deviation(x[:, s : s + k * n].view(m, k, n)) for s, k, n in self._groups], dim=1)
                for x in (change, after)
            ]  # 2 x (m, n_params) in self._order
            while self._done + m > len(self._ratios):
                self._ratios = torch.cat([self._ratios, torch.empty_like(self._ratios)])
            self._ratios[self._done : self._done + m, self._order] = (dev[0] / dev[1]).log10()  # one element: 0/0 = NaN
            self._copies[0].copy_(self._copies[m])
        self._done, self._pending = self._done + m, 0


def _deviation(x):
    """(m, k, n) -> (m, k): the norm of each row's deviations from its mean, i.e. std * sqrt(n - 1)."""
    return torch.linalg.vector_norm(x - x.mean(-1, keepdim=True), dim=-1)


def _first_tensor(out, depth=0):
    """The first float tensor in `out`, looking into nested tuples and lists (a PackedSequence's data); or None."""
    if isinstance(out, torch.Tensor):
        return out if out.is_floating_point() else None
    if isinstance(out, (tuple, list)) and depth < 3:
        for item in out:
            tensor = _first_tensor(item, depth + 1)
            if tensor is not None:
                return tensor
    return None


def _cpu(t):
    """Records live on the CPU, where nbdiag.stats (torch.histogram) can read them."""
    return None if t is None else t.cpu()


def watch(model, lr=None, layers=None, saturation=None, snapshots=None, max_snapshots=MAX_SNAPSHOTS):
    """Record the lesson's diagnostics of `model` while you train it: `with watch(model) as rec:`, `rec.step(loss)`.

    lr: your learning rate, only so the advice can name a better one. layers: which layers' outputs to
    watch — a list of submodules or their names (as in model.named_modules()), or a module class such as
    nn.Linear; by default every activation (Tanh, ReLU, ...), or every Linear but the last if there are
    none, or else every layer with a weight of its own (LSTM, Conv2d, ...) but the last. A layer's output
    is a tensor, or the first tensor of a tuple (an LSTM's output sequence) or of a dict (see Recording).
    saturation: count |output| > this as saturated in every watched layer, instead of the per-kind
    rules of nbdiag.stats.saturated (|t| > 0.97 for Tanh, t == 0 for ReLU, ...). snapshots: also keep the
    watched layers' and weights' histograms every N steps (or "log"), at most max_snapshots of them, for
    stats.activations_over_time(rec), stats.pictures_at(rec, step) and the dashboard's step slider; as the
    number of steps is not known ahead, the last step is kept only if the schedule takes it.
    """
    return Recording(
        model, lr=lr, layers=layers, saturation=saturation, snapshots=snapshots, max_snapshots=max_snapshots
    )


def _weight_layers(indexed):
    """The modules that hold a weight (a parameter of 2 or more dimensions) of their own: Conv2d, LSTM,
    MultiheadAttention, Embedding, ...; not those inside another one (attention's out_proj never runs a forward)."""
    chosen = []
    for t in indexed:
        if any(p.dim() >= 2 for p in t[2].parameters(recurse=False)):
            if not any(t[1].startswith(f"{c[1]}.") or not c[1] for c in chosen):
                chosen.append(t)
    return chosen


def _choose_layers(model, named, layers):
    """[(index, name, module)] of the layers to watch, in the model's order."""
    indexed = [(i, name, m) for i, (name, m) in enumerate(named)]
    if layers is None:
        chosen = [t for t in indexed if isinstance(t[2], ACTIVATIONS)]
        if not chosen:  # a network without activations: its Linear layers, the output layer aside, as the lesson
            chosen = [t for t in indexed if isinstance(t[2], nn.Linear)][:-1]
        if not chosen:  # nor two Linear layers (an LSTM or a convolution and a Linear head): its weight layers
            chosen = _weight_layers(indexed)
            chosen = chosen[:-1] if len(chosen) > 1 else chosen  # the output layer aside, unless it is the only one
        if not chosen:
            raise ValueError(
                "watch found no activation, Linear or other weight layer to watch; pass layers=[...] "
                "(submodules or names from model.named_modules())"
            )
        return chosen
    if isinstance(layers, type) or (isinstance(layers, tuple) and all(isinstance(t, type) for t in layers)):
        chosen = [t for t in indexed if isinstance(t[2], layers)]
        if not chosen:
            raise ValueError(f"layers={layers!r}: the model has no module of that type")
        return chosen
    if isinstance(layers, (str, nn.Module)):
        layers = [layers]
    by_name = {t[1]: t for t in indexed}
    by_id = {id(t[2]): t for t in indexed}
    chosen = []
    for layer in layers:
        if isinstance(layer, str):
            if layer not in by_name:
                known = ", ".join(repr(n) for n in list(by_name)[:8])
                raise ValueError(f"layers: the model has no module named {layer!r}; its names include {known}")
            chosen.append(by_name[layer])
        elif isinstance(layer, nn.Module):
            if id(layer) not in by_id:
                raise ValueError(f"layers: {type(layer).__name__} module is not part of the watched model")
            chosen.append(by_id[id(layer)])
        else:
            raise ValueError(f"layers must hold modules or their names, got {type(layer).__name__}")
    return sorted(set(chosen), key=lambda t: t[0])
