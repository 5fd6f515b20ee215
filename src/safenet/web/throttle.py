"""Login rate limit: after too many failed attempts for a user name or from one client, a cooling-off period.

Why both keys: a guess at many names from one client, and a guess at one name from many clients, are
both stopped. A refusal looks the same whether the name exists or not (names that do not exist are counted
exactly like those that do), so the limit cannot be used to find user names. Times come from the web
settings' clock, so tests move time forward without sleeping.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta

from safenet.web.settings import WebSettings


class LoginThrottle:
    """Counts failed logins per key within a window; a key that reaches the limit is locked for a while."""

    def __init__(self, settings: WebSettings) -> None:
        self.limit = settings.login_attempts
        self.window = settings.login_window
        self.cooloff = settings.login_cooloff
        self.clock: Callable[[], datetime] = settings.clock
        self._failures: dict[str, deque[datetime]] = {}
        self._locked: dict[str, datetime] = {}
        self._lock = threading.Lock()

    @staticmethod
    def keys(name: str, client: str | None) -> tuple[str, ...]:
        return (f"user:{name.strip().casefold()}", f"client:{client or 'unknown'}")

    def refused(self, keys: tuple[str, ...]) -> timedelta | None:
        """How long these keys stay locked (the longest), or None when an attempt may be made."""
        now = self.clock()
        with self._lock:
            self._prune(now)
            left = [until - now for key in keys if (until := self._locked.get(key)) is not None]
        return max(left) if left else None

    def failed(self, keys: tuple[str, ...]) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                times = self._failures.setdefault(key, deque())
                times.append(now)
                while times and now - times[0] >= self.window:
                    times.popleft()
                if len(times) >= self.limit:
                    self._locked[key] = now + self.cooloff
                    del self._failures[key]

    def succeeded(self, keys: tuple[str, ...]) -> None:
        """A correct password clears the name's count (the client's stays: one good account must not reset it)."""
        with self._lock:
            self._failures.pop(keys[0], None)

    def _prune(self, now: datetime) -> None:
        for key in [k for k, until in self._locked.items() if until <= now]:
            del self._locked[key]
        for key in [k for k, times in self._failures.items() if not times or now - times[-1] >= self.window]:
            del self._failures[key]
