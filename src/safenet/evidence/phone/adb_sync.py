"""The ADB sync service, read side only: STAT/STA2, LIST/LIS2 and RECV over one connection to the adb server.

adbutils 2.12.0 speaks only the first version of LIST and STAT, whose sizes are 32 bits (a 5 GB video would be
listed as 705 MB) and whose folder listing is read a few bytes per system call; and it reads a file with a
fresh connection each time. This client sends the same requests on a connection adbutils opened, uses the
second versions (64-bit sizes, three times) where the phone advertises ``ls_v2`` / ``stat_v2`` (Android 8
and 11 onwards), and reads many files over one connection, as ``adb pull`` does. Requests that write (SEND)
are never sent: nothing here can change the phone.

A connection that breaks (the phone unplugged, the server gone) raises :class:`LinkBroken`; the back-end
asks the server whether the phone is still there to tell a lost phone from one unreadable file. A file the
phone refuses (FAIL) is that file's OSError, and the connection is done with: adbd ends its sync service
after a FAIL, so the next request on it would find it closed.
"""

from __future__ import annotations

import contextlib
import errno
import io
import socket
import stat
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

SYNC_DATA_MAX: Final = 64 * 1024  # the largest DATA chunk a phone sends
_REQ = struct.Struct("<4sI")
_DENT = struct.Struct("<IIII")  # after "DENT": mode, size, mtime, namelen
_STAT = struct.Struct("<III")  # after "STAT": mode, size, mtime
_STAT2 = struct.Struct("<IQQIIIIQqqq")  # after "STA2": error, dev, ino, mode, nlink, uid, gid, size, a/m/ctime
_DENT2 = struct.Struct("<IQQIIIIQqqqI")  # after "DNT2": the same, then namelen
MAX_NAME: Final = 4096  # a longer name in a listing is a broken stream, not a file name
#: Records in one folder's listing. Android's own file systems hold far fewer in a folder; a phone that sends more
#: (a hostile or broken adbd that never says DONE) would otherwise fill memory and never finish.
MAX_LISTED: Final = 1_000_000


class LinkBroken(ConnectionError):
    """The connection to the adb server ended or sent something that is not the sync protocol."""


class ListingCut(Exception):
    """A folder listing went past ``MAX_LISTED`` records: the entries read up to there. The connection is done
    with (the rest of the listing is still on the way)."""

    def __init__(self, entries: list[Entry]) -> None:
        super().__init__(f"the phone listed more than {MAX_LISTED:,} entries in one folder")
        self.entries = entries


@dataclass(frozen=True, slots=True)
class Entry:
    """One directory entry or stat result as the phone gave it (times in seconds since 1970, UTC)."""

    name: str  # the entry's name (surrogate escapes for bytes that are not UTF-8); the path for stat
    mode: int
    size: int
    mtime: int
    atime: int | None = None  # only in the second versions
    ctime: int | None = None

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)

    @property
    def is_file(self) -> bool:
        return stat.S_ISREG(self.mode)


def encode(path: str) -> bytes:
    return path.encode("utf-8", "surrogateescape")


class SyncSession:
    """One connection in sync mode (``sync:`` already accepted). Not thread-safe: one user at a time."""

    def __init__(self, sock: socket.socket, *, ls_v2: bool, stat_v2: bool) -> None:
        self.sock = sock
        self.ls_v2, self.stat_v2 = ls_v2, stat_v2
        self.busy = False  # a RECV is being read: no other request until it is done
        self.broken = False

    # --- raw reads ---------------------------------------------------------------------------------

    def read_exact(self, n: int) -> bytes:
        buf = bytearray(n)
        self.read_into(memoryview(buf))
        return bytes(buf)

    def read_into(self, view: memoryview) -> None:
        # Straight into the caller's buffer: receiving into a session buffer first (one system call for many
        # chunks) was measured to cost more in the extra copy than it saved in calls.
        got = 0
        try:
            while got < len(view):
                n = self.sock.recv_into(view[got:])
                if n == 0:
                    raise LinkBroken("the adb server closed the connection")
                got += n
        except LinkBroken:
            self.broken = True
            raise
        except OSError as exc:  # a timeout or a reset: the stream position is lost either way
            self.broken = True
            raise LinkBroken(f"the connection to the adb server failed: {exc}") from exc

    def request(self, kind: bytes, path: str) -> None:
        data = encode(path)
        try:
            self.sock.sendall(_REQ.pack(kind, len(data)) + data)
        except OSError as exc:
            self.broken = True
            raise LinkBroken(f"the connection to the adb server failed: {exc}") from exc

    # --- requests ----------------------------------------------------------------------------------

    def stat(self, path: str) -> Entry | None:
        """The entry at ``path`` (links followed where the phone offers STA2), or None when there is none."""
        if self.stat_v2:
            self.request(b"STA2", path)
            self._expect(b"STA2")
            error, _dev, _ino, mode, _nl, _uid, _gid, size, atime, mtime, ctime = _STAT2.unpack(
                self.read_exact(_STAT2.size)
            )
            return None if error else Entry(path, mode, size, mtime, atime, ctime)
        self.request(b"STAT", path)
        self._expect(b"STAT")
        mode, size, mtime = _STAT.unpack(self.read_exact(_STAT.size))
        return Entry(path, mode, size, mtime) if mode else None

    def list(self, path: str) -> list[Entry]:
        """The entries of the folder at ``path`` without "." and ".." (empty for a missing folder)."""
        v2 = self.ls_v2
        self.request(b"LIS2" if v2 else b"LIST", path)
        entries: list[Entry] = []
        body = _DENT2 if v2 else _DENT
        for _ in range(MAX_LISTED + 3):  # records: "." and "..", the entries, and DONE
            kind = self.read_exact(4)
            if kind == b"DONE":
                self.read_exact(body.size)  # a DONE carries an empty entry of the same size
                return entries
            if kind != (b"DNT2" if v2 else b"DENT"):
                self.broken = True
                raise LinkBroken(f"unexpected sync reply {kind!r} to a folder listing")
            fields = body.unpack(self.read_exact(body.size))
            if fields[-1] > MAX_NAME:
                self.broken = True
                raise LinkBroken("a folder listing named an entry longer than any file name")
            name = self.read_exact(fields[-1]).decode("utf-8", "surrogateescape")
            if name in (".", ".."):
                continue
            if v2:
                error, _dev, _ino, mode, _nl, _uid, _gid, size, atime, mtime, ctime, _n = fields
                if not error:
                    entries.append(Entry(name, mode, size, mtime, atime, ctime))
            else:
                mode, size, mtime, _n = fields
                entries.append(Entry(name, mode, size, mtime))
        self.broken = True  # the rest of the listing is still coming: this connection can serve nothing else
        raise ListingCut(entries[:MAX_LISTED])

    def recv(self, path: str) -> RecvReader:
        """A raw stream of the file's bytes as the phone sends them (wrap it in a buffer)."""
        self.request(b"RECV", path)
        self.busy = True
        return RecvReader(self)

    def quit(self) -> None:
        if not self.broken and not self.busy:
            with contextlib.suppress(OSError):
                self.sock.sendall(_REQ.pack(b"QUIT", 0))
        self.close()

    def close(self) -> None:
        self.broken = True
        with contextlib.suppress(OSError):
            self.sock.close()

    def _expect(self, kind: bytes) -> None:
        got = self.read_exact(4)
        if got != kind:
            self.broken = True
            raise LinkBroken(f"unexpected sync reply {got!r} to {kind.decode()}")


def _file_error(message: str) -> OSError:
    """A phone's FAIL reply for one file as the OSError it names (the file is unreadable, not the phone)."""
    lowered = message.lower()
    if "no such file" in lowered:
        return FileNotFoundError(errno.ENOENT, message)
    if "permission denied" in lowered:
        return PermissionError(errno.EACCES, message)
    return OSError(errno.EIO, message)


class RecvReader(io.RawIOBase):
    """The DATA chunks of one RECV as a raw stream; DONE ends it, FAIL becomes an OSError.

    ``on_close(reader)`` is called once when the stream closes, to give the session back: a reader not
    ``finished`` was not read to its end (its remaining chunks are still on the way, so the session cannot
    serve another request unless they are drained).
    """

    def __init__(self, session: SyncSession) -> None:
        super().__init__()
        self.session = session
        self.left = 0  # bytes of the current DATA chunk not yet read
        self.finished = False
        self.on_close: Callable[[RecvReader], None] | None = None

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed:
            callback, self.on_close = self.on_close, None
            super().close()
            if callback is not None:
                callback(self)

    def prime(self) -> None:
        """Wait for the phone's first reply, so that a file it refuses fails here (as an open would), not at
        the first read. Free in time: the first read would wait for the same reply."""
        if not self.finished and self.left == 0:
            self._next()

    def _next(self) -> None:
        """Read the next reply header: a DATA chunk to read, DONE, or FAIL (raised as the file's OSError)."""
        kind, length = _REQ.unpack(self.session.read_exact(8))
        if kind == b"DATA":
            if length > SYNC_DATA_MAX:
                self.session.broken = True
                raise LinkBroken(f"a DATA chunk of {length} bytes (at most {SYNC_DATA_MAX} are sent)")
            self.left = length
        elif kind == b"DONE":
            self.finished = True
            self.session.busy = False
        elif kind == b"FAIL":
            message = self.session.read_exact(min(length, MAX_NAME)).decode("utf-8", "replace")
            self.finished = True
            self.session.busy = False
            self.session.broken = True  # adbd ends its sync service after a FAIL: this connection serves no more
            raise _file_error(message)
        else:
            self.session.broken = True
            raise LinkBroken(f"unexpected sync reply {kind!r} while a file was read")

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        """As many of the file's bytes as fit, across DATA chunks, up to its end (0 only at its end): one call
        per read of the pipeline's size, not one per 64 KiB chunk."""
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view):
            if self.left == 0:
                if self.finished:
                    break
                self._next()
                continue
            n = min(len(view) - filled, self.left)
            self.session.read_into(view[filled : filled + n])
            self.left -= n
            filled += n
        return filled

    def drain(self, most: int) -> bool:
        """Read and drop the rest of the file if it is at most ``most`` bytes; whether the stream is finished."""
        scratch = bytearray(SYNC_DATA_MAX)
        while not self.finished and most > 0:
            n = self.readinto(scratch)
            most -= n
        return self.finished
