"""`python -m nbdiag doctor`: check one machine before class, one line per check; `ok`, `note`, or `FIX` and how."""

import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from . import kernels, lesson
from .config import Config
from .data import DATA_DIR_ENV, DataError, load_dataset, names_path
from .stats import LESSON_DIGITS, STABLE_DIGITS
from .train import train

REQUIRED = ("torch", "ipywidgets", "ipympl", "nbdiag")
INSTALL = {
    "torch": "pip install torch==2.13.0 (first, on its own: see the README)",
    "nbdiag": "pip install -e . in the nbdiag folder",
}
WIDGET_MANAGER_MAJOR = {"7": "3", "8": "5"}  # ipywidgets major -> the jupyterlab-manager major that speaks its protocol
SLOW_SECONDS = 30  # 1,000 steps slower than this and the dashboard's sliders lag


def versions(names=REQUIRED):
    """Python's and each package's version; a missing package is fatal."""
    found, lines = [f"Python {platform.python_version()}"], []
    for name in names:
        try:
            # from its metadata, not an import: importing ipympl switches matplotlib's backend
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            lines.append(f"FIX  {name} is not installed: {INSTALL.get(name, f'pip install {name}')}")
    return [f"ok   versions: {', '.join(found)}", *lines], bool(lines)


def _labextension(name, folders):
    """(version, folder) of the first copy of labextension `name` in `folders`, the one JupyterLab loads; or None."""
    for folder in folders:
        package = Path(folder) / name / "package.json"
        if package.is_file():
            return json.loads(package.read_text(encoding="utf-8"))["version"], folder
    return None


def caret_allows(wanted, have):
    """Whether npm's range `wanted` ('^0.12') allows version `have` ('0.12.0'), as the widget manager decides."""
    want = [int(p) for p in wanted.lstrip("^").split(".")]
    got = [int(p) for p in have.split("-")[0].split(".")]
    fixed = next((i for i, p in enumerate(want) if p), len(want) - 1) + 1
    return got[:fixed] == want[:fixed] and got >= want


def _manager_range():
    """The @jupyter-widgets/jupyterlab-manager versions the installed ipywidgets talks to, or None."""
    try:
        return f"^{WIDGET_MANAGER_MAJOR[version('ipywidgets').split('.')[0]]}.0"
    except (PackageNotFoundError, KeyError):
        return None


def _ipympl_range():
    """The jupyter-matplotlib versions the installed ipympl asks for (`_version.js_semver`, e.g. '^0.12'), or None."""
    spec = importlib.util.find_spec("ipympl")
    if spec is None:
        return None
    # its _version.py on its own: importing ipympl would switch matplotlib's backend
    module_spec = importlib.util.spec_from_file_location("_ipympl_version", Path(spec.origin).parent / "_version.py")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return getattr(module, "js_semver", None)


# labextension -> the Python package that ships it, and the versions the Python side asks for
LABEXTENSIONS = {
    "@jupyter-widgets/jupyterlab-manager": ("jupyterlab_widgets", _manager_range),
    "jupyter-matplotlib": ("ipympl", _ipympl_range),
}


def widgets(folders=None):
    """The widget frontend extensions JupyterLab / Notebook 7 load, and whether their versions fit the Python side."""
    if folders is None:
        try:
            from jupyter_core.paths import jupyter_path
        except ImportError:
            return ["FIX  widgets: jupyter_core is not installed, so there is no Jupyter: pip install jupyterlab"], True
        folders = jupyter_path("labextensions")
    found, lines = [], []
    for name, (package, wanted_range) in LABEXTENSIONS.items():
        try:
            located, wanted = _labextension(name, folders), wanted_range()
            fits = located is None or wanted is None or caret_allows(wanted, located[0])
        except (OSError, ValueError, KeyError, ImportError) as e:
            lines.append(f"FIX  widgets: cannot read {name}'s version ({e}): pip install --force-reinstall {package}")
            continue
        if located is None:
            lines.append(
                f"FIX  widgets: labextension {name} is in none of {os.pathsep.join(map(str, folders))}, "
                f"so its widgets will not show: pip install --force-reinstall {package}"
            )
        elif not fits:
            lines.append(
                f"FIX  widgets: {name} {located[0]} in {located[1]} is not the {wanted} that the Python side "
                f"asks for, so its widgets will not show: delete that copy or pip install --force-reinstall "
                f"{package}"
            )
        else:
            found.append(f"{name} {located[0]}")
    return ([f"ok   widgets: {', '.join(found)}"] if found else []) + lines, bool(lines)


def data():
    """Where the names data set comes from, and whether it is there and passes its sha256 check."""
    data_dir = os.environ.get(DATA_DIR_ENV)
    try:
        path = names_path()
    except DataError as e:  # its message says what to do
        return [f"FIX  data: {e}"], True
    except (OSError, ImportError) as e:
        return [
            f"FIX  data: {e}: reinstall nbdiag (pip install -e .), or set {DATA_DIR_ENV} to a folder holding names.txt"
        ], True
    source = f"{DATA_DIR_ENV}={data_dir}" if data_dir else "a download into the pooch cache"
    return [f"ok   data: {path} from {source}, sha256 verified"], False


def cpu():
    """The CPU, its kernels, and whether the command line's one-step %e digits are predicted to be the lesson's."""
    here = kernels.read_cpu()
    predicted = "exact" if kernels.reproduces_lesson(here, os.environ) else "not exact"
    return [f"note CPU: {kernels.describe(here)}; lesson's %e digits predicted {predicted}"], False


def _tables(case):
    """The stdout of `python -m nbdiag tables` for `case`, as a student runs it."""
    command = [sys.executable, "-m", "nbdiag", "tables", *lesson.CASES[case].options]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode:
        raise ValueError(f"`{' '.join(command[1:])}` exited {result.returncode}: {result.stderr.strip()[-300:]}")
    return result.stdout


def lesson_digits():
    """Measure the one-step cases' figures against the lesson's, one `python -m nbdiag tables` each."""
    cases = [name for name, case in lesson.CASES.items() if case.one_step]
    try:
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            printed = list(pool.map(_tables, cases))
        figures = [f for name, out in zip(cases, printed) for f in lesson.compare(out, name)]
    except (ValueError, OSError, subprocess.TimeoutExpired) as e:
        return [f"FIX  lesson digits: {e}: run that command to see why"], False
    return summarize(figures, kernels.reproduces_lesson(kernels.read_cpu(), os.environ)), False


def summarize(figures, predicted):
    """One line on how many %e figures are the lesson's to the last digit; a FIX line if a fixed-point one is not."""
    scientific = [f.last_digit_units for f in figures if f.scientific]
    fixed = [f for f in figures if not f.scientific and f.last_digit_units]
    exact = scientific.count(0)
    line = f"lesson digits: {exact} of {len(scientific)} %e figures exact"
    if exact < len(scientific):
        line += f", the others within {max(scientific)} units of the {LESSON_DIGITS}th digit"
    line += (
        f" (fixed-point figures all exact; predicted {'exact' if predicted else 'not exact'}); the notebooks "
        f"print {STABLE_DIGITS} significant digits, the same on every CPU"
    )
    lines = [("ok   " if exact == len(scientific) else "note ") + line]
    if fixed:  # no CPU's rounding reaches a 2-decimal figure: the code or torch is not the lesson's
        lines[0] = lines[0].replace("fixed-point figures all exact", f"{len(fixed)} fixed-point figures differ")
        lines.append(
            f"FIX  lesson digits: {fixed[0].row} prints {fixed[0].ours} where the lesson has "
            f"{fixed[0].lesson}: install the torch version the README names, then pip install -e . again"
        )
    return lines


def timing(slow_seconds=SLOW_SECONDS):
    """Wall-clock seconds of a one-step and a 1,000-step run; a FIX line if the dashboard will feel slow."""
    try:
        dataset, seconds = load_dataset(), []
        for steps in (1, 1000):
            start = time.perf_counter()
            train(Config(steps=steps), dataset, progress=False)
            seconds.append(time.perf_counter() - start)
    except (DataError, RuntimeError) as e:
        return [f"FIX  speed: training failed ({e}): reinstall torch as the README says"], False
    line = f"speed: one step {seconds[0]:.3f} s, 1,000 steps {seconds[1]:.2f} s"
    if seconds[1] <= slow_seconds:
        return [f"ok   {line}"], False
    fix = "so the dashboard will feel slow: close other programs, or use fewer steps (e.g. 200)"
    return [f"FIX  {line}, over {slow_seconds} s, {fix}"], False


def doctor():
    """Run every check, printing as it goes; 1 if the lessons cannot run on this machine, else 0."""
    checks, failed = [versions, widgets, data, cpu, lesson_digits, timing], set()
    for check in checks:
        if check in (lesson_digits, timing) and data in failed:
            print(f"note {check.__name__.replace('_', ' ')}: skipped, it needs the data set (see the FIX line above)")
            continue
        lines, fatal = check()
        print("\n".join(lines), flush=True)
        if fatal:
            failed.add(check)
    return 1 if failed else 0
