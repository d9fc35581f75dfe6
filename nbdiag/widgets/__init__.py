"""The widgets of the lessons: the dashboard, the comparison and the gain sweep.

- dashboard: Dashboard (one run) and Comparison (two side by side), around
- panel: a Panel, one session and its controls shown as a run's status, pictures, findings and tables;
- controls: the controls, made from the options' descriptions (nbdiag.config.Option), and the gain buttons;
- gain_sweep: GainSweep, why 5/3 at initialization;
- schedule: when a change runs (a burst merged into one call at the kernel's next turn), and errors shown;
- layout: CSS, rows and columns, and the status, findings and tables as HTML.

The views (the pictures a dashboard can show) are nbdiag.views', the live figures nbdiag.picture's and the still
PNGs nbdiag.still's.
"""

from ..views import ALL_VIEWS, VIEWS, View
from .controls import CONTROLS
from .dashboard import Comparison, Dashboard
from .gain_sweep import GainSweep
from .panel import Panel

__all__ = ["ALL_VIEWS", "CONTROLS", "VIEWS", "Comparison", "Dashboard", "GainSweep", "Panel", "View"]
