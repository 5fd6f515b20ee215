"""Settings of one running review server, and the per-user display preferences.

Why a frozen dataclass with an injectable clock: tests move time forward (break reminder, reveal expiry,
session expiry) without sleeping, and nothing reads module-global configuration.

Why preferences are kept in the case folder (``review-preferences.json``, owner-only) and not in the user
store: the review server writes only inside the case it serves, which is already owner-only and travels
with the examiner; the user store is managed on the machine by ``safenet users`` and no web route ever
writes to it (a compromised session must not be able to change anything about users). The price is that
a preference set in one case is not carried to the next; the defaults are the welfare-safe ones.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from safenet.analysis.thumbs import BLUR_LEVELS, DEFAULT_BLUR, DEFAULT_THUMB_SIZE, THUMB_SIZES
from safenet.evidence.model import OpenContext

__all__ = [
    "BLUR_LEVELS",
    "DEFAULT_BLUR",
    "DEFAULT_THUMB_SIZE",
    "THUMB_SIZES",
    "PreferenceStore",
    "Preferences",
    "WebSettings",
]

PREFERENCES_FILE: Final = "review-preferences.json"


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class WebSettings:
    """How the review server behaves; every field has a safe default."""

    #: Key for signing; random per process unless configured (sessions then do not survive a restart).
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    #: A logged-in session ends after this long without a request.
    session_idle: timedelta = timedelta(minutes=30)
    #: How long a revealed item's clear picture may be fetched by the user who revealed it.
    reveal_for: timedelta = timedelta(seconds=60)
    #: A break reminder shows after this long of reviewing (docs/domain.md, examiner welfare: every hour).
    break_after: timedelta = timedelta(minutes=60)
    #: Largest side of a revealed picture as served (it is re-encoded, never the evidence file itself).
    clear_max_side: int = 1024
    #: Largest side of the first reveal step, "large-blurred" (bigger than a thumbnail, still blurred, grey).
    large_blurred_side: int = 512
    #: Largest evidence file read into memory for a thumbnail or a reveal.
    max_read_bytes: int = 256 << 20
    #: Items shown on one grid page.
    page_size: int = 200
    #: Credentials for reopening encrypted sources (backups, volumes) to show their pictures; never recorded.
    evidence_context: OpenContext = field(default_factory=OpenContext, repr=False)
    #: Set the cookie's Secure flag (when served behind TLS: ``safenet review --public-url https://...``).
    secure_cookies: bool = False
    #: Host headers accepted (others get HTTP 400); None accepts any (tests, embedding).
    allowed_hosts: tuple[str, ...] | None = None
    #: Addresses of reverse proxies whose X-Forwarded-For names the client; from anyone else it is ignored.
    trusted_proxies: tuple[str, ...] = ()
    #: Failed logins for one user name (from any client) within ``login_window`` before it is paused.
    login_attempts: int = 5
    #: Different names failing from one client within ``login_window`` before the client is paused.
    login_names_per_client: int = 10
    login_window: timedelta = timedelta(minutes=15)
    #: How long further logins are refused once the limit is reached (HTTP 429).
    login_cooloff: timedelta = timedelta(minutes=15)
    clock: Callable[[], datetime] = _utc_now


@dataclass(slots=True)
class Preferences:
    """One user's thumbnail size and blur level (kept per user name in the case folder)."""

    size: int = DEFAULT_THUMB_SIZE
    blur: int = DEFAULT_BLUR

    @classmethod
    def parse(cls, size: int, blur: int) -> Preferences:
        if size not in THUMB_SIZES:
            raise ValueError(f"thumbnail size must be one of {THUMB_SIZES}")
        if blur not in BLUR_LEVELS:
            raise ValueError(f"blur level must be one of {sorted(BLUR_LEVELS)}")
        return cls(size, blur)


class PreferenceStore:
    """Preferences per user name, read from and saved to one JSON file (owner-only, written atomically).

    A missing, damaged or hand-edited file never stops the server: unreadable entries fall back to the
    defaults, and a failed save keeps the preference for the life of the server.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._prefs: dict[str, Preferences] = {}
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                self._prefs = {str(name): _parsed(value) for name, value in data.items()}

    def get(self, name: str) -> Preferences:
        with self._lock:
            return self._prefs.get(name) or Preferences()

    def __setitem__(self, name: str, prefs: Preferences) -> None:
        with self._lock:
            self._prefs[name] = prefs
            text = json.dumps({n: asdict(p) for n, p in sorted(self._prefs.items())}, indent=1)
            with contextlib.suppress(OSError):
                handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".prefs-", suffix=".tmp")  # 0600
                try:
                    with os.fdopen(handle, "w", encoding="utf-8") as out:
                        out.write(text)
                    os.replace(temporary, self.path)
                except BaseException:
                    Path(temporary).unlink(missing_ok=True)
                    raise


def _parsed(value: Any) -> Preferences:
    """One stored entry, validated as a form is; anything else is the defaults."""
    try:
        return Preferences.parse(int(value["size"]), int(value["blur"]))
    except (KeyError, TypeError, ValueError):
        return Preferences()
