"""engine.apart: jobs in forked children, their events relayed in order, their results or why there is none."""

from __future__ import annotations

import os
import threading

import pytest

from safenet.engine.apart import Job, Send, forked

pytestmark = pytest.mark.timeout(120)


def counting(n: int) -> Job[str]:
    def job(send: Send, stop: threading.Event) -> str:
        for i in range(n):
            send("tick", i)
        return f"pid {os.getpid()}"

    return job


def raising(send: Send, stop: threading.Event) -> str:
    send("tick", 0)
    raise ValueError("the evidence was odd")


def exiting(send: Send, stop: threading.Event) -> str:
    os._exit(3)


def test_results_events_in_order_and_children_that_give_none() -> None:
    events: dict[str, list[object]] = {}
    done: list[str] = []
    with forked([("a", counting(500)), ("b", raising), ("c", exiting), ("d", counting(3))]) as children:
        results = children.wait(
            lambda label, kind, args: events.setdefault(label, []).append((kind, *args)),
            lambda label, result: done.append(label),
            lambda label, code, error: f"died {code} {error}",
        )
    assert events["a"] == [("tick", i) for i in range(500)] and events["d"] == [("tick", i) for i in range(3)]
    assert results["a"].startswith("pid ") and results["a"] != f"pid {os.getpid()}"  # in a process of its own
    assert results["b"] == "died 1 ValueError: the evidence was odd"
    assert results["c"] == "died 3 None"
    assert sorted(done) == ["a", "b", "c", "d"]


def test_leaving_without_waiting_reads_what_is_left_so_no_child_hangs() -> None:
    """Far more than a pipe holds (64 KiB): the children would block on a full pipe if nobody read it."""
    with pytest.raises(RuntimeError), forked([("a", counting(50_000)), ("b", counting(50_000))]):
        raise RuntimeError("the display failed")
