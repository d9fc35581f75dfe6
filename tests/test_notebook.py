"""live_figures(), a lesson's first cell: ipympl's live figures where ipympl is installed, else inline pictures and
one line on how to get the live ones; nothing at all outside IPython."""

import importlib.util
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

import nbdiag.notebook
from nbdiag.notebook import INSTALL_IPYMPL, live_figures

ROOT = Path(__file__).resolve().parents[1]


class FakeShell:
    """What live_figures() uses of IPython's shell: run_line_magic, recorded."""

    def __init__(self):
        self.magics = []

    def run_line_magic(self, name, line):
        self.magics.append((name, line))


@pytest.fixture
def shell(monkeypatch):
    shell = FakeShell()
    monkeypatch.setattr(nbdiag.notebook, "get_ipython", lambda: shell)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)  # not Colab, unless a test says so
    return shell


def ipympl_installed(monkeypatch, installed):
    """Make importlib.util.find_spec find ipympl, or not, whatever this environment has."""
    find_spec = importlib.util.find_spec

    def fake(name, *args, **kwargs):
        if name == "ipympl":
            return importlib.machinery.ModuleSpec("ipympl", None) if installed else None
        return find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", fake)


def test_in_a_plain_python_process_it_does_nothing():
    code = (
        "import sys, nbdiag\n"
        "print(repr(nbdiag.live_figures()), 'ipympl' in sys.modules, 'matplotlib_inline.backend_inline' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "False False False\n"  # no line printed, no backend chosen


def test_without_ipympl_inline_figures_and_how_to_get_live_ones(shell, monkeypatch, capsys):
    ipympl_installed(monkeypatch, False)
    assert live_figures() is False
    assert shell.magics == [("matplotlib", "inline")]
    assert capsys.readouterr().out == INSTALL_IPYMPL + "\n"
    assert "pip install ipympl" in INSTALL_IPYMPL and "reload the page" in INSTALL_IPYMPL


def test_with_ipympl_live_figures_and_no_line(shell, monkeypatch, capsys):
    ipympl_installed(monkeypatch, True)
    assert live_figures() is True
    assert shell.magics == [("matplotlib", "widget")]
    assert capsys.readouterr().out == ""


def test_in_colab_with_ipympl_the_custom_widget_manager_is_asked_for_first(shell, monkeypatch):
    ipympl_installed(monkeypatch, True)
    calls = []
    colab = types.ModuleType("google.colab")
    colab.output = types.SimpleNamespace(
        enable_custom_widget_manager=lambda: calls.append(("enable_custom_widget_manager", list(shell.magics)))
    )
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    assert live_figures() is True
    assert calls == [("enable_custom_widget_manager", [])]  # before the backend is switched
    assert shell.magics == [("matplotlib", "widget")]


def test_in_colab_without_ipympl_inline_figures(shell, monkeypatch, capsys):
    ipympl_installed(monkeypatch, False)
    colab = types.ModuleType("google.colab")  # no output.enable_custom_widget_manager: must not be needed
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    assert live_figures() is False
    assert shell.magics == [("matplotlib", "inline")]
    assert capsys.readouterr().out == INSTALL_IPYMPL + "\n"


def test_in_a_kernel_without_ipympl_the_dashboard_draws_pngs(kernel):
    """A real kernel where ipympl cannot be imported (None in sys.modules: find_spec finds nothing, import fails):
    the first cell chooses inline and says so, and a dashboard's pictures are PNGs in Image widgets."""
    printed = kernel.run(
        "import sys; sys.modules['ipympl'] = None\n"
        "import matplotlib, nbdiag\n"
        "live = nbdiag.live_figures()\n"
        "print(live, matplotlib.get_backend())",
    )
    line, result = printed.splitlines()
    assert line == INSTALL_IPYMPL
    live, backend = result.split(" ", 1)
    assert live == "False" and "inline" in backend
    images = kernel.run(
        "import ipywidgets as W\n"
        "from nbdiag.widgets import Dashboard\n"
        "d = Dashboard(controls=['gain'], views=['activations'], gain=5/3)\n"
        "image = d.pictures['activations'].image\n"
        "print(type(image).__name__, isinstance(image, W.Image), bytes(image.value[:4]) == b'\\x89PNG')",
    )
    assert images.split() == ["Image", "True", "True"]


def test_a_broken_ipympl_falls_back_to_inline_and_says_why(shell, monkeypatch, capsys):
    ipympl_installed(monkeypatch, True)

    def run_line_magic(name, line):
        shell.magics.append((name, line))
        if line == "widget":
            raise ImportError("cannot import name 'FigureCanvasWebAggCore'")

    monkeypatch.setattr(shell, "run_line_magic", run_line_magic)
    assert live_figures() is False
    assert shell.magics == [("matplotlib", "widget"), ("matplotlib", "inline")]
    out = capsys.readouterr().out
    assert (
        out.startswith("ipympl is installed but failed to start (ImportError: cannot import name")
        and out.count("\n") == 1
    )
    assert INSTALL_IPYMPL in out
