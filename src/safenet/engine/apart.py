"""Several jobs at once, each in a process of its own forked from this one, their events relayed back.

Why processes: each exhibit of a run of several (``engine.multi``) has its own coordinator, hashing threads,
matcher and record loop, and most of that work is Python. In one process they share one interpreter lock, so
three exhibits examined "at once" took nearly as long as one after another. Each in its own process has its
own lock, and the run uses every core.

Why fork (and not ``spawn`` or the fork server): a forked child starts with everything the parent has already
imported and opened (the evidence back-ends' modules, the hash sets' memory-mapped arrays, the case's checked
schema), so a child costs milliseconds where a fresh Safenet costs most of a second. Fork is safe because the
caller of ``forked`` keeps to two rules:

- no other thread is running when it forks (a thread's locks would be copied held, and the thread not at all):
  the live display starts after the children do;
- no database connection is open (SQLite and libpq connections must not cross a fork): ``Case.before_fork``
  closes the case's pooled ones; each child opens its own.

Each child sends ``(kind, args)`` messages over a pipe of its own: its job's events, then its result. The parent
relays events as they come; a child that ends without a result (its job raised, or it was killed or crashed in
native code) gets ``died(label, exitcode, error)`` as its result, and the others go on. Ctrl-C reaches every
process of the terminal's group: in a child it sets its job's ``stop`` event (its run ends as interrupted,
resumable); the parent passes it on to the children (a Ctrl-C sent to the parent alone must stop them too),
waits for every child to end, then raises ``KeyboardInterrupt``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from multiprocessing import get_context
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Generic, Protocol, TypeVar, cast

from safenet.reasons import reason_of

R = TypeVar("R")


class Send(Protocol):
    """What a job calls to pass one event to the parent (its arguments are pickled)."""

    def __call__(self, kind: str, *args: object) -> None: ...


#: One job: called in its child with the way to send events and the event that Ctrl-C sets; returns the result.
Job = Callable[[Send, threading.Event], R]

_FORK = get_context("fork")
RESULT = "\x00result"  # message kinds of the runner itself (a job's event kinds are its own names)
ERROR = "\x00error"


class Children(Generic[R]):
    """Forked children running their jobs; ``wait`` relays their events and collects their results.

    Made by ``forked`` (which forks them all at once and, whatever happens, waits for every one to end).
    """

    def __init__(self) -> None:
        self._children: dict[Connection, tuple[str, BaseProcess]] = {}
        self._open: list[Connection] = []  # the pipes not yet read to their end
        self.interrupted = threading.Event()

    def forward(self, signum: int = signal.SIGINT, frame: FrameType | None = None) -> None:
        """Ctrl-C in the parent: note it and pass it on to every child (each ends its run as interrupted)."""
        self.interrupted.set()
        for _, process in list(self._children.values()):  # a signal may come while ``start`` adds one
            if process.pid is not None and process.exitcode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGINT)

    def start(self, label: str, job: Job[R]) -> None:
        reader, writer = _FORK.Pipe(duplex=False)
        process = _FORK.Process(target=_child, args=(writer, job), name=f"safenet-{label}")
        process.start()
        writer.close()  # the child's end: EOF here once the child has exited
        self._children[reader] = (label, process)
        self._open.append(reader)

    def wait(
        self,
        receive: Callable[[str, str, tuple[object, ...]], None],
        done: Callable[[str, R], None],
        died: Callable[[str, int | None, str | None], R],
    ) -> dict[str, R]:
        """Relay every child's events until all have ended; returns each label's result.

        ``receive(label, kind, args)`` gets a child's events in the order it sent them; ``done(label, result)``
        each result as it arrives. ``died(label, exitcode, error)`` makes the result of a child that gave none:
        its job raised (``error``: its one-sentence reason) or its process ended (killed, crashed in native code).
        """
        results: dict[str, R] = {}
        errors: dict[str, str] = {}

        def message(label: str, kind: str, args: tuple[object, ...]) -> None:
            if kind == RESULT:
                results[label] = cast(R, args[0])
                done(label, results[label])
            elif kind == ERROR:
                errors[label] = str(args[0])
            else:
                receive(label, kind, args)

        def ended(label: str, process: BaseProcess) -> None:
            if label not in results:  # its result, if any, came before its end
                process.join()
                results[label] = died(label, process.exitcode, errors.get(label))
                done(label, results[label])

        self._pump(message, ended)
        return results

    def join(self) -> None:
        """Wait for every child to end, reading and dropping what no ``wait`` read (a child whose pipe is full
        would otherwise wait for its reader for ever)."""
        self._pump(lambda label, kind, args: None, lambda label, process: None)
        for _, process in self._children.values():
            process.join()

    def _pump(
        self,
        message: Callable[[str, str, tuple[object, ...]], None],
        ended: Callable[[str, BaseProcess], None],
    ) -> None:
        """Read every child's pipe to its end: each message as it comes, then ``ended`` when the child closes it."""
        while self._open:
            for reader in wait(self._open):
                assert isinstance(reader, Connection)
                label, process = self._children[reader]
                try:
                    kind, args = reader.recv()
                except (EOFError, OSError):  # the child has ended
                    self._open.remove(reader)
                    reader.close()
                    ended(label, process)
                    continue
                message(label, kind, args)


@contextlib.contextmanager
def forked(jobs: Sequence[tuple[str, Job[R]]]) -> Iterator[Children[R]]:
    """Fork a child per job, all at once; on leaving, wait for every child to end.

    Call it with no other thread running and no database connection open (the module docstring says why).
    Leaving with an exception (or Ctrl-C) first passes Ctrl-C on to the children, so each ends its run as
    interrupted; after a Ctrl-C while waiting, ``KeyboardInterrupt`` is raised once every child has ended.
    """
    children: Children[R] = Children()
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, children.forward) if main else None  # children inherit it briefly
    try:
        for label, job in jobs:
            children.start(label, job)
        yield children
    except BaseException:
        children.forward()
        raise
    finally:
        children.join()
        if main and previous is not None:  # None: a handler not set from Python, which cannot be put back
            signal.signal(signal.SIGINT, previous)
    if children.interrupted.is_set():
        raise KeyboardInterrupt


def _child(conn: Connection, job: Job[object]) -> None:
    """The child's whole life: run the job, send its result, end without the parent's exit handlers."""
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    code = 0
    try:

        def send(kind: str, *args: object) -> None:
            conn.send((kind, args))

        conn.send((RESULT, (job(send, stop),)))
    except BaseException as exc:  # never a traceback on the examiner's terminal: the parent reports it
        code = 1
        with contextlib.suppress(Exception):  # the pipe itself failed: the exit code says it
            conn.send((ERROR, (f"{exc.__class__.__name__}: {reason_of(exc)}",)))
    finally:
        conn.close()
    os._exit(code)  # no atexit handlers, no finalizers of the parent's objects (its database pools among them)
