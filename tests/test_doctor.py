"""`python -m nbdiag doctor`: the whole report on this machine, and each check on machine states faked in tmp_path."""

import json
import os
import re
import subprocess
import sys

import pytest
import torch

from nbdiag import doctor
from nbdiag.lesson import Figure


def run_doctor(data_dir):
    env = {**os.environ, "NBDIAG_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "nbdiag", "doctor"], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def line(out, start):
    """The one line of `out` starting with `start` (after its ok/note/FIX mark)."""
    found = [ln for ln in out.splitlines() if ln[5:].startswith(start)]
    assert len(found) == 1, out
    return found[0]


def fake_labextensions(folder, **versions):
    """A labextensions folder holding package.json files of the given {name: version}."""
    for name, version in versions.items():
        (folder / name).mkdir(parents=True)
        (folder / name / "package.json").write_text(json.dumps({"name": name, "version": version}))
    return folder


MANAGER, MPL = "@jupyter-widgets/jupyterlab-manager", "jupyter-matplotlib"


def test_doctor_on_this_machine_prints_one_line_per_check_and_exits_0():
    data_dir = os.environ["NBDIAG_DATA_DIR"]
    result = run_doctor(data_dir)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "Traceback" not in out + result.stderr and out.isascii()
    assert all(ln[:5] in ("ok   ", "note ", "FIX  ") for ln in out.splitlines()), out
    assert not [ln for ln in out.splitlines() if ln.startswith("FIX")], out
    assert f"torch {torch.__version__}" in line(out, "versions:") and "ipympl" in line(out, "versions:")
    assert MANAGER in line(out, "widgets:") and MPL in line(out, "widgets:")
    assert data_dir in line(out, "data:") and "sha256 verified" in line(out, "data:")
    assert "kernels" in line(out, "CPU:") and "predicted" in line(out, "CPU:")
    exact, total = map(int, re.search(r"(\d+) of (\d+) %e figures exact", line(out, "lesson digits:")).groups())
    assert total == 34 and exact <= total and "fixed-point figures all exact" in line(out, "lesson digits:")
    assert len(re.findall(r"\d+\.\d+ s", line(out, "speed:"))) == 2


def test_empty_data_folder_exits_1_with_a_fix_line_and_no_traceback(tmp_path):
    result = run_doctor(tmp_path)
    out = result.stdout
    assert result.returncode == 1
    assert "Traceback" not in out + result.stderr
    assert line(out, "data:").startswith("FIX") and "NBDIAG_DATA_DIR" in line(out, "data:")
    assert "skipped" in line(out, "lesson digits:") and "skipped" in line(out, "timing:")
    assert line(out, "versions:").startswith("ok")  # the other checks still ran


def test_missing_package_is_fatal_with_its_pip_command():
    lines, fatal = doctor.versions(("torch", "no_such_package_xyz"))
    assert fatal and lines[0].startswith("ok") and f"torch {torch.__version__}" in lines[0]
    assert lines[1] == "FIX  no_such_package_xyz is not installed: pip install no_such_package_xyz"


def test_installed_packages_are_not_fatal():
    lines, fatal = doctor.versions()
    assert not fatal and len(lines) == 1


def test_missing_jupyter_matplotlib_is_fatal(tmp_path):
    folder = fake_labextensions(tmp_path, **{MANAGER: "5.0.16"})
    lines, fatal = doctor.widgets([folder])
    assert fatal
    assert [ln for ln in lines if ln.startswith("FIX") and MPL in ln and "pip install --force-reinstall ipympl" in ln]


def test_no_labextensions_at_all_is_fatal_once_per_extension(tmp_path):
    lines, fatal = doctor.widgets([tmp_path / "a", tmp_path / "b"])
    assert fatal and len(lines) == 2 and all(ln.startswith("FIX") for ln in lines)


def test_jupyter_matplotlib_older_than_ipympl_asks_for_is_fatal(tmp_path):
    folder = fake_labextensions(tmp_path, **{MANAGER: "5.0.16", MPL: "0.0.1"})
    lines, fatal = doctor.widgets([folder])
    assert fatal and len(lines) == 2
    assert lines[1].startswith("FIX") and "0.0.1" in lines[1] and str(folder) in lines[1]


def test_first_copy_wins_as_in_jupyterlab(tmp_path):
    stale = fake_labextensions(tmp_path / "user", **{MANAGER: "3.1.0", MPL: "0.0.1"})
    good = fake_labextensions(tmp_path / "env", **{MANAGER: "5.0.16", MPL: doctor._ipympl_range().lstrip("^")})
    lines, fatal = doctor.widgets([good, stale])
    assert not fatal and lines == [f"ok   widgets: {MANAGER} 5.0.16, {MPL} {doctor._ipympl_range().lstrip('^')}"]
    lines, fatal = doctor.widgets([stale, good])
    assert fatal and len([ln for ln in lines if ln.startswith("FIX")]) == 2  # ipywidgets 8 does not talk to manager 3


def test_unreadable_package_json_is_a_fix_line(tmp_path):
    (tmp_path / MPL).mkdir()
    (tmp_path / MPL / "package.json").write_text("{not json")
    lines, fatal = doctor.widgets([tmp_path])
    assert fatal and any(ln.startswith("FIX") and MPL in ln for ln in lines)


def test_without_jupyter_core_the_widgets_check_is_a_fix_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "jupyter_core", None)
    monkeypatch.setitem(sys.modules, "jupyter_core.paths", None)
    lines, fatal = doctor.widgets()
    assert fatal and len(lines) == 1
    assert lines[0].startswith("FIX  widgets: jupyter_core is not installed") and "pip install jupyterlab" in lines[0]


@pytest.mark.parametrize(
    "wanted, have, allowed",
    [
        ("^0.12", "0.12.0", True),
        ("^0.12", "0.12.3", True),
        ("^0.12", "0.13.0", False),
        ("^0.12", "0.11.9", False),
        ("^5.0", "5.0.16", True),
        ("^5.0", "6.0.0", False),
        ("^5.0", "3.1.0", False),
        ("^0.12.2", "0.12.1", False),
        ("^0.12", "0.12.0-alpha.1", True),
    ],
)
def test_caret_ranges_as_npm_reads_them(wanted, have, allowed):
    assert doctor.caret_allows(wanted, have) == allowed


def test_ipympl_range_does_not_import_ipympl():
    import matplotlib

    backend = matplotlib.get_backend()
    assert doctor._ipympl_range().startswith("^")
    assert matplotlib.get_backend() == backend


def test_missing_data_file_and_wrong_hash_are_fatal(tmp_path, monkeypatch):
    monkeypatch.setenv("NBDIAG_DATA_DIR", str(tmp_path))
    lines, fatal = doctor.data()
    assert fatal and lines[0].startswith("FIX") and f"NBDIAG_DATA_DIR={tmp_path}" in lines[0]
    (tmp_path / "names.txt").write_text("emma\nolivia\n")
    lines, fatal = doctor.data()
    assert fatal and lines[0].startswith("FIX") and "sha256" in lines[0]


def test_summary_counts_last_digit_differences_and_flags_fixed_point_ones():
    figures = [
        Figure("layer 1", "4.205588e-04", "4.205588e-04"),
        Figure("layer 3", "3.991181e-04", "3.991179e-04"),
        Figure("layer 1", "-0.02", "-0.02"),
        Figure("layer 3", "-0.00", "+0.00"),
    ]
    lines = doctor.summarize(figures, predicted=False)
    assert len(lines) == 1 and lines[0].startswith("note ")
    assert "1 of 2 %e figures exact, the others within 2 units of the 7th digit" in lines[0]
    assert "fixed-point figures all exact" in lines[0] and "predicted not exact" in lines[0]
    lines = doctor.summarize(figures + [Figure("layer 5", "0.68", "0.67")], predicted=True)
    assert len(lines) == 2 and "1 fixed-point figures differ" in lines[0]
    assert lines[1].startswith("FIX  lesson digits: layer 5 prints 0.68 where the lesson has 0.67")


def test_all_exact_is_ok():
    lines = doctor.summarize([Figure("layer 1", "4.205588e-04", "4.205588e-04")], predicted=True)
    assert lines[0].startswith("ok   lesson digits: 1 of 1 %e figures exact (")


def test_slow_training_is_a_fix_line_but_not_fatal():
    lines, fatal = doctor.timing(slow_seconds=0)
    assert not fatal and lines[0].startswith("FIX  speed:") and "fewer steps" in lines[0]


def test_failed_download_is_a_fix_line(monkeypatch):
    import pooch
    import requests

    def offline(*args, **kwargs):
        raise requests.ConnectionError("no network")

    monkeypatch.delenv("NBDIAG_DATA_DIR")
    monkeypatch.setattr(pooch, "retrieve", offline)  # never download in tests
    lines, fatal = doctor.data()
    assert fatal and lines[0].startswith("FIX  data:") and "no network" in lines[0] and "NBDIAG_DATA_DIR" in lines[0]
    assert len(lines) == 1 and lines[0].count("NBDIAG_DATA_DIR=") <= 1  # the fix said once
