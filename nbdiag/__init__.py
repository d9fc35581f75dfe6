"""nbdiag: see inside a deep MLP as it trains — activations, gradients, grad:data and update:data ratios."""

from .data import DATA_DIR_ENV, DataError, load_dataset
from .train import Config, ConfigError, Run, train
from .watch import watch

__all__ = ["Config", "ConfigError", "DataError", "DATA_DIR_ENV", "Run", "load_dataset", "train", "watch"]
