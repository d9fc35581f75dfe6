"""nbdiag: see inside a deep MLP as it trains — activations, gradients, grad:data and update:data ratios."""
import os
import platform
import re


def _pin_kernels():
    """The same floating-point kernels on every x86 CPU with AVX2: MKL's AVX2 code path and ATen's AVX2 kernels,
    read by torch when it first computes. With them the lesson's one-step tables come out digit for digit on an
    AVX-512 machine as on any other; without, the last printed digit depends on the CPU. A value you set
    yourself wins; elsewhere (ARM, or no AVX2, where these kernels cannot run) nothing is set."""
    if platform.machine() != "x86_64":
        return
    try:
        with open("/proc/cpuinfo") as f:
            cpuinfo = f.read()
    except OSError:  # not Linux
        return
    if re.search(r"^flags\s*:.*\bavx2\b", cpuinfo, re.M):
        os.environ.setdefault("MKL_CBWR", "AVX2")
        os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")


_pin_kernels()

from .data import DATA_DIR_ENV, DataError, load_dataset  # noqa: E402 (after the kernels are chosen)
from .train import Config, ConfigError, Run, train  # noqa: E402
from .watch import watch  # noqa: E402

__all__ = ["Config", "ConfigError", "DataError", "DATA_DIR_ENV", "Run", "load_dataset", "train", "watch"]
