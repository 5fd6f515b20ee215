"""The case's writer lock (case.writerlock): one writer of any thread or process at a time, re-entrant."""

from __future__ import annotations

import multiprocessing
import os
import time
from multiprocessing.connection import Connection
from pathlib import Path

from safenet.case.writerlock import WRITER_NAME, WriterLock


def _write_when_held(folder: Path, go: Connection, ready: Connection) -> None:
    lock = WriterLock(folder)
    go.recv()
    ready.send("trying")
    with lock, open(folder / "order", "a") as fh:
        fh.write("child\n")
    os._exit(0)


def test_a_process_waits_for_the_writer_of_another(tmp_path: Path) -> None:
    """The child asks while the parent holds it: its line comes after the parent's last, never between."""
    lock = WriterLock(tmp_path)
    context = multiprocessing.get_context("fork")
    reader, writer = context.Pipe(duplex=False)
    go_reader, go_writer = context.Pipe(duplex=False)
    # forked before the lock is held, as the exhibits' processes are (a child forked while its parent holds the
    # lock shares the parent's open lock file, so the lock would stay held until both had closed it)
    child = context.Process(target=_write_when_held, args=(tmp_path, go_reader, writer))
    child.start()
    with lock:
        with open(tmp_path / "order", "a") as fh:
            fh.write("parent start\n")
        go_writer.send("go")
        assert reader.recv() == "trying"
        time.sleep(0.3)  # without the lock across processes the child writes now
        with open(tmp_path / "order", "a") as fh:
            fh.write("parent end\n")
    child.join(30)
    assert child.exitcode == 0
    assert (tmp_path / "order").read_text().splitlines() == ["parent start", "parent end", "child"]


def test_re_entrant_and_released_whole(tmp_path: Path) -> None:
    lock = WriterLock(tmp_path)
    with lock, lock:
        pass
    assert (tmp_path / WRITER_NAME).exists()
    with WriterLock(tmp_path):  # a second lock on the folder (another process's) gets it: nothing left held
        pass


def test_an_error_inside_releases_it(tmp_path: Path) -> None:
    lock = WriterLock(tmp_path)
    try:
        with lock:
            raise ValueError("a failed batch")
    except ValueError:
        pass
    with WriterLock(tmp_path):
        pass
