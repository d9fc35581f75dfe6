"""When a widget's change runs: now outside a Jupyter kernel, else merged with its burst at the kernel's next turn.

A slider drag sends a burst of messages; while the kernel is busy they wait there, then arrive one by one. A
Debouncer lets them all merge into one call, of the latest values, by waiting for the kernel's next turn (and
a moment, MERGE_SECONDS, after the last call). And show_error puts a failing callback's traceback in the widget;
live_page says whether a page showing live widgets is attached, so that a still is made only where one is needed.
"""

import asyncio
import math
import time
import traceback

from IPython import get_ipython

MERGE_SECONDS = 0.03  # after a call, requests arriving within this long merge into one call


def in_ipython():
    """True inside IPython (a kernel, or IPython's terminal): there, tqdm writes its bar into widgets."""
    return get_ipython() is not None


def kernel_loop():
    """The event loop of the Jupyter kernel running this callback, or None (a script, a test).

    Only a kernel's: another running loop (Playwright's sync API runs one in the caller's thread, so does an
    asyncio script) never calls back to run the queued change."""
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:  # IPython's terminal shell has no kernel
        return None
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def live_page():
    """True when the cell running now was run from a page that shows live widgets (JupyterLab, Notebook 7): there
    a still picture of a widget would only delay it. False in nbconvert, nbclient, nbval, Voila, a script or a test.

    JupyterLab's protocol (4.x, NotebookActions): its execute requests carry `recordTiming` (with `deletedCells`
    and `trusted`) in their metadata; executors without a page send no such key. Neither Jupyter nor ipywidgets
    has a public "will a page show this output" to ask instead: ipywidgets' control comm, opened by a page's
    widget manager, is opened only once ipywidgets was imported before the page connected."""
    shell = get_ipython()
    kernel = getattr(shell, "kernel", None) if shell is not None else None  # IPython's terminal shell has none
    return kernel is not None and "recordTiming" in kernel.get_parent().get("metadata", {})


class Debouncer:
    """Calls `action()` for requests: at once outside a Jupyter kernel; in one, at its next turn, once for every
    request made meanwhile."""

    def __init__(self, action):
        self.action = action
        self.scheduled = False  # a call is waiting for the kernel's next turn
        self.last_call = -math.inf  # time.monotonic() when the last call ended

    def request(self, now=False):
        """Call the action now (outside a kernel, or with `now`), or at the kernel's next turn unless already due."""
        loop = kernel_loop()
        if loop is None or now:
            return self.call()
        if not self.scheduled:
            self.scheduled = True
            loop.call_later(max(0.0, self.last_call + MERGE_SECONDS - time.monotonic()), self.call)

    def call(self):
        """Call the action now: whatever was requested is then done."""
        self.scheduled = False
        try:
            return self.action()
        finally:
            self.last_call = time.monotonic()


def show_error(output, what=None):
    """Append to the Output `output` the traceback of the exception being handled, after a line saying `what` went
    wrong, if given."""
    # append_stderr sets the Output's state, so it shows from any callback, unlike `with output:`
    output.append_stderr((f"{what}\n" if what else "") + traceback.format_exc())
