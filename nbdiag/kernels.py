"""Which CPU kernels torch computes with, and whether they print the lesson's last digits.

The lesson's tables were printed by Intel's MKL and ATen's AVX2 kernels. Another CPU's kernels add the same
numbers in another order, so the last printed digit of an `%e` figure may differ (by a few units after one step),
and a long run amplifies that into its leading digits. Only the command line pins kernels, in its own process:
importing nbdiag never changes the kernels of your own torch code.
"""

import os
import platform
import re
from dataclasses import dataclass

# Intel's AVX2 code paths: MKL's reproducible AVX2 branch, and ATen's AVX2 kernels. Both are read from the
# environment when torch first computes, so the command line sets them before its process starts (see cli).
PINS = {"MKL_CBWR": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}


@dataclass(frozen=True)
class CPU:
    """What decides which kernels torch can run."""

    machine: str  # platform.machine(): 'x86_64' / 'AMD64' on Intel and AMD, 'arm64' / 'aarch64' on ARM
    vendor: str  # 'GenuineIntel', 'AuthenticAMD', ... or '' where the system does not say
    model: str
    flags: frozenset  # instruction-set extensions ('avx2', 'avx512f', ...); empty where the system does not say

    @property
    def intel_avx2(self):
        """An Intel x86 CPU that can run the AVX2 kernels the lesson's digits came from."""
        return self.machine.lower() in ("x86_64", "amd64") and self.vendor == "GenuineIntel" and "avx2" in self.flags


def read_cpu(cpuinfo_path="/proc/cpuinfo"):
    """This machine's CPU, from /proc/cpuinfo where there is one (Linux), else what `platform` knows."""
    try:
        with open(cpuinfo_path) as f:
            text = f.read()
    except OSError:
        text = ""

    def field(name):
        match = re.search(rf"^{name}\s*:\s*(.*)$", text, re.M)
        return match.group(1).strip() if match else ""

    processor = platform.processor()  # e.g. 'Intel64 Family 6 Model 85 Stepping 7, GenuineIntel' on Windows
    vendor = field("vendor_id") or next((v for v in ("GenuineIntel", "AuthenticAMD") if v in processor), "")
    return CPU(
        machine=platform.machine(),
        vendor=vendor,
        model=field("model name") or processor,
        flags=frozenset(field("flags").split()),
    )


def pinned_environment(cpu, environ):
    """`environ` with PINS added, where they give the lesson's digits (an Intel CPU with AVX2) and nothing in
    `environ` chose kernels already; else None. AMD CPUs are left alone: MKL ignores MKL_CBWR there."""
    if not cpu.intel_avx2 or any(name in environ for name in PINS):
        return None
    return {**environ, **PINS}


def reproduces_lesson(cpu, environ):
    """Whether the command line prints the lesson's one-step `%e` figures digit for digit here: on an Intel CPU with
    AVX2, where it runs with PINS (its own, or the same values set by hand)."""
    return cpu.intel_avx2 and all(environ.get(name, value) == value for name, value in PINS.items())


def describe(cpu):
    """One line: the CPU and the kernels torch runs on it in this process."""
    import torch

    mkl = "MKL" if torch.backends.mkl.is_available() else "no MKL"
    if torch.backends.mkl.is_available() and "MKL_CBWR" in os.environ:
        mkl += f" (MKL_CBWR={os.environ['MKL_CBWR']}{', ignored on this CPU' if cpu.vendor == 'AuthenticAMD' else ''})"
    vendor = f", {cpu.vendor}" if cpu.vendor else ""
    return f"{cpu.model or cpu.machine}{vendor}: ATen {torch.backends.cpu.get_cpu_capability()} kernels, {mkl}"
