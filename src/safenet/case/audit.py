"""The case's append-only, hash-chained audit log (``audit.jsonl``) and its signed head (``audit.head``).

Each line is one JSON object holding ``prev``: the SHA-256 of the previous line's bytes (64 zeros for
the first). Editing, removing or reordering any line breaks the chain at that point, which
``verify`` reports with the line number. Times are UTC with the local zone name alongside (ACPO
principle 3: a third party must be able to follow what was done and when).

A chain alone cannot show that lines were cut from its end, or that someone edited a line and
re-computed every later hash. So after every append the head (sequence number and hash of the last
line, bound to the first line) is written apart from the log, in ``audit.head``, signed with this
installation's Ed25519 key (``safenet.case.signing``); the public key is written into the log before
the first line it signs. ``verify`` checks the log against its head.

The log is never rewritten. A line torn by a power cut (no newline, not JSON) is repaired only by
appending: a ``torn-tail`` line names the torn bytes (offset, size, SHA-256) and chains to the last
complete line. Until then, writers refuse with :class:`AuditTornError`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from safenet.case.signing import Signer, default_key_path, verify_signature

GENESIS = "0" * 64
HEAD_NAME = "audit.head"
#: The head of lines about to be written, signed before they are (see ``AuditLog._append_locked``).
NEXT_HEAD_NAME = "audit.head.next"
TORN_EVENT = "torn-tail"
KEY_EVENT = "audit-key"
GAP_EVENT = "unsigned-lines"


class AuditError(Exception):
    """The audit log cannot be written as it stands; the message says what to do."""


class AuditTornError(AuditError):
    """The log ends in a torn line (an interrupted write); ``safenet triage --resume`` repairs it."""


@dataclass(frozen=True, slots=True)
class AuditCheck:
    ok: bool
    entries: int
    problem: str | None = None
    line: int | None = None
    last_hash: str = GENESIS


@dataclass(frozen=True, slots=True)
class Torn:
    """Bytes after the last complete line that are not a record (an interrupted write)."""

    offset: int
    size: int
    sha256: str
    line: int  # 1-based line number where the torn bytes start


@dataclass
class AuditRead:
    """The log as read: records in order, each line's hash, and what is wrong or worth saying about it."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)  # hash of entries[i]'s line
    lines: list[int] = field(default_factory=list)  # 1-based line number of entries[i]
    problems: list[tuple[int, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    torn: Torn | None = None
    first_hash: str = GENESIS

    @property
    def last_hash(self) -> str:
        return self.hashes[-1] if self.hashes else GENESIS


@dataclass(frozen=True, slots=True)
class Head:
    seq: int
    sha256: str
    genesis: str  # hash of the log's first line: a head belongs to one log
    key: str  # public key, hex
    signature: str  # hex

    @staticmethod
    def message(seq: int, sha256: str, genesis: str) -> bytes:
        return f"safenet-audit-head\x00{genesis}\x00{seq}\x00{sha256}".encode()

    def valid(self) -> bool:
        return verify_signature(self.key, self.signature, self.message(self.seq, self.sha256, self.genesis))

    def to_json(self) -> str:
        return json.dumps(
            {"seq": self.seq, "sha256": self.sha256, "genesis": self.genesis, "key": self.key, "sig": self.signature},
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Head:
        raw = json.loads(text)
        return cls(int(raw["seq"]), str(raw["sha256"]), str(raw["genesis"]), str(raw["key"]), str(raw["sig"]))


def heads_folder() -> Path:
    """Where this installation keeps the last head it signed for each case (beside its signing key)."""
    return default_key_path().parent / "audit-heads"


def _line_hash(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def _record(line: bytes) -> dict[str, Any] | None:
    """The record on one line, or None when the line is not a complete record."""
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) and "seq" in value and "prev" in value else None


@dataclass(frozen=True, slots=True)
class _Tail:
    prev: str
    seq: int
    torn: tuple[int, bytes] | None  # offset and bytes after the last complete record
    needs_newline: bool  # the last record was written without its newline


class AuditLog:
    def __init__(self, path: Path, on_head: Callable[[int, str], None] | None = None) -> None:
        self.path = path
        self.head_path = path.with_name(HEAD_NAME)
        self.next_head_path = path.with_name(NEXT_HEAD_NAME)
        self.on_head = on_head  # the case keeps a copy of the head in its database
        self._signer: Signer | None = None

    @property
    def signer(self) -> Signer:
        if self._signer is None:
            self._signer = Signer.for_installation()
        return self._signer

    # -- writing --------------------------------------------------------------------------------
    def append(self, event: str, **data: Any) -> str:
        """Append one event; returns the new line's SHA-256. Safe against concurrent writers (flock)."""
        with self._locked() as fd:
            return self._append_locked(fd, [(event, data)], repair=False)[-1]

    def append_many(self, events: Sequence[tuple[str, dict[str, Any]]]) -> list[str]:
        """Append several events as consecutive lines under one lock, with one write, one fsync and one
        signed head (a bulk grade of 2,000 items is one disk flush, not 2,000); returns each line's SHA-256.

        The lines chain exactly as if appended one by one, so ``verify`` reads them the same way.
        """
        if not events:
            return []
        with self._locked() as fd:
            return self._append_locked(fd, list(events), repair=False)

    def check_writable(self) -> None:
        """Raise :class:`AuditTornError` now, before anything else is written, if the log needs repair."""
        if not self.path.exists():
            return
        with self._locked() as fd:
            if self._tail(fd).torn is not None:
                raise AuditTornError(self._torn_message())

    def _torn_message(self) -> str:
        return (
            f"the audit log {self.path} ends in an incomplete line (an interrupted write, e.g. a power cut); "
            "`safenet triage --resume` repairs it by appending"
        )

    def settle(self) -> None:
        """Finish a write cut short after its lines were written but before its head replaced the old one (see
        ``_append_locked``); ``verify`` calls it before reading the head."""
        if not self.path.exists() or not self.next_head_path.exists():
            return
        with self._locked() as fd:
            self._settle(self._tail(fd))

    def _settle(self, tail: _Tail) -> None:
        """A pending head (signed before its lines were written) becomes the head when the log ends with exactly the
        lines it signed; otherwise its lines never reached the log whole, and it is dropped."""
        pending = self._read(self.next_head_path)
        if pending is None:
            with contextlib.suppress(FileNotFoundError):
                self.next_head_path.unlink()
            return
        if tail.torn is None and pending.seq == tail.seq - 1 and pending.sha256 == tail.prev:
            self._promote(pending)
        else:
            self.next_head_path.unlink()

    def _promote(self, head: Head) -> None:
        os.replace(self.next_head_path, self.head_path)
        if self.on_head is not None:
            self.on_head(head.seq, head.sha256)
        self._register(head)

    def repair(self) -> bool:
        """Close a torn tail by appending a ``torn-tail`` line; True when there was one."""
        with self._locked() as fd:
            if self._tail(fd).torn is None:
                return False
            self._append_locked(fd, [("audit-repaired", {})], repair=True)
            return True

    @contextlib.contextmanager
    def _locked(self) -> Iterator[int]:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            os.close(fd)

    def _append_locked(self, fd: int, events: list[tuple[str, dict[str, Any]]], *, repair: bool) -> list[str]:
        """Write ``events`` (after any key, gap or torn-tail line due first); returns the events' line hashes."""
        tail = self._tail(fd)
        self._settle(tail)  # a write cut short between its lines and its head: finish or drop it first
        prev, seq = tail.prev, tail.seq
        pending: list[tuple[str, dict[str, Any]]] = []
        if tail.torn is not None:
            offset, torn = tail.torn
            if not repair:
                raise AuditTornError(self._torn_message())
            if not torn.endswith(b"\n"):
                os.write(fd, b"\n")
            body = torn.rstrip(b"\n")
            pending.append((TORN_EVENT, {"offset": offset, "size": len(body), "sha256": _line_hash(body)}))
        elif tail.needs_newline:
            os.write(fd, b"\n")
        head = self.read_head()
        key = self.signer.public_hex
        if seq > 0 and head is not None and head.seq < seq - 1:
            pending.append((GAP_EVENT, {"from": head.seq + 1, "to": seq - 1}))
        if head is None or head.key != key:
            pending.append((KEY_EVENT, {"public_key": key, "fingerprint": self.signer.fingerprint}))
        wrote_from = len(pending)  # the caller's events follow any key, gap or torn-tail line
        pending.extend(events)
        genesis = GENESIS if seq == 0 else self._first_hash(fd)
        lines: list[bytes] = []
        hashes: list[str] = []
        for name, values in pending:
            record = {
                "seq": seq,
                "ts": datetime.now(UTC).isoformat(timespec="microseconds"),
                "tz": time.strftime("%Z%z"),
                "event": name,
                "data": values,
                "prev": prev,
            }
            line = json.dumps(record, ensure_ascii=True, sort_keys=True, default=str).encode()
            lines.append(line + b"\n")
            prev = _line_hash(line)
            hashes.append(prev)
            if seq == 0:
                genesis = prev
            seq += 1
        # The new head is signed and on disk (as the pending head) before its lines are written, so a crash at any
        # moment leaves no line without a signature: either the lines are not there whole and the pending head is
        # dropped, or they are and the pending head is what the next writer (or verify) makes the head.
        head = self._write_head(seq - 1, prev, genesis)
        data = memoryview(b"".join(lines))
        while data:  # a bulk append can be large; a short write must not lose its tail
            data = data[os.write(fd, data) :]
        os.fsync(fd)
        self._promote(head)
        return hashes[wrote_from:]

    def _write_head(self, seq: int, sha256: str, genesis: str) -> Head:
        """Sign the head and write it, durably, as the pending head."""
        signature = self.signer.sign(Head.message(seq, sha256, genesis))
        head = Head(seq, sha256, genesis, self.signer.public_hex, signature)
        tmp = self.head_path.with_name(HEAD_NAME + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, head.to_json().encode() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.next_head_path)
        return head

    def _register(self, head: Head) -> None:
        """Keep the head this installation last signed for this log in its own data folder (outside the case).

        A case folder edited and re-chained, or rolled back to an earlier copy, then no longer holds the head
        this installation remembers; ``verify`` on this installation sees it. Best effort: a failed write
        loses only this second check.
        """
        folder = heads_folder()
        tmp = folder / f"{head.genesis}.tmp"
        with contextlib.suppress(OSError):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            tmp.write_text(head.to_json(), encoding="utf-8")
            os.chmod(tmp, 0o600)
            os.replace(tmp, folder / f"{head.genesis}.json")

    def registered_head(self, genesis: str) -> Head | None:
        """The head this installation last signed for the log starting with ``genesis``, if it wrote to it."""
        try:
            return Head.from_json((heads_folder() / f"{genesis}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def read_head(self) -> Head | None:
        return self._read(self.head_path)

    @staticmethod
    def _read(path: Path) -> Head | None:
        try:
            return Head.from_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @staticmethod
    def _first_hash(fd: int) -> str:
        buf = b""
        pos = 0
        while True:
            chunk = os.pread(fd, 1 << 16, pos)
            if not chunk:
                break
            buf += chunk
            pos += len(chunk)
            if b"\n" in buf:
                break
        return _line_hash(buf.split(b"\n", 1)[0])

    @staticmethod
    def _tail(fd: int) -> _Tail:
        """Hash and sequence number of the last complete record (reads backwards from the end), and torn bytes."""
        size = os.lseek(fd, 0, os.SEEK_END)
        if size == 0:
            return _Tail(GENESIS, 0, None, False)
        pos, buf = size, b""
        while True:
            step = min(1 << 16, pos)
            pos -= step
            buf = os.pread(fd, step, pos) + buf
            parts = buf.split(b"\n")
            offsets = []
            at = pos
            for part in parts:
                offsets.append(at)
                at += len(part) + 1
            first = 1 if pos > 0 else 0  # the first part may have begun before this block
            for i in range(len(parts) - 1, first - 1, -1):
                record = _record(parts[i]) if parts[i] else None
                if record is None:
                    continue
                line_end = offsets[i] + len(parts[i])  # where its newline is (or the end of the file)
                rest = buf[line_end + 1 - pos :]
                torn = (line_end + 1, rest) if rest.strip(b"\n") else None
                return _Tail(_line_hash(parts[i]), int(record["seq"]) + 1, torn, line_end >= size)
            if pos == 0:
                return _Tail(GENESIS, 0, (0, buf), False)

    # -- reading --------------------------------------------------------------------------------
    def entries(self) -> list[dict[str, Any]]:
        return self.read().entries

    def read(self) -> AuditRead:
        """Parse and check the whole chain; problems carry line numbers, a torn tail is reported apart."""
        out = AuditRead()
        if not self.path.exists():
            out.problems.append((0, "the audit log is missing"))
            return out
        data = self.path.read_bytes()
        prev = GENESIS
        expected = 0
        offset = 0
        bad_start: tuple[int, int] | None = None  # (offset, line) of unparseable lines since the last record
        for number, raw in enumerate(data.split(b"\n"), start=1):
            line_offset = offset
            offset += len(raw) + 1
            if not raw:
                continue
            record = _record(raw)
            if record is None:
                if bad_start is None:
                    bad_start = (line_offset, number)
                continue
            if bad_start is not None:
                body = data[bad_start[0] : line_offset].rstrip(b"\n")
                torn_ok = (
                    record.get("event") == TORN_EVENT
                    and record.get("data", {}).get("offset") == bad_start[0]
                    and record.get("data", {}).get("sha256") == _line_hash(body)
                )
                if torn_ok:
                    out.notes.append(f"line {bad_start[1]} was torn by an interrupted write; repaired at line {number}")
                else:
                    out.problems.append((bad_start[1], "line is not a valid record"))
                bad_start = None
            if record.get("prev") != prev:
                out.problems.append((number, "chain broken: 'prev' does not match the line before"))
            if record.get("seq") != expected:
                out.problems.append((number, "sequence number out of order"))
            prev = _line_hash(raw)
            if not out.hashes:
                out.first_hash = prev
            out.entries.append(record)
            out.hashes.append(prev)
            out.lines.append(number)
            expected = int(record["seq"]) + 1 if isinstance(record.get("seq"), int) else expected + 1
        if bad_start is not None:
            body = data[bad_start[0] :].rstrip(b"\n")
            out.torn = Torn(bad_start[0], len(body), _line_hash(body), bad_start[1])
        return out

    def verify(self) -> AuditCheck:
        """Check the chain from the first line to the last (a torn tail is not a broken chain)."""
        read = self.read()
        if read.problems:
            line, problem = read.problems[0]
            return AuditCheck(False, len(read.entries), problem, line or None, read.last_hash)
        return AuditCheck(True, len(read.entries), None, None, read.last_hash)
