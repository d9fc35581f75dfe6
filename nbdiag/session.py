"""The state behind the widgets: a config and the run it gives. No ipywidgets or matplotlib here."""

import dataclasses
import functools

from .config import Config, check
from .data import load_dataset
from .train import train


@functools.cache
def shared_dataset():
    """The names data set, loaded once per process: every dashboard of a lesson reuses it."""
    return load_dataset()


def changed(config, **changes):
    """`config` with `changes` applied and checked: a ConfigError names any unknown or invalid option."""
    for name, value in changes.items():
        check(name, value)
    return dataclasses.replace(config, **changes)


class Session:
    """A config and the run it gives; changing the config re-runs.

    `update` changes and re-runs at once. A view that receives changes faster than it can run them
    uses `request` (queue, returns at once) and `run_pending` instead: requests made before the run
    starts merge into one config, so a burst of changes costs one run, of the latest values, and the
    stale values in between are never computed.
    """

    def __init__(self, config=None, dataset=None, snapshots=None, run=None):
        self.snapshots = snapshots  # every run keeps snapshots at this schedule (train's snapshots=), or none
        self.pending = None  # the requested Config not run yet, if any
        if run is not None:  # a finished run to show, not to re-run (train's, or what nbdiag.watch recorded)
            self.config, self.dataset, self.run = run.config, dataset, run
            return
        self.config = config if config is not None else Config()
        self.dataset = dataset if dataset is not None else shared_dataset()
        self.run = self._train(self.config)  # the last finished run

    def _train(self, config, progress=None):
        return train(config, self.dataset, progress, snapshots=self.snapshots)

    def request(self, **changes):
        """Queue changes on top of those already queued; returns the queued Config (None: nothing to run)."""
        config = changed(self.pending or self.config, **changes)
        self.pending = config if config != self.config else None  # back to what already ran: nothing to do
        return self.pending

    def run_pending(self, progress=None):
        """Train the queued config, if any; returns its Run, or None when nothing was queued."""
        if self.pending is None:
            return None
        config, self.pending = self.pending, None
        try:
            self.run = self._train(config, progress)
        except BaseException:
            self.pending = config  # still what was asked for: the next change retries it
            raise
        self.config = config
        return self.run

    def update(self, **changes):
        """Change the config and re-train now; returns the run (the same one when nothing changed)."""
        self.request(**changes)
        self.run_pending()
        return self.run
