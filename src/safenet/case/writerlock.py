"""The case's one writer: one thread of one process at a time.

A batch's ids are assigned from the table's last id and its audit line follows its commit, so exactly one
writer may be between those steps (``case.recorder``). Exhibits triaged at once run in processes of their own
(``engine.apart``), each with its threads, so the lock is two locks: a thread lock within the process, and an
flock on the case folder's ``.writer`` file across the processes of the run. The file is opened for each
outermost hold and closed after it: a forked child never shares its parent's open file (an flock belongs to the
open file, which a fork shares, so a shared one would exclude nobody). The lock is re-entrant. Never fork while
holding it: the child would share the open file, and the lock would stay held until both had closed it (the run
forks its exhibits' processes before any of them writes).
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path
from types import TracebackType

WRITER_NAME = ".writer"


class WriterLock:
    """Held with ``with case.writer:`` around every write that must not interleave with another exhibit's."""

    def __init__(self, folder: Path) -> None:
        self._path = folder / WRITER_NAME
        self._thread = threading.RLock()
        self._depth = 0  # holds by the thread that has ``_thread`` (re-entrant), so only it reads or writes this
        self._fd = -1

    def __enter__(self) -> None:
        self._thread.acquire()
        if self._depth == 0:
            try:
                fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                except BaseException:
                    os.close(fd)
                    raise
            except BaseException:
                self._thread.release()
                raise
            self._fd = fd
        self._depth += 1

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._depth -= 1
        if self._depth == 0:
            fd, self._fd = self._fd, -1
            os.close(fd)  # releases the flock
        self._thread.release()
