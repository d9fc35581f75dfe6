"""The model a Config builds, and the instrumented training loop."""

import math
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from . import status
from .activations import reads_input
from .config import Config
from .data import load_dataset
from .layers import ACTIVATIONS, MLP, Add, BatchNorm1d, Linear, lesson_watched, plan
from .records import LayerRecord, ParamRecord
from .snapshots import MAX_SNAPSHOTS, Snapshots

PROGRESS_MIN_STEPS = 500  # runs at least this long show a progress bar


def build_model(config, vocab_size, generator):
    """The lecture's MLP as layers.plan lays it out, drawing C and then each Linear's weight from `generator`."""
    C = torch.randn((vocab_size, config.n_embd), generator=generator)
    layers = []
    for p in plan(config, vocab_size):
        if p.kind == "Linear":  # batchnorm's beta does the bias's job
            layer = Linear(
                p.fan_in,
                p.fan_out,
                bias=not config.batchnorm,
                generator=generator,
                fan_in_scaling=config.fan_in_scaling,
            )
            layer.weight *= p.scale
        elif p.kind == "BatchNorm1d":
            layer = BatchNorm1d(p.fan_out)
            layer.gamma *= p.scale
        elif p.kind == "Add":
            layer = Add(layers[p.source])
        else:
            layer = ACTIVATIONS[config.activation]()
        layers.append(layer)
    model = MLP(C, layers)
    for p in model.parameters():
        p.requires_grad = True
    return model


class Adam:
    """Adam (Kingma and Ba, 2015): each weight steps by its gradient's running mean over its running root mean
    square, so every weight moves by about lr per step whatever the scale of its gradient."""

    def __init__(self, params, lr, betas=(0.9, 0.999), eps=1e-8):
        self.lr, self.betas, self.eps, self.t = lr, betas, eps, 0
        self.m = [torch.zeros_like(p) for p in params]  # running mean of each gradient
        self.v = [torch.zeros_like(p) for p in params]  # running mean of its square

    def step(self, grads):
        """The change each parameter gets for these gradients."""
        (b1, b2), self.t = self.betas, self.t + 1
        updates = []
        for m, v, g in zip(self.m, self.v, grads):
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            m_hat, v_hat = m / (1 - b1**self.t), v / (1 - b2**self.t)  # unbiased: both start at zero
            updates.append(-self.lr * m_hat / (v_hat.sqrt() + self.eps))
        return updates


@dataclass
class Run:
    """What a training run leaves for the diagnostics (a records.RunRecord): per-step scalars and the last step in
    full."""

    config: Config
    losses: torch.Tensor  # (steps_done,) training loss at each step
    update_ratios: torch.Tensor  # (steps_done, n_params) log10(std(lr * grad) / std(param)) at each step
    layers: list[LayerRecord] = field(default_factory=list)  # LayerRecord per layer, at the last step
    watched: tuple[int, ...] = ()  # indices of the layers the lesson inspects (layers.lesson_watched)
    params: list[ParamRecord] = field(default_factory=list)  # ParamRecord per parameter, at the last step
    # the step whose loss was not finite, or whose update left a weight inf or nan (its loss is finite), if any: the
    # run stopped there
    diverged_at: int | None = None
    snapshots: Snapshots | None = None  # the watched layers and weights at a schedule of steps, if train was asked
    saturation_threshold = None  # train's runs count saturation by the per-kind rules of nbdiag.activations

    @property
    def lr(self):
        return self.config.lr

    @property
    def steps_done(self):
        return len(self.losses)

    @property
    def diverging_from(self):
        """The step from which the loss, finite, has stayed far above its start (status.diverging_from), or None."""
        return status.diverging_from(self.losses)

    @property
    def status(self):
        """One line saying how the run ended: trained, diverging or diverged (nbdiag.status)."""
        return status.status(self)


def train(config, dataset=None, progress=None, snapshots=None, max_snapshots=MAX_SNAPSHOTS):
    """Train the lecture's MLP with SGD as `config` says, recording what the diagnostics need.

    The generator draws C, then each Linear's weight, then one minibatch per step, so the numbers
    are the lecture's. Only per-step scalars are kept, so memory does not grow with the steps
    beyond those. `progress` (default: on for runs of PROGRESS_MIN_STEPS or more) shows a bar.
    `snapshots` (every N steps, or "log"; default off) also keeps the watched layers' output and gradient
    histograms with their mean/std/saturation, and the weights' gradient histograms, at those steps in
    run.snapshots, at most `max_snapshots` of them (see snapshots.Snapshots); they only read the outputs and
    gradients, so the run's numbers are the same with or without them.
    """
    dataset = dataset if dataset is not None else load_dataset()
    recorder = None if snapshots is None else Snapshots(snapshots, max_snapshots, last_step=config.steps - 1)
    with one_thread():
        return _train(config, dataset, progress, recorder)


@contextmanager
def one_thread():
    """Run torch on one thread: this model's matrices are so small that a second thread costs more in hand-offs
    than it saves, and on a shared machine (Binder, a class server) waiting threads can make a run 10x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _train(config, dataset, progress, snapshots=None):
    """The lecture's loop: a minibatch, forward, backward, update, and the update:data of every parameter."""
    g = torch.Generator().manual_seed(config.seed)
    model = build_model(config, dataset.vocab_size, g)
    params = model.parameters()
    watched = tuple(lesson_watched([type(layer).__name__ for layer in model.layers], config.activation))
    adam = Adam(params, config.lr) if config.optimizer == "adam" else None
    before = [torch.empty_like(p) for p in params]  # the parameters before the update, should it blow them up
    losses = []  # a Python float per step: cheaper to append than writing into a tensor each step
    # std(update) and std(param) per step; the ratio's division and log10 run once, after the loop
    update_std = torch.empty(config.steps, len(params))  # (steps, n_params)
    data_std = torch.empty(config.steps, len(params))  # (steps, n_params)
    layers = None  # the last step's LayerRecords, once known
    with _progress_bar(config, progress) as steps:
        for i in steps:
            ix = torch.randint(0, dataset.Xtr.shape[0], (config.batch_size,), generator=g)
            loss = F.cross_entropy(model(dataset.Xtr[ix]), dataset.Ytr[ix])
            losses.append(loss.item())
            finite = math.isfinite(losses[-1])
            snapshot = snapshots is not None and snapshots.due(i)
            kept = snapshot or i == config.steps - 1 or not finite  # steps whose records need layer-output grads
            _backward(model, params, loss, retain=kept)
            if snapshot:
                snapshots.add(i, *_live_records(model, params, watched))
            if not finite:  # no update: the run stops at this step
                ratios = (update_std[:i], data_std[:i])
                return _run(config, model, watched, losses, ratios, snapshots, diverged_at=i)
            _update(params, adam, config.lr, before, update_std[i], data_std[i])
            if _blew_up(params, data_std[i]):  # the update left a weight inf or nan: the run stops, with it
                if not kept:
                    layers = _replay(model, params, before, dataset.Xtr[ix], dataset.Ytr[ix])
                ratios = (update_std[: i + 1], data_std[: i + 1])
                return _run(config, model, watched, losses, ratios, snapshots, diverged_at=i, layers=layers)
    return _run(config, model, watched, losses, (update_std, data_std), snapshots)


@contextmanager
def _progress_bar(config, progress):
    """The steps, with a bar for runs of PROGRESS_MIN_STEPS or more (unless `progress` says otherwise)."""
    steps = range(config.steps)
    if not (progress if progress is not None else config.steps >= PROGRESS_MIN_STEPS):
        yield steps
        return
    from tqdm.auto import tqdm

    bar = tqdm(steps, desc="training", unit="step", leave=False)
    try:
        yield bar
    finally:
        bar.close()


def _backward(model, params, loss, retain):
    """loss.backward() into fresh parameter gradients; `retain` also keeps each layer output's gradient (the lesson's
    records need them only at some steps, and keeping them costs time)."""
    if retain:
        for layer in model.layers:
            layer.out.retain_grad()
    for p in params:
        p.grad = None
    loss.backward()


def _update(params, adam, lr, before, update_std, data_std):
    """Step every parameter (SGD's -lr x gradient, or Adam's), keeping a copy of them first in `before`; write the
    std of each update and of each parameter after it."""
    with torch.no_grad():
        grads = [p.grad for p in params]
        # SGD: one multiply for all parameters, instead of a Python loop of them
        updates = adam.step(grads) if adam is not None else torch._foreach_mul(grads, -lr)
        torch._foreach_copy_(before, params)  # one copy: should this update blow them up, _replay starts from it
        torch._foreach_add_(params, updates)
        # the update tensors are the change each parameter gets: update:data is std(update) / std(parameter)
        torch.stack([u.std() for u in updates], out=update_std)
        torch.stack([p.std() for p in params], out=data_std)


def _blew_up(params, data_std):
    """Whether the update left a weight inf or nan: a finite std means finite values; else (an inf or nan, or an std
    that overflowed) look at the values."""
    return not math.isfinite(data_std.sum().item()) and not all(torch.isfinite(p).all() for p in params)


def _replay(model, params, before, x, y):
    """The LayerRecords of a step whose update blew up the weights and that kept no layer-output gradients: its
    forward and backward once more, from the parameters as they were before its update (`before`), then the
    parameters (and their gradients) back as the update left them. Only this step runs again, never the run."""
    after, grads = [p.detach().clone() for p in params], [p.grad for p in params]
    with torch.no_grad():
        torch._foreach_copy_(params, before)
    _backward(
        model, params, F.cross_entropy(model(x), y), retain=True
    )  # batchnorm's running stats, kept in no record, move
    layers = _layer_records(model)
    with torch.no_grad():
        torch._foreach_copy_(params, after)
    for p, grad in zip(params, grads):
        p.grad = grad
    return layers


def _layer_records(model):
    """Every layer's LayerRecord as the last forward and backward left it."""
    return [
        LayerRecord(i, type(l).__name__, l.out.detach(), l.out.grad, input=_input(model, i))
        for i, l in enumerate(model.layers)
    ]


def _input(model, i):
    """Layer i's input, where its saturation rule reads it (activations.reads_input: GELU's): the output of the layer
    before it, as the from-scratch MLP chains them; None elsewhere."""
    return model.layers[i - 1].out.detach() if i > 0 and reads_input(type(model.layers[i]).__name__) else None


def _live_records(model, params, watched):
    """(LayerRecords of the watched layers, ParamRecords), live tensors, for a snapshot to read at once."""
    layers = [
        LayerRecord(
            j, type(model.layers[j]).__name__, model.layers[j].out, model.layers[j].out.grad, input=_input(model, j)
        )
        for j in watched
    ]
    return layers, [ParamRecord(k, tuple(p.shape), p, p.grad) for k, p in enumerate(params)]


def _run(config, model, watched, losses, ratios, snapshots, diverged_at=None, layers=None):
    """The Run the loop leaves: `ratios` (update std, data std) per step, the last step's layers (`layers`, or as
    the model holds them) and every parameter as it ends."""
    update_std, data_std = ratios
    return Run(
        config=config,
        losses=torch.tensor(losses),
        update_ratios=(update_std / data_std).log10(),  # the same numbers as dividing step by step
        diverged_at=diverged_at,
        snapshots=snapshots,
        layers=layers if layers is not None else _layer_records(model),
        watched=watched,
        params=[ParamRecord(i, tuple(p.shape), p.detach().clone(), p.grad) for i, p in enumerate(model.parameters())],
    )
