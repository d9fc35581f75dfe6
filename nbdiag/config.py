"""The run configuration: every option described once (its Option), and the checks of its values."""

import math
import numbers
from dataclasses import dataclass, field, fields
from fractions import Fraction

ROOT_2 = 2**0.5  # ReLU's and GELU's suited gain, written √2


class ConfigError(ValueError):
    """A configuration value outside what the network can be built or trained with."""


@dataclass(frozen=True)
class Option:
    """One Config field, described once: its validation, its command-line option and its dashboard control
    are all derived from this."""

    help: str  # what it does, in one line: the command line's help and the control's tooltip
    label: str = ""  # the dashboard's name for it (default: the field's name)
    low: int = 1  # a whole-number option's smallest valid value (a float option must be positive and finite)
    high: int = None  # a whole-number option's largest valid value, if it has one
    flag: str = ""  # the command-line option ('--no-tanh' turns a default-on switch off); '' for none
    control: str = ""  # the dashboard control: 'slider', 'log slider', 'box', 'buttons' or, for a bool, 'switch'
    choices: tuple = ()  # a word option's valid values, the first its default
    limits: tuple = ()  # (low, high) of the control, inside the valid range
    step: float = 1  # the slider's step
    live: bool = True  # the control runs while it moves; False: only on release (runs too long to follow a drag)


def _option(default, help, **description):
    return field(default=default, metadata={"option": Option(help, **description)})


@dataclass
class Config:
    """Everything that decides a run; the defaults are the lecture's. Each field's Option (Config.option(name))
    says what it does, what values it takes, and how the command line and the dashboard offer it."""

    # The whole-number options' largest values keep a run within a few GB and a few minutes on a laptop
    n_embd: int = _option(10, "size of each character's embedding vector", high=512)
    n_hidden: int = _option(
        100,
        "neurons in each hidden layer",
        label="neurons per layer",
        high=1024,
        control="slider",
        limits=(10, 500),
        step=10,
    )
    depth: int = _option(5, "number of hidden layers", label="hidden layers", high=50, control="slider", limits=(1, 50))
    gain: float = _option(
        5 / 3,
        "multiplies the initial weights before the last layer; 5/3 suits tanh",
        flag="--gain",
        control="slider",
        limits=(0.2, 5.0),
        step=0.01,
    )
    batchnorm: bool = _option(
        False,
        "a BatchNorm1d after every Linear, before the tanh (the Linears lose their bias)",
        label="batch norm",
        flag="--batchnorm",
        control="switch",
    )
    activation: str = _option(
        "tanh",
        "the non-linearity after every hidden layer; linear: none, a stack of linear layers",
        flag="--activation",
        control="buttons",
        choices=("tanh", "relu", "gelu", "sigmoid", "linear"),
    )
    residual: bool = _option(
        False,
        "residual connections: every hidden block after the first adds its input to its output, x + f(x)",
        label="residual",
        flag="--residual",
        control="switch",
    )
    last_layer_scale: float = _option(
        0.1, "shrinks the last Linear's weight (or last BatchNorm's gamma) for a less confident start"
    )
    fan_in_scaling: bool = _option(
        True,
        "divide the initial weights by sqrt(fan_in) (Kaiming-style)",
        label="fan_in scaling",
        flag="--no-fan-in",
        control="switch",
    )
    optimizer: str = _option(
        "sgd",
        "how a step moves the weights: sgd (the lecture's: -lr x gradient) or adam (per-weight step sizes)",
        flag="--optimizer",
        control="buttons",
        choices=("sgd", "adam"),
    )
    lr: float = _option(
        0.1,
        "the learning rate: the size of each step",
        label="learning rate",
        flag="--lr",
        control="log slider",
        limits=(1e-3, 10.0),
    )
    batch_size: int = _option(32, "examples per step", high=2048)
    steps: int = _option(
        1,
        "optimization steps; the lesson's first tables come after 1",
        label="training steps",
        high=100_000,  # about a minute at the lesson's size; its per-step history is 1e5 x 2 x n_params numbers
        flag="--steps",
        control="slider",
        limits=(1, 3000),
        live=False,
    )
    # the control's largest seed is the largest whole number a browser holds exactly
    seed: int = _option(
        2147483647,
        "seeds the one generator that draws the weights and the minibatches",
        label="random seed",
        low=0,
        high=2**63 - 1,
        flag="--seed",
        control="box",
        limits=(0, 2**53 - 1),
    )

    @staticmethod
    def option(name):
        """The Option describing field `name`."""
        return next(f.metadata["option"] for f in fields(Config) if f.name == name)

    def __post_init__(self):
        if isinstance(self.gain, (str, Fraction)):
            self.gain = parse_number(self.gain, "gain")
        for f in fields(self):  # numpy's numbers too, stored as Python's
            setattr(self, f.name, f.type(check(f.name, vars(self)[f.name])))
        if self.batchnorm and self.batch_size < 2:
            raise ConfigError("batch_size must be >= 2 with batchnorm (the batch variance needs two examples)")


OPTIONS = tuple(f.name for f in fields(Config))
TYPES = {f.name: f.type for f in fields(Config)}  # bool, int, float or str (a word among its Option's choices)


def expected(name):
    """What option `name` takes, in words: 'a whole number >= 1'."""
    type_, option = TYPES[name], Config.option(name)
    if type_ is bool:
        return "True or False"
    if type_ is str:
        return f"one of {', '.join(option.choices[:-1])} or {option.choices[-1]}"
    if type_ is float:
        return "a positive number such as 0.1 or 5/3"
    return (
        f"a whole number >= {option.low}"
        if option.high is None
        else f"a whole number from {option.low} to {option.high}"
    )


def valid(name, value):
    """Whether `value` is one that option `name` takes."""
    type_, option = TYPES[name], Config.option(name)
    if type_ is bool:
        return isinstance(value, bool)
    if type_ is str:
        return isinstance(value, str) and value in option.choices
    if isinstance(value, bool):
        return False
    if type_ is float:
        try:
            return isinstance(value, numbers.Real) and 0 < float(value) < math.inf
        except OverflowError:  # an int beyond float's range
            return False
    return isinstance(value, numbers.Integral) and option.low <= value and (option.high is None or value <= option.high)


def check(name, value):
    """`value`, if option `name` takes it; else a ConfigError naming the option."""
    if name not in TYPES:
        raise ConfigError(f"unknown option {name!r}; the options are {', '.join(OPTIONS)}")
    if not valid(name, value):
        shown = repr(value) if len(repr(value)) <= 40 else f"{repr(value)[:37]}..."
        raise ConfigError(f"{name} must be {expected(name)}, got {shown}")
    return value


def format_number(x):
    """A number as a student writes it: 0.1, 2000, √2 and 5/3 for a gain no short decimal gives exactly (a word as
    it is)."""
    if isinstance(x, (int, str)):
        return str(x)
    if x == ROOT_2:
        return "√2"
    if not math.isfinite(x):
        return str(x)
    if float(f"{x:g}") == x:
        return f"{x:g}"
    fraction = Fraction(x).limit_denominator(12)
    return f"{fraction.numerator}/{fraction.denominator}" if float(fraction) == x else f"{x:g}"


def parse_number(text, name):
    """A number from text such as '5/3', '√2', '0.5' or '1e-3', or a ConfigError naming `name`."""
    text = str(text).strip()
    if text == "√2":
        return ROOT_2
    try:
        return float(Fraction(text))
    except (ValueError, ZeroDivisionError):
        raise ConfigError(f"{name} must be a number or a fraction like 5/3, got {text!r}") from None
    except OverflowError:
        raise ConfigError(f"{name} must be a number float can hold (below about 1.8e308), got {text!r}") from None
