"""Which kernels the command line pins, and where the lesson's digits are exact, for CPUs of every kind."""

import os

import pytest

from nbdiag import cli, kernels

INTEL_AVX512 = "vendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) 8488C\nflags\t\t: fpu sse2 avx avx2 avx512f\n"
INTEL_AVX2 = "vendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Core(TM) i7-8700\nflags\t\t: fpu sse2 avx avx2\n"
AMD = "vendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9R14\nflags\t\t: fpu sse2 avx avx2 avx512f\n"
OLD_INTEL = "vendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Core(TM)2 Duo\nflags\t\t: fpu sse2\n"


def cpu_from(text, tmp_path, monkeypatch, machine="x86_64"):
    monkeypatch.setattr(kernels.platform, "machine", lambda: machine)
    path = tmp_path / "cpuinfo"
    path.write_text(text)
    return kernels.read_cpu(path)


@pytest.mark.parametrize(
    "text, intel_avx2", [(INTEL_AVX512, True), (INTEL_AVX2, True), (AMD, False), (OLD_INTEL, False)]
)
def test_pins_only_where_they_give_the_lessons_digits(text, intel_avx2, tmp_path, monkeypatch):
    cpu = cpu_from(text, tmp_path, monkeypatch)
    assert cpu.intel_avx2 == intel_avx2
    pinned = kernels.pinned_environment(cpu, {"PATH": "/bin"})
    assert pinned == ({"PATH": "/bin", **kernels.PINS} if intel_avx2 else None)
    assert kernels.reproduces_lesson(cpu, {}) == intel_avx2


def test_a_users_own_kernels_win(tmp_path, monkeypatch):
    cpu = cpu_from(INTEL_AVX512, tmp_path, monkeypatch)
    for chosen in ({"ATEN_CPU_CAPABILITY": "default"}, {"MKL_CBWR": "COMPATIBLE"}):
        assert kernels.pinned_environment(cpu, chosen) is None
        assert not kernels.reproduces_lesson(cpu, chosen)
    assert kernels.reproduces_lesson(cpu, dict(kernels.PINS))  # the same values set by hand


def test_an_arm_machine_or_one_without_cpuinfo_gets_no_pins(tmp_path, monkeypatch):
    cpu = cpu_from("processor\t: 0\nFeatures\t: fp asimd\n", tmp_path, monkeypatch, machine="aarch64")
    assert cpu.vendor == "" and kernels.pinned_environment(cpu, {}) is None
    monkeypatch.setattr(kernels.platform, "processor", lambda: "arm")
    assert kernels.read_cpu(tmp_path / "missing").flags == frozenset()


def test_the_command_line_runs_itself_again_with_the_pins_on_an_intel_cpu(tmp_path, monkeypatch):
    """In a process of its own, so the user's torch code never runs on kernels it did not choose."""
    cpu = cpu_from(INTEL_AVX512, tmp_path, monkeypatch)
    monkeypatch.setattr(kernels, "read_cpu", lambda: cpu)
    for name in kernels.PINS:
        monkeypatch.delenv(name, raising=False)
    calls = []

    class Finished:
        returncode = 0

    monkeypatch.setattr(cli.subprocess, "run", lambda command, env: calls.append((command, env)) or Finished())
    assert cli.main(["tables", "--gain", "3"]) == 0
    ((command, env),) = calls
    assert command[1:] == ["-m", "nbdiag", "tables", "--gain", "3"]
    assert all(env[name] == value for name, value in kernels.PINS.items()) and env[cli.PINNED_MARK] == "1"
    assert not any(name in os.environ for name in kernels.PINS)  # this process is left as it was


def test_this_machine_is_described_in_one_line():
    line = kernels.describe(kernels.read_cpu())
    assert "\n" not in line and "ATen" in line and "MKL" in line
