"""A lesson's first cell: ipympl's live figures where they can run, still pictures elsewhere, and why.

Lessons used to start with `%matplotlib widget`, which fails outright where ipympl is missing (Google
Colab, a plain `pip install nbdiag`). `live_figures()` chooses instead, and says in one line how to get
the live figures when it cannot give them: the dashboards then redraw PNG pictures, which work anywhere.
"""

import importlib.util
import sys

from IPython import get_ipython

# "reload the page": JupyterLab loads ipympl's front end (its extension) only as the page loads; after an install
# and a kernel restart alone, every figure is "No version of module jupyter-matplotlib is registered".
INSTALL_IPYMPL = (
    "Pictures are still images here: for live figures that redraw in place, install ipympl "
    "(`pip install ipympl`, or `%pip install ipympl` in this notebook), restart the kernel and reload the page. "
    "The dashboards work either way."
)


def live_figures():
    """Show matplotlib figures as ipympl widgets (`%matplotlib widget`) if ipympl is installed; else inline, with a
    line on how to install it. True when the figures are live."""
    shell = get_ipython()
    if shell is None:  # a script: nothing to choose
        return False
    if importlib.util.find_spec("ipympl") is None:
        shell.run_line_magic("matplotlib", "inline")
        print(INSTALL_IPYMPL)
        return False
    if "google.colab" in sys.modules:  # Colab renders third-party widgets (ipympl's) only once asked to
        from google.colab import output

        output.enable_custom_widget_manager()
    try:
        shell.run_line_magic("matplotlib", "widget")
    except Exception as error:  # an ipympl that is installed but broken (a version that does not fit matplotlib)
        shell.run_line_magic("matplotlib", "inline")
        print(f"ipympl is installed but failed to start ({type(error).__name__}: {error}). {INSTALL_IPYMPL}")
        return False
    return True
