"""From-scratch layers of the lecture's MLP (each keeps its last output in `.out`), and the plan that lays them out."""

from dataclasses import dataclass

import torch

from .data import BLOCK_SIZE


class Linear:
    """y = x @ W + b, with W drawn from the given generator and scaled by 1/sqrt(fan_in)."""

    def __init__(self, fan_in, fan_out, bias=True, generator=None, fan_in_scaling=True):
        self.weight = torch.randn((fan_in, fan_out), generator=generator)  # (fan_in, fan_out)
        if fan_in_scaling:
            self.weight /= fan_in**0.5
        self.bias = torch.zeros(fan_out) if bias else None

    def __call__(self, x):
        self.out = x @ self.weight  # (B, fan_out)
        if self.bias is not None:
            self.out = self.out + self.bias
        return self.out

    def parameters(self):
        return [self.weight] + ([] if self.bias is None else [self.bias])


class BatchNorm1d:
    """Normalize each feature over the batch, then scale by gamma and shift by beta."""

    def __init__(self, dim, eps=1e-5, momentum=0.1, unbiased=True):
        self.eps, self.momentum, self.unbiased = eps, momentum, unbiased
        self.training = True
        self.gamma = torch.ones(dim)  # learned scale
        self.beta = torch.zeros(dim)  # learned shift
        self.running_mean = torch.zeros(dim)  # buffers used in eval mode
        self.running_var = torch.ones(dim)

    def __call__(self, x):
        if self.training:
            xmean = x.mean(0, keepdim=True)  # (1, dim)
            xvar = x.var(0, keepdim=True, unbiased=self.unbiased)  # the lecture uses the unbiased variance
        else:
            xmean, xvar = self.running_mean, self.running_var
        xhat = (x - xmean) / torch.sqrt(xvar + self.eps)  # (B, dim)
        self.out = self.gamma * xhat + self.beta
        if self.training:
            with torch.no_grad():
                m = self.momentum
                # torch.nn.BatchNorm1d always tracks the unbiased variance, whichever it normalizes with
                unbiased_var = xvar if self.unbiased else xvar * x.shape[0] / (x.shape[0] - 1)
                self.running_mean = (1 - m) * self.running_mean + m * xmean.squeeze(0)
                self.running_var = (1 - m) * self.running_var + m * unbiased_var.squeeze(0)
        return self.out

    def parameters(self):
        return [self.gamma, self.beta]


class Activation:
    """A non-linearity: no parameters, applied value by value."""

    def parameters(self):
        return []


class Tanh(Activation):
    """Squash every value into (-1, 1)."""

    def __call__(self, x):
        self.out = torch.tanh(x)
        return self.out


class ReLU(Activation):
    """Keep the positive values, zero the rest."""

    def __call__(self, x):
        self.out = x.clamp(min=0)
        return self.out


class GELU(Activation):
    """x times the chance that a standard normal is below x: a smooth ReLU."""

    def __call__(self, x):
        self.out = 0.5 * x * (1 + torch.erf(x / 2**0.5))
        return self.out


class Sigmoid(Activation):
    """Squash every value into (0, 1)."""

    def __call__(self, x):
        self.out = 1 / (1 + torch.exp(-x))
        return self.out


ACTIVATIONS = {
    "tanh": Tanh,
    "relu": ReLU,
    "gelu": GELU,
    "sigmoid": Sigmoid,
}  # Config.activation's layers ("linear": none)


class Add:
    """x plus the output of an earlier layer: a residual connection's skip."""

    def __init__(self, source):
        self.source = source  # the layer whose output is the block's input

    def __call__(self, x):
        self.out = x + self.source.out  # (B, n_hidden)
        return self.out

    def parameters(self):
        return []


class MLP:
    """The lecture's character MLP: embedding C, then `layers` applied in order, giving logits."""

    def __init__(self, C, layers):
        self.C = C  # (vocab_size, n_embd)
        self.layers = layers

    def __call__(self, X):
        emb = self.C[X]  # (B, block_size, n_embd)
        x = emb.view(emb.shape[0], -1)  # (B, block_size * n_embd)
        for layer in self.layers:
            x = layer(x)
        return x  # (B, vocab_size)

    def parameters(self):
        return [self.C] + [p for layer in self.layers for p in layer.parameters()]


@dataclass
class LayerPlan:
    """One layer of the lecture's MLP before it is drawn: build_model makes it, stats.predicted_std reasons on it."""

    kind: str  # 'Linear', 'BatchNorm1d', an activation's class name ('Tanh', 'ReLU'...) or 'Add'
    fan_in: int
    fan_out: int
    scale: float  # Linear: multiplies the drawn weight (the gain, or the output layer's shrink); BatchNorm1d: gamma
    source: int = None  # Add: the index of the layer whose output it adds (its block's input)


def plan(config, vocab_size):
    """The MLP's layers in order: `depth` blocks of Linear (+ BatchNorm1d) (+ activation), then the output block.

    Without batchnorm the gain multiplies every Linear but the output one, which is shrunk by last_layer_scale;
    with batchnorm the gain multiplies the output Linear too, and the last BatchNorm1d's gamma is shrunk.
    With residual connections every hidden block after the first (whose input is narrower) ends in an Add of
    its input: x + f(x)."""
    layers, fan_in = [], config.n_embd * BLOCK_SIZE
    activation = ACTIVATIONS.get(config.activation)  # None for "linear"
    for i in range(config.depth + 1):
        last = i == config.depth
        fan_out = vocab_size if last else config.n_hidden
        block_input = len(layers) - 1  # the layer whose output this block reads
        shrunk = last and not config.batchnorm
        layers.append(LayerPlan("Linear", fan_in, fan_out, config.last_layer_scale if shrunk else config.gain))
        if config.batchnorm:
            layers.append(LayerPlan("BatchNorm1d", fan_out, fan_out, config.last_layer_scale if last else 1.0))
        if activation is not None and not last:
            layers.append(LayerPlan(activation.__name__, fan_out, fan_out, 1.0))
        if config.residual and 0 < i < config.depth:
            layers.append(LayerPlan("Add", fan_out, fan_out, 1.0, source=block_input))
        fan_in = fan_out
    return layers


def lesson_watched(kinds, activation):
    """Indices of the layers the lesson inspects: every activation layer before the output (with residual
    connections, the activations inside the blocks), or every Linear when there is none ("linear")."""
    kind = ACTIVATIONS[activation].__name__ if activation in ACTIVATIONS else "Linear"
    return [i for i, k in enumerate(kinds[:-1]) if k == kind]
