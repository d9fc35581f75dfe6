"""Build a fresh environment from binder/ as Binder (repo2docker) would, and run a lesson in it end to end.

What this machine cannot reach, and what stands in for it:
- PyTorch's CPU wheel index (download.pytorch.org): its --extra-index-url line is left out and pip finds
  the same torch==2.13.0+cpu wheel on the local disk (pip's find-links), as it does for CI;
- the names data set's download in postBuild: NBDIAG_DATA_DIR points at a local copy, which
  nbdiag.data.names_path() verifies against the same sha256 the download is checked with.
Everything else is installed into an isolated venv (no system site-packages) from the package indexes
pip is configured with (pip's cache serves repeated downloads), so a dependency missing from
binder/requirements.txt makes this test fail.
Slow (a few minutes, most of it installing), so it is marked `slow`; CI runs it.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BINDER = ROOT / "binder"
LESSON = "01_gain_5_3.ipynb"
PYTORCH_INDEX = "download.pytorch.org"


def binder_requirements():
    """binder/requirements.txt without the PyTorch index line, which is unreachable here."""
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    return "\n".join(line for line in lines if PYTORCH_INDEX not in line) + "\n"


def checked_outputs(nb):
    """The stdout of every cell that nbval compares (those not marked NBVAL_IGNORE_OUTPUT)."""
    return [
        "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")
        for cell in nb.cells
        if cell.cell_type == "code" and "NBVAL_IGNORE_OUTPUT" not in cell.source
    ]


def run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout


def test_binder_files_pin_python_and_cpu_torch():
    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert runtime == f"python-{sys.version_info.major}.{sys.version_info.minor}", "runtime.txt pins this Python"
    requirements = (BINDER / "requirements.txt").read_text()
    assert f"--extra-index-url https://{PYTORCH_INDEX}/whl/cpu" in requirements
    assert "torch==2.13.0+cpu" in requirements.split()  # the CPU build, pinned
    assert "-e ." in requirements.splitlines()  # the package itself
    post_build = (BINDER / "postBuild").read_text()
    assert os.access(BINDER / "postBuild", os.X_OK) and post_build.startswith("#!/bin/bash")
    assert "names_path()" in post_build and "jupyter trust notebooks/*.ipynb" in post_build


def test_binder_environment_runs_a_lesson(tmp_path):
    data_dir = os.environ.get("NBDIAG_DATA_DIR")
    assert data_dir and Path(data_dir, "names.txt").is_file(), "NBDIAG_DATA_DIR must hold names.txt"
    # what repo2docker copies into the image: the repository (only the parts the build reads)
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, repo / name)
    for name in ("nbdiag", "binder"):
        shutil.copytree(ROOT / name, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "notebooks").mkdir()
    shutil.copy(ROOT / "notebooks" / LESSON, repo / "notebooks" / LESSON)

    venv = tmp_path / "venv"
    try:
        run([sys.executable, "-m", "venv", venv])  # isolated: a missing install fails below
        bin_dir = venv / "bin"
        (tmp_path / "requirements.txt").write_text(binder_requirements())
        run(
            [bin_dir / "pip", "install", "--disable-pip-version-check", "-q", "-r", tmp_path / "requirements.txt"],
            cwd=repo,
        )  # repo2docker runs pip from the repository root, so `-e .` is nbdiag

        env = {
            **os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "VIRTUAL_ENV": str(venv),
            "NBDIAG_DATA_DIR": data_dir,
            "OMP_NUM_THREADS": "1",
        }
        env.pop("PYTHONPATH", None)  # nbdiag must come from the venv's install, not from this checkout
        # a private Jupyter data folder, so `jupyter trust` signs into a fresh database, not this user's
        env["JUPYTER_DATA_DIR"] = str(tmp_path / "jupyter-data")
        built = run([repo / "binder" / "postBuild"], cwd=repo, env=env)
        assert "names data set ready" in built and (tmp_path / "jupyter-data" / "nbsignatures.db").is_file()

        imports = (
            "import json, torch, ipympl, ipywidgets, jupyterlab, voila; "
            "print(json.dumps([torch.__version__, torch.cuda.is_available()]))"
        )
        versions = json.loads(run([bin_dir / "python", "-c", imports], env=env))
        assert versions == ["2.13.0+cpu", False]
        assert "nvidia" not in run([bin_dir / "pip", "list", "--disable-pip-version-check"], env=env).lower()
        extensions = _labextensions(bin_dir, env)
        assert "jupyter-matplotlib" in extensions and "@jupyter-widgets/jupyterlab-manager" in extensions

        # the lesson, end to end, in the venv's kernel; one extra cell reports which Python ran it
        stored = nbformat.read(repo / "notebooks" / LESSON, as_version=4)
        probe = nbformat.read(repo / "notebooks" / LESSON, as_version=4)
        probe.cells.append(nbformat.v4.new_code_cell("import sys, nbdiag; print(sys.prefix, nbdiag.__file__)"))
        nbformat.write(probe, repo / "notebooks" / "probe.ipynb")
        run(
            [
                bin_dir / "jupyter",
                "nbconvert",
                "--to",
                "notebook",
                "--execute",
                "--ExecutePreprocessor.timeout=600",
                "--output",
                "executed.ipynb",
                repo / "notebooks" / "probe.ipynb",
            ],
            cwd=repo,
            env=env,
        )
        executed = nbformat.read(repo / "notebooks" / "executed.ipynb", as_version=4)
        prefix, nbdiag_file = checked_outputs(executed)[-1].split()
        assert Path(prefix) == venv and Path(nbdiag_file).is_relative_to(repo), (
            "the venv's kernel and its nbdiag ran it"
        )
        assert checked_outputs(executed)[:-1] == checked_outputs(stored), (
            "the lesson's tables differ from the stored ones"
        )
        assert "saturated: 20.25%" in "".join(checked_outputs(executed))
        print(f"binder venv: {_du(venv)} on disk")
    finally:
        shutil.rmtree(venv, ignore_errors=True)  # about 1.3 GB, most of it torch


def _labextensions(bin_dir, env):
    result = subprocess.run([bin_dir / "jupyter", "labextension", "list"], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr  # jupyter labextension list writes its listing to stderr


def _du(path):
    return run(["du", "-sh", path]).split()[0]
