"""nbdiag: see inside a deep MLP as it trains — activations, gradients, grad:data and update:data ratios."""

from .config import Config, ConfigError
from .data import DATA_DIR_ENV, DataError, load_dataset
from .notebook import live_figures
from .train import Run, train
from .watch import watch

__all__ = [
    "Config",
    "ConfigError",
    "DataError",
    "DATA_DIR_ENV",
    "Run",
    "live_figures",
    "load_dataset",
    "train",
    "watch",
]
