"""The layers a watch records: which ones (`choose_layers`), and a LayerTap per layer, whose forward hook keeps its
output and asks autograd for the output's gradient."""

import warnings
from collections.abc import Mapping

import torch
from torch import nn

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

    def __init__(self, index, name, module, keep_input=False):
        self.index, self.name, self.module = index, name, module  # as in model.named_modules()
        self.keep_input = keep_input  # keep each pass's input too (activations.reads_input: GELU's rule reads it)
        self.inputs = {}  # id(out) -> the input of the pass that gave it, while keep_input
        self.last_input = None  # the input of the pass the last closed step recorded, while keep_input
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
        if self.keep_input and inputs and isinstance(inputs[0], torch.Tensor):
            self.inputs[id(out)] = inputs[0].detach()
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
        """(out, grad) of the pass the step records, or (None, None); the next step starts afresh. With keep_input,
        that pass's input is in last_input."""
        out, grad = self._recorded_pass()
        self.last_input = None if out is None else self.inputs.get(id(out))
        self.inputs = {}
        return out, grad

    def _recorded_pass(self):
        """(out, grad) of the pass the step records, or (None, None)."""
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


def _weight_layers(indexed):
    """The modules that hold a weight (a parameter of 2 or more dimensions) of their own: Conv2d, LSTM,
    MultiheadAttention, Embedding, ...; not those inside another one (attention's out_proj never runs a forward)."""
    chosen = []
    for t in indexed:
        if any(p.dim() >= 2 for p in t[2].parameters(recurse=False)):
            if not any(t[1].startswith(f"{c[1]}.") or not c[1] for c in chosen):
                chosen.append(t)
    return chosen


def choose_layers(model, named, layers):
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
