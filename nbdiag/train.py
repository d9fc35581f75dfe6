"""The model a Config builds, and the instrumented training loop."""

import math
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

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
    """What a training run leaves for the diagnostics: per-step scalars and the last step in full."""

    config: Config
    losses: torch.Tensor  # (steps_done,) training loss at each step
    update_ratios: torch.Tensor  # (steps_done, n_params) log10(std(lr * grad) / std(param)) at each step
    layers: list = field(default_factory=list)  # LayerRecord per layer, at the last step
    watched: tuple = ()  # indices of the layers the lesson inspects (layers.lesson_watched)
    params: list = field(default_factory=list)  # ParamRecord per parameter, at the last step
    # the step whose loss was not finite, or whose update left a weight inf or nan (its loss is finite), if any: the
    # run stopped there
    diverged_at: int = None
    snapshots: Snapshots = None  # the watched layers and weights at a schedule of steps, if train was asked for them
    saturation_threshold = None  # train's runs count saturation by the per-kind rules of nbdiag.activations

    @property
    def lr(self):
        return self.config.lr

    @property
    def steps_done(self):
        return len(self.losses)

    @property
    def diverging_from(self):
        """The step from which the loss, finite, has stayed far above its start (health.diverging_from), or None."""
        from .health import diverging_from  # health reads runs; it does not import train

        return diverging_from(self.losses)

    @property
    def status(self):
        """One line saying how the run ended: trained, diverging (health.diverging_from) or diverged."""
        loss, lr = self.losses[-1].item(), f"lr {self.config.lr:g}"
        if self.diverged_at is None:
            start = self.diverging_from
            if start is None:
                from .health import finished_status

                return finished_status("trained", self.steps_done, loss)
            from .health import diverging_status

            return diverging_status(self.losses, start, lr)
        if math.isfinite(loss):  # the loss was finite; the update after it was not
            what = f"its update made the weights inf or nan ({lr} is probably too large)"
        elif self.diverged_at == 0:  # before any update: the learning rate played no part
            what = (
                f"the loss was {loss} before any update (the initial gain {self.config.gain:g} is probably too large)"
            )
        else:
            what = f"the loss became {loss} ({lr} is probably too large)"
        return f"diverged at step {self.diverged_at}: {what}; stopped there"


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
    g = torch.Generator().manual_seed(config.seed)
    model = build_model(config, dataset.vocab_size, g)
    kinds = [type(layer).__name__ for layer in model.layers]
    watched = lesson_watched(kinds, config.activation)
    params = model.parameters()
    adam = Adam(params, config.lr) if config.optimizer == "adam" else None
    losses = []  # a Python float per step: cheaper to append than writing into a tensor each step
    # std(lr * grad) and std(param) per step; the ratio's division and log10 run once, after the loop
    update_std = torch.empty(config.steps, len(params))  # (steps, n_params)
    data_std = torch.empty(config.steps, len(params))  # (steps, n_params)
    steps = range(config.steps)
    if progress if progress is not None else config.steps >= PROGRESS_MIN_STEPS:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc="training", unit="step", leave=False)
    diverged_at = None
    for i in steps:
        ix = torch.randint(0, dataset.Xtr.shape[0], (config.batch_size,), generator=g)
        logits = model(dataset.Xtr[ix])  # (B, vocab_size)
        loss = F.cross_entropy(logits, dataset.Ytr[ix])
        loss_value = loss.item()
        losses.append(loss_value)
        finite = math.isfinite(loss_value)
        last = i == config.steps - 1 or not finite
        snapshot = snapshots is not None and snapshots.due(i)
        if last or snapshot:  # keep the layer outputs' gradients only where the records need them
            for layer in model.layers:
                layer.out.retain_grad()
        for p in params:
            p.grad = None
        loss.backward()
        if snapshot:
            snapshots.add(
                i,
                [LayerRecord(j, kinds[j], model.layers[j].out, model.layers[j].out.grad) for j in watched],
                [ParamRecord(k, tuple(p.shape), p, p.grad) for k, p in enumerate(params)],
            )
        if not finite:
            diverged_at = i
            update_std, data_std = update_std[:i], data_std[:i]
            break
        with torch.no_grad():
            grads = [p.grad for p in params]
            # SGD: one multiply for all parameters, instead of a Python loop of them
            updates = adam.step(grads) if adam is not None else torch._foreach_mul(grads, -config.lr)
            torch._foreach_add_(params, updates)
            # the update tensors are the change each parameter gets: update:data is std(update) / std(parameter)
            torch.stack([u.std() for u in updates], out=update_std[i])
            torch.stack([p.std() for p in params], out=data_std[i])
        # a finite std means finite values; else (an inf or nan, or an std that overflowed) look at the values
        if not math.isfinite(data_std[i].sum().item()) and not all(torch.isfinite(p).all() for p in params):
            diverged_at = i  # this update left a weight inf or nan: the run stops, with it
            update_std, data_std = update_std[: i + 1], data_std[: i + 1]
            break
    if hasattr(steps, "close"):
        steps.close()
    ratios = (update_std / data_std).log10()  # the same numbers as dividing step by step
    if diverged_at is not None and not (last or snapshot):
        # an update blew up the weights at a step that kept no layer-output gradients (only the last step's are
        # kept, a snapshot's and a non-finite loss's): the same run again to that step, as its last, keeps them
        from dataclasses import replace

        layers = _train(replace(config, steps=diverged_at + 1), dataset, progress=False).layers
    else:
        layers = [LayerRecord(i, type(l).__name__, l.out.detach(), l.out.grad) for i, l in enumerate(model.layers)]
    return Run(
        config=config,
        losses=torch.tensor(losses),
        update_ratios=ratios,
        diverged_at=diverged_at,
        snapshots=snapshots,
        layers=layers,
        watched=tuple(watched),
        params=[ParamRecord(i, tuple(p.shape), p.detach().clone(), p.grad) for i, p in enumerate(params)],
    )
