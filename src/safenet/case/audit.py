"""The case's append-only, hash-chained audit log (``audit.jsonl``).

Each line is one JSON object holding ``prev``: the SHA-256 of the previous line's bytes (64 zeros for
the first). Editing, removing or reordering any line breaks the chain at that point, which
``verify`` reports with the line number. Times are UTC with the local zone name alongside (ACPO
principle 3: a third party must be able to follow what was done and when).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditCheck:
    ok: bool
    entries: int
    problem: str | None = None
    line: int | None = None
    last_hash: str = GENESIS


def _line_hash(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, event: str, **data: Any) -> str:
        """Append one event; returns the new line's SHA-256. Safe against concurrent writers (flock)."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            prev, seq = self._tail(fd)
            record = {
                "seq": seq,
                "ts": datetime.now(UTC).isoformat(timespec="microseconds"),
                "tz": time.strftime("%Z%z"),
                "event": event,
                "data": data,
                "prev": prev,
            }
            line = json.dumps(record, ensure_ascii=True, sort_keys=True, default=str).encode()
            os.write(fd, line + b"\n")
            os.fsync(fd)
            return _line_hash(line)
        finally:
            os.close(fd)

    @staticmethod
    def _tail(fd: int) -> tuple[str, int]:
        """Hash and sequence number of the last complete line (reads backwards from the end)."""
        size = os.lseek(fd, 0, os.SEEK_END)
        if size == 0:
            return GENESIS, 0
        block = 1 << 16
        pos, buf = size, b""
        while pos > 0:
            step = min(block, pos)
            pos -= step
            buf = os.pread(fd, step, pos) + buf
            body = buf.rstrip(b"\n")
            cut = body.rfind(b"\n")
            if cut != -1 or pos == 0:
                last = body[cut + 1 :]
                return _line_hash(last), int(json.loads(last)["seq"]) + 1
        raise AssertionError("unreachable")

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as fh:
            return [json.loads(line) for line in fh if line.strip()]

    def verify(self) -> AuditCheck:
        """Check the chain from the first line to the last."""
        if not self.path.exists():
            return AuditCheck(False, 0, "the audit log is missing", None)
        prev = GENESIS
        count = 0
        with self.path.open("rb") as fh:
            for number, raw in enumerate(fh, start=1):
                line = raw.rstrip(b"\n")
                try:
                    record = json.loads(line)
                except ValueError:
                    return AuditCheck(False, count, "line is not valid JSON", number, prev)
                if record.get("prev") != prev:
                    return AuditCheck(False, count, "chain broken: 'prev' does not match the line before", number, prev)
                if record.get("seq") != count:
                    return AuditCheck(False, count, "sequence number out of order", number, prev)
                prev = _line_hash(line)
                count += 1
        return AuditCheck(True, count, None, None, prev)
