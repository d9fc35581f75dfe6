"""Small torch.nn models and seeded batches, and the one helper that trains a model under nbdiag.watch."""

import torch
import torch.nn.functional as F
from torch import nn

from nbdiag import watch


def small_mlp(activation=nn.Tanh, width=64, depth=3, seed=0, inputs=20, classes=5):
    """`depth` Linear + `activation` blocks and an output Linear, seeded."""
    torch.manual_seed(seed)
    layers, fan_in = [], inputs
    for _ in range(depth):
        layers += [nn.Linear(fan_in, width), activation()]
        fan_in = width
    return nn.Sequential(*layers, nn.Linear(fan_in, classes))


def batches(n, batch_size=64, seed=0, inputs=20, classes=5):
    """`n` seeded batches (x (batch_size, inputs), y (batch_size,) of `classes` classes)."""
    g = torch.Generator().manual_seed(seed)
    for _ in range(n):
        yield torch.randn(batch_size, inputs, generator=g), torch.randint(0, classes, (batch_size,), generator=g)


def train_watched(model, steps, optimizer=torch.optim.SGD, optimizer_lr=0.1, inputs=20, classes=5, **watch_options):
    """Train `model` on `steps` seeded batches inside nbdiag.watch(model, **watch_options); returns the recording."""
    opt = optimizer(model.parameters(), lr=optimizer_lr)
    with watch(model, **watch_options) as rec:
        for x, y in batches(steps, inputs=inputs, classes=classes):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            rec.step(loss)
    return rec
