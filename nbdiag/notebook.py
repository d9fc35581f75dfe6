"""A lesson's first cell: ipympl's live figures where they can run, still pictures elsewhere, and why.

Lessons used to start with `%matplotlib widget`, which fails outright where ipympl is missing (Google
Colab, a plain `pip install nbdiag`). `live_figures()` chooses instead, and says in one line how to get
the live figures when it cannot give them: the dashboards then redraw PNG pictures, which work anywhere.
"""

import importlib.util
import sys

from IPython import get_ipython

INSTALL_IPYMPL = (
    "Pictures are still images here: for live figures that redraw in place, install ipympl "
    "(`pip install ipympl`, or `%pip install ipympl` in this notebook) and restart the kernel. "
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
    shell.run_line_magic("matplotlib", "widget")
    return True
