"""Login rate limit and the aggregated audit of failed logins.

Why a name and a client are throttled separately: guessing one name from many clients, and spraying many
names from one client, must both be stopped, but neither may lock out the other. Failures for one name
(from anywhere) pause that name only, so five typos on a shared lab workstation lock out the one user who
made them, not everyone at that workstation. A client is paused only when its failures span many
*different* names within the window (spraying), so hammering one name cannot lock out a workstation.
A refusal looks the same whether the name exists or not (names that do not exist are counted exactly like
those that do), so the limit cannot be used to find user names.

Why failed logins are aggregated: each one used to add an audit line, so a flood could grow the log
without bound. Now the first failure of a name from a client within a window is written at once (an
attack is visible immediately), and the rest of that window is written as one line with a count when the
window closes (checked at every login attempt and when the server stops). The ``count`` fields of all
lines add up to the number of failed attempts.

Times come from the web settings' clock, so tests move time forward without sleeping.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from safenet.web.settings import WebSettings

#: The name recorded for attempts refused because their client is paused (the name is attacker-chosen:
#: recording each would let a paused client still grow the audit log).
ANY_NAME: Final = "*"


def _name_key(name: str) -> str:
    return name.strip().casefold()


class LoginThrottle:
    """Counts failed logins per name and distinct failed names per client; a key at its limit is paused."""

    def __init__(self, settings: WebSettings) -> None:
        self.limit = settings.login_attempts
        self.names_per_client = settings.login_names_per_client
        self.window = settings.login_window
        self.cooloff = settings.login_cooloff
        self.clock: Callable[[], datetime] = settings.clock
        self._names: dict[str, deque[datetime]] = {}  # name -> failure times
        self._clients: dict[str, dict[str, datetime]] = {}  # client -> name -> last failure
        self._locked_names: dict[str, datetime] = {}
        self._locked_clients: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def refused(self, name: str, client: str) -> tuple[timedelta, bool] | None:
        """How long logins stay paused for this name or client (the longer), and whether the client is paused;
        None when an attempt may be made."""
        now = self.clock()
        with self._lock:
            self._prune(now)
            by_name = self._locked_names.get(_name_key(name))
            by_client = self._locked_clients.get(client)
        left = [until - now for until in (by_name, by_client) if until is not None]
        return (max(left), by_client is not None) if left else None

    def failed(self, name: str, client: str) -> None:
        now = self.clock()
        key = _name_key(name)
        with self._lock:
            times = self._names.setdefault(key, deque())
            times.append(now)
            while times and now - times[0] >= self.window:
                times.popleft()
            if len(times) >= self.limit:
                self._locked_names[key] = now + self.cooloff
                del self._names[key]
            names = self._clients.setdefault(client, {})
            names[key] = now
            for old in [n for n, at in names.items() if now - at >= self.window]:
                del names[old]
            if len(names) >= self.names_per_client:
                self._locked_clients[client] = now + self.cooloff
                del self._clients[client]

    def succeeded(self, name: str) -> None:
        """A correct password clears the name's count (the client's stays: one good account must not reset it)."""
        with self._lock:
            self._names.pop(_name_key(name), None)

    def _prune(self, now: datetime) -> None:
        for locked in (self._locked_names, self._locked_clients):
            for key in [k for k, until in locked.items() if until <= now]:
                del locked[key]
        for key in [k for k, times in self._names.items() if not times or now - times[-1] >= self.window]:
            del self._names[key]
        for client in [c for c, names in self._clients.items() if all(now - t >= self.window for t in names.values())]:
            del self._clients[client]


@dataclass(slots=True)
class _Tally:
    opened: datetime  # the first failure of the window (already written)
    count: int = 0  # failures after the first, not yet written
    refused: int = 0  # of those, refused by the throttle without checking the password
    first: datetime | None = None
    last: datetime | None = None


class FailedLogins:
    """Turns failed login attempts into a bounded number of audit lines: per (name, client) and window, the
    first attempt at once and one line with the count of the others when the window closes."""

    def __init__(self, settings: WebSettings) -> None:
        self.window = settings.login_window
        self.clock: Callable[[], datetime] = settings.clock
        self._open: dict[tuple[str, str], _Tally] = {}
        self._lock = threading.Lock()

    def record(self, name: str, client: str, *, refused: bool) -> list[dict[str, Any]]:
        """Note one failed attempt; returns the audit data to append now (closed windows first)."""
        now = self.clock()
        with self._lock:
            lines = self._closed(now)
            key = (name, client)
            tally = self._open.get(key)
            if tally is None:
                self._open[key] = _Tally(now)
                lines.append(_line(name, client, 1, int(refused), now, now))
            else:
                tally.count += 1
                tally.refused += int(refused)
                tally.first = tally.first or now
                tally.last = now
        return lines

    def flush(self) -> list[dict[str, Any]]:
        """Every window still open, as lines (when the server stops)."""
        with self._lock:
            return self._closed(None)

    def _closed(self, now: datetime | None) -> list[dict[str, Any]]:
        lines: list[dict[str, Any]] = []
        for key, tally in list(self._open.items()):
            if now is None or now - tally.opened >= self.window:
                del self._open[key]
                if tally.count and tally.first is not None and tally.last is not None:
                    lines.append(_line(*key, tally.count, tally.refused, tally.first, tally.last))
        return lines


def _line(name: str, client: str, count: int, refused: int, first: datetime, last: datetime) -> dict[str, Any]:
    return {
        "user": name,
        "client": client,
        "count": count,
        "refused": refused,
        "first": first.isoformat(),
        "last": last.isoformat(),
    }
