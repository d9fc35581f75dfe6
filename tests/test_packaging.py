"""The package as pip installs it: every subpackage of nbdiag is listed, so a non-editable install (Binder, a
venv) has all of it. (nbdiag/widgets/ was missing from such an install until this test.)"""

from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_in_the_installed_packages():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "nbdiag").rglob("__init__.py")}
    assert listed == found
