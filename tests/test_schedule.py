"""nbdiag.widgets.schedule: a change runs at once outside a kernel; in one, a burst runs once at its next turn."""

import asyncio
import time
import types

import ipywidgets as W
import pytest

import nbdiag.widgets.schedule
from nbdiag.widgets.schedule import MERGE_SECONDS, Debouncer, kernel_loop, show_error


def test_outside_a_kernel_each_request_calls_at_once():
    calls = []
    runs = Debouncer(lambda: calls.append(len(calls)) or "done")
    assert kernel_loop() is None
    assert runs.request() == "done" and runs.request() == "done" and calls == [0, 1] and not runs.scheduled


def test_ipythons_terminal_and_a_kernel_without_a_running_loop_call_at_once(monkeypatch):
    monkeypatch.setattr(nbdiag.widgets.schedule, "get_ipython", lambda: types.SimpleNamespace())  # no kernel
    assert kernel_loop() is None
    monkeypatch.setattr(nbdiag.widgets.schedule, "get_ipython", lambda: types.SimpleNamespace(kernel=object()))
    assert kernel_loop() is None  # no event loop running: nothing would ever call back
    calls = []
    Debouncer(lambda: calls.append(1)).request()
    assert calls == [1]


def test_in_a_kernel_a_burst_of_requests_calls_once_at_the_next_turn(in_a_kernel):
    async def main():
        calls = []
        runs = Debouncer(lambda: calls.append(time.monotonic()))
        assert kernel_loop() is asyncio.get_running_loop()
        for _ in range(5):
            runs.request()
        assert calls == [] and runs.scheduled
        await asyncio.sleep(0.05)
        assert len(calls) == 1 and not runs.scheduled
        asked = time.monotonic()
        runs.request()  # right after a call: it waits until MERGE_SECONDS after that call, to merge what comes
        runs.request()
        await asyncio.sleep(0.2)
        assert len(calls) == 2 and calls[1] >= calls[0] + MERGE_SECONDS * 0.9 and calls[1] >= asked
        runs.request(now=True)  # e.g. a long run, which must run inside its own message
        assert len(calls) == 3

    asyncio.run(main())


def test_a_failing_action_still_counts_as_a_call():
    def failing():
        raise RuntimeError("no")

    runs = Debouncer(failing)
    with pytest.raises(RuntimeError):
        runs.request()
    assert not runs.scheduled and runs.last_call > 0


def test_show_error_appends_the_traceback_after_what_went_wrong():
    output = W.Output()
    for what in (None, "the run failed"):
        try:
            raise ZeroDivisionError("float division by zero")
        except ZeroDivisionError:
            show_error(output, what)
    first, second = output.outputs
    assert first["name"] == second["name"] == "stderr"
    assert first["text"].startswith("Traceback") and "ZeroDivisionError: float division by zero" in first["text"]
    assert second["text"].startswith("the run failed\nTraceback")
    output.close()
