"""The state behind the widgets: a config and the run it gives. No ipywidgets or matplotlib here."""

import dataclasses
import functools
from collections import OrderedDict

from .config import Config, check
from .data import load_dataset
from .records import nbytes
from .train import train

CACHE_BYTES = 8 * 2**20  # a session keeps its recent runs in at most this much memory: going back trains nothing


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
    stale values in between are never computed. Going back to a config run recently trains nothing: its run
    comes from `cache` (a RunCache).
    """

    def __init__(self, config=None, dataset=None, snapshots=None, run=None):
        self.snapshots = snapshots  # every run keeps snapshots at this schedule (train's snapshots=), or none
        self.cache = RunCache()  # the recent runs, by config: the same seed and config give the same run
        self.pending = None  # the requested Config not run yet, if any
        if run is not None:  # a finished run to show, not to re-run (train's, or what nbdiag.watch recorded)
            self.config, self.dataset, self.run = run.config, dataset, run
            return
        self.config = config if config is not None else Config()
        self.dataset = dataset if dataset is not None else shared_dataset()
        self.run = self._train(self.config)  # the last finished run

    def _train(self, config, progress=None):
        run = self.cache.get(config)
        if run is None:
            run = train(config, self.dataset, progress, snapshots=self.snapshots)
            self.cache.add(run)
        return run

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


def key(config):
    """A config as a dictionary key (a Config is mutable, so unhashable): its values in field order."""
    return dataclasses.astuple(config)


class RunCache:
    """The most recent runs, by config, in at most `max_bytes` (nbdiag.records.nbytes): the oldest go first."""

    def __init__(self, max_bytes=CACHE_BYTES):
        self.max_bytes = max_bytes
        self.runs = OrderedDict()  # key(config) -> run, the most recently used last
        self.bytes = 0

    def get(self, config):
        """The cached run of `config`, now the most recent, or None."""
        run = self.runs.get(key(config))
        if run is not None:
            self.runs.move_to_end(key(config))
        return run

    def add(self, run):
        """Keep `run` under its config, dropping the oldest runs beyond max_bytes (a run alone beyond it is not kept)."""
        size = nbytes(run)
        if size > self.max_bytes:
            return
        old = self.runs.pop(key(run.config), None)
        self.bytes += size - (nbytes(old) if old is not None else 0)
        self.runs[key(run.config)] = run
        while self.bytes > self.max_bytes:
            _, dropped = self.runs.popitem(last=False)
            self.bytes -= nbytes(dropped)
