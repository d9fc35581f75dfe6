"""nbdiag: see inside a deep MLP as it trains — activations, gradients, grad:data and update:data ratios."""
import os

# The same floating-point kernels on every x86 CPU: MKL's AVX2 code path and ATen's AVX2 kernels, read by torch
# when it first computes. With them the lesson's one-step tables come out digit for digit, on an AVX-512 machine
# as on any other; without, the last printed digit depends on the CPU. A value you set yourself wins.
os.environ.setdefault("MKL_CBWR", "AVX2")
os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")

from .data import DATA_DIR_ENV, DataError, load_dataset  # noqa: E402 (after the kernels are chosen)
from .train import Config, ConfigError, Run, train  # noqa: E402
from .watch import watch  # noqa: E402

__all__ = ["Config", "ConfigError", "DataError", "DATA_DIR_ENV", "Run", "load_dataset", "train", "watch"]
